"""One flush of an :class:`~event_pipeline_runtime.producer.EventProducer`: the per-key queues, the
request loop, retries and their classification, and what a flush reports (:class:`PutResult`, or an
:class:`UndeliveredRecordsError` carrying every record not delivered).

The delivery guarantee this implements is described in :mod:`event_pipeline_runtime.producer`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from event_pipeline_runtime.aggregation import aggregate_records, aggregated_size, user_record_size

__all__ = [
    "RETRYABLE_CALL_ERRORS",
    "DeliveryRejectedError",
    "PutResult",
    "RetriesExhaustedError",
    "UndeliveredRecordsError",
]

RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "InternalFailure",
        "InternalFailureException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "LimitExceededException",
        "KMSThrottlingException",
    }
)
"""Error codes of a whole failed PutRecords call that are worth another attempt (botocore's
``standard`` mode throttling and transient codes, plus Kinesis' own)."""

_RETRYABLE_STATUS_CODES = frozenset({500, 502, 503, 504})


class UndeliveredRecordsError(Exception):
    """Some records were not delivered when the producer gave up.

    Raised as one of its two subclasses: :class:`RetriesExhaustedError` (retryable errors,
    attempts used up) or :class:`DeliveryRejectedError` (a non-retryable error). Catch this
    class to handle both.

    Attributes:
        records: Every undelivered record as ``(partition_key, data)``, in the order added
            (for each key: the record that failed and all later records held back behind it).
        error_codes: The last error code seen per undelivered partition key (an AWS error code,
            or a botocore exception name such as ``ConnectTimeoutError``; ``NotAttempted`` for
            records never sent).
        delivered: How many records were delivered by the same flush.
        retryable: True when every failure was retryable and only the attempts ran out (the
            same records may well go through later).
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        records: list[tuple[str, bytes]],
        error_codes: dict[str, str],
        delivered: int,
    ) -> None:
        self.records = records
        self.error_codes = error_codes
        self.delivered = delivered
        super().__init__(message)


class RetriesExhaustedError(UndeliveredRecordsError):
    """Records ran out of attempts on retryable errors (throttling, connection errors,
    internal errors): the stream is busy or unreachable. An API answers 503 for this."""

    retryable = True


class DeliveryRejectedError(UndeliveredRecordsError):
    """A ``PutRecords`` call failed with a non-retryable error (stream not found, access
    denied, validation, an unexpected exception): the producer stopped at once."""

    retryable = False

@dataclass(frozen=True, slots=True)
class PutResult:
    """What a flush did.

    Attributes:
        records: User records delivered.
        api_calls: ``PutRecords`` calls made.
        retried: Entries sent again after a failure.
        kinesis_records: Kinesis records written (fewer than ``records`` when aggregating).
    """

    records: int
    api_calls: int
    retried: int
    kinesis_records: int = 0

@dataclass(slots=True)
class _Record:
    index: int
    partition_key: str
    data: bytes


@dataclass(slots=True)
class _Entry:
    """One PutRecords entry: a record, or a KPL aggregate of consecutive records of one key."""

    partition_key: str
    data: bytes
    size: int
    records: list[_Record]
    attempts: int = 0
    last_error: str = field(default="")

class ProducerSettings(Protocol):
    """What one flush reads from its producer (an ``EventProducer``; a protocol here, so this module
    does not import the producer that imports it)."""

    @property
    def client(self) -> Any: ...  # noqa: ANN401 (a boto3 Kinesis client)

    stream_name: str
    aggregate: bool
    max_record_bytes: int
    max_records_per_request: int
    max_request_bytes: int
    max_attempts: int
    base_delay: float
    max_delay: float
    _stream_param: dict[str, str]
    _sleep: Callable[[float], None]
    _random: Callable[[], float]


class _Delivery:
    """One flush: the per-key queues, the request loop, retries and bookkeeping."""

    def __init__(self, producer: ProducerSettings, records: list[_Record]) -> None:
        self.p = producer
        self.queues: dict[str, deque[_Record]] = {}
        for record in records:
            queue = self.queues.get(record.partition_key)
            if queue is None:
                queue = self.queues[record.partition_key] = deque()
            queue.append(record)
        # Heap of (index of the entry's first record, tiebreak, entry): the oldest pending entry
        # of every key that has nothing in flight. A key is in the heap at most once.
        self.heap: list[tuple[int, int, _Entry]] = []
        for key in self.queues:
            self._push_next(key)
        self.delivered = 0
        self.kinesis_records = 0
        self.api_calls = 0
        self.retried = 0
        self.dead: list[_Entry] = []

    def _push_next(self, key: str) -> None:
        queue = self.queues[key]
        if not queue:
            del self.queues[key]
            return
        entry = self._make_entry(key, queue)
        heapq.heappush(self.heap, (entry.records[0].index, id(entry), entry))

    def _make_entry(self, key: str, queue: deque[_Record]) -> _Entry:
        first = queue.popleft()
        key_bytes = len(key.encode("utf-8"))
        if not self.p.aggregate or not queue:
            return _Entry(key, first.data, len(first.data) + key_bytes, [first])
        taken = [first]
        pairs = [(key, first.data)]
        size = aggregated_size(pairs) + key_bytes
        limit = self.p.max_record_bytes
        while queue:
            candidate = queue[0]
            grown = size + _aggregate_growth(candidate.data)
            if grown > limit:
                break
            taken.append(queue.popleft())
            pairs.append((key, candidate.data))
            size = grown
        if len(taken) == 1:
            return _Entry(key, first.data, len(first.data) + key_bytes, taken)
        data = aggregate_records(pairs)
        return _Entry(key, data, len(data) + key_bytes, taken)

    def run(self) -> PutResult:
        p = self.p
        while self.heap:
            batch = self._next_request()
            failed = self._send(batch)
            if failed:
                attempts = max(entry.attempts for entry in failed)
                delay = min(p.max_delay, p.base_delay * (2 ** (attempts - 1)))
                if delay > 0:
                    p._sleep(p._random() * delay)
        if self.dead:
            self._raise_undelivered()
        return PutResult(self.delivered, self.api_calls, self.retried, self.kinesis_records)

    def _next_request(self) -> list[_Entry]:
        p = self.p
        batch: list[_Entry] = []
        size = 0
        while self.heap and len(batch) < p.max_records_per_request:
            entry = self.heap[0][2]
            if size + entry.size > p.max_request_bytes:
                break
            heapq.heappop(self.heap)
            batch.append(entry)
            size += entry.size
        return batch

    def _send(self, batch: list[_Entry]) -> list[_Entry]:
        """Send one request; requeue what failed; return the entries that will be retried."""
        p = self.p
        for entry in batch:
            if entry.attempts:
                self.retried += 1
        self.api_calls += 1
        try:
            response = p.client.put_records(
                Records=[{"Data": e.data, "PartitionKey": e.partition_key} for e in batch],
                **p._stream_param,
            )
        except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
            code = _call_error_code(exc)
            if code is None:
                self._abort(batch, exc)
            results = [{"ErrorCode": code, "ErrorMessage": str(exc)}] * len(batch)
        else:
            results = response.get("Records") or []
            if len(results) != len(batch):
                # Which entries were written is unknown: report them all undelivered (at-least-once).
                self._abort(batch, RuntimeError(f"PutRecords answered {len(results)} results for {len(batch)} records"))
            if not response.get("FailedRecordCount"):
                for entry in batch:
                    self._delivered(entry)
                return []
        retry: list[_Entry] = []
        for entry, result in zip(batch, results, strict=True):
            error = result.get("ErrorCode")
            if not error:
                self._delivered(entry)
                continue
            entry.attempts += 1
            entry.last_error = error
            if entry.attempts >= p.max_attempts:
                self.dead.append(entry)  # its key's later records stay queued: undelivered
            else:
                heapq.heappush(self.heap, (entry.records[0].index, id(entry), entry))
                retry.append(entry)
        return retry

    def _delivered(self, entry: _Entry) -> None:
        self.delivered += len(entry.records)
        self.kinesis_records += 1
        self._push_next(entry.partition_key)

    def _undelivered(self, extra: list[_Entry]) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
        """Collect every record not delivered: dead, in flight (``extra``), queued or held back."""
        entries = [*self.dead, *extra, *(item[2] for item in self.heap)]
        codes = {e.partition_key: e.last_error or "NotAttempted" for e in entries}
        records = [r for e in entries for r in e.records]
        for key, queue in self.queues.items():
            records.extend(queue)
            codes.setdefault(key, "NotAttempted")
        records.sort(key=lambda r: r.index)
        return [(r.partition_key, r.data) for r in records], codes

    def _raise_undelivered(self) -> None:
        records, codes = self._undelivered([])
        raise RetriesExhaustedError(
            f"{len(records)} record(s) of {len(codes)} partition key(s) not delivered to "
            f"{self.p.stream_name} after {self.p.max_attempts} attempt(s) "
            f"({self.delivered} delivered); last errors: {_summarise(codes)}",
            records,
            codes,
            self.delivered,
        )

    def _abort(self, batch: list[_Entry], exc: Exception) -> None:
        for entry in batch:
            entry.last_error = type(exc).__name__
        records, codes = self._undelivered(batch)
        for entry in batch:
            codes[entry.partition_key] = _client_error_code(exc) or type(exc).__name__
        raise DeliveryRejectedError(
            f"PutRecords to {self.p.stream_name} failed with a non-retryable error ({exc}); "
            f"{len(records)} record(s) not delivered ({self.delivered} delivered)",
            records,
            codes,
            self.delivered,
        ) from exc

def _aggregate_growth(data: bytes) -> int:
    """Bytes one more record of the (already tabled, index 0) key adds to an aggregate."""
    return user_record_size(0, len(data))


def _client_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return None


def _call_error_code(exc: Exception) -> str | None:
    """Return an error code when a failed call is worth retrying, else None."""
    code = _client_error_code(exc)
    if code is not None:
        if code in RETRYABLE_CALL_ERRORS:
            return code
        metadata = getattr(exc, "response", {}).get("ResponseMetadata") or {}
        return code if metadata.get("HTTPStatusCode") in _RETRYABLE_STATUS_CODES else None
    try:
        from botocore.exceptions import ConnectionError as BotocoreConnectionError  # noqa: PLC0415
        from botocore.exceptions import HTTPClientError  # noqa: PLC0415
    except ImportError:  # pragma: no cover - botocore is always there with a client
        return None
    # ConnectTimeoutError, EndpointConnectionError, ProxyConnectionError, SSLError are
    # ConnectionErrors; ReadTimeoutError, ConnectionClosedError are HTTPClientErrors.
    if isinstance(exc, (BotocoreConnectionError, HTTPClientError)):
        return type(exc).__name__
    return None


def _summarise(codes: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for code in codes.values():
        counts[code] = counts.get(code, 0) + 1
    return ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))
