"""A Kinesis producer that never drops a record and never reorders a partition key.

:class:`EventProducer` buffers records and :meth:`EventProducer.flush` sends them with
``PutRecords``; :func:`put_events` does both for an iterable.

Limits (Kinesis Data Streams API reference and quotas, checked 2026-11):

* at most 500 records per ``PutRecords`` request (``max_records_per_request``);
* each record's data + partition key (UTF-8 bytes) within the stream's maximum record size:
  1 MiB by default, configurable per stream up to 10 MiB (``max_record_bytes``, default env
  ``EVENT_PIPELINE_MAX_RECORD_BYTES``, which ``EventStream(max_record_size=...)`` sets on the
  functions connected with ``connect_producer``);
* the whole request, data + partition keys, within ``max_request_bytes``: 5 MiB by default
  (the long-standing limit, safe for every stream); the current API reference allows 10 MiB
  for the request, so it may be raised to 10 MiB;
* partition keys of 1-256 Unicode characters.

A record that breaks a limit raises (:class:`RecordTooLargeError`, or ``ValueError`` for a bad
partition key) when it is added, naming the record: before any call is made.

Delivery guarantee:

* **Nothing is dropped silently.** Only the entries that failed (per-entry ``ErrorCode``,
  e.g. ``ProvisionedThroughputExceededException`` or ``InternalFailure``) are sent again, after
  an exponential backoff with full jitter (``sleep(random() * min(max_delay, base_delay *
  2 ** (attempt - 1)))``; ``sleep`` and ``random`` are injectable). A record is tried at most
  ``max_attempts`` times; when a record runs out of attempts, :meth:`flush` keeps delivering
  the other partition keys and then raises :class:`UndeliveredRecordsError`, which carries
  every record not delivered (the failed ones and everything held back behind them). A
  ``PutRecords`` call that fails as a whole with a retryable error counts as a failed attempt
  for all of its entries (after botocore's own retries). Retryable, as botocore's ``standard``
  retry mode classifies them (``botocore/retries/standard.py``; "Retry behavior" in the AWS
  SDKs and Tools Reference Guide): every ``botocore.exceptions.ConnectionError`` and
  ``HTTPClientError`` (``ConnectTimeoutError``, ``EndpointConnectionError``,
  ``ReadTimeoutError``, ``ConnectionClosedError``, ...), throttling and transient error codes
  (:data:`RETRYABLE_CALL_ERRORS`) and HTTP 500/502/503/504 answers. Any other error (stream
  not found, access denied, validation) stops at once.
* **Two ways to give up, two exceptions**, both :class:`UndeliveredRecordsError` carrying every
  undelivered record: :class:`RetriesExhaustedError` when records ran out of attempts on
  retryable errors (the stream is throttled or unreachable: a caller may answer "503, retry
  later"), and :class:`DeliveryRejectedError` when a call failed with a non-retryable error
  (a configuration or permission problem: retrying will not help). ``error.retryable`` tells
  them apart too.
* **Per-partition-key order.** A ``PutRecords`` request carries at most one entry per
  partition key, and a key's next entry is only sent after its previous one was acknowledged.
  So records of one key are written to the stream in exactly the order they were added, even
  across retries, whatever the service does inside a request (it may accept a later entry
  of a shard after rejecting an earlier one). Records of *different* keys may be reordered.
  Keys with failed entries do not slow down other keys: every request is filled with the
  oldest pending entry of as many keys as fit.
* **Throughput.** One entry per key per request costs nothing when the batch has at least
  500 distinct keys. With few hot keys use ``aggregate=True``: each entry is then a KPL
  aggregated record holding as many consecutive records of its key as fit in
  ``max_record_bytes``, so a key's records still go atomically and in order.
* **At-least-once.** A request whose response is lost (timeout) may have been written; it is
  retried, so a record can appear twice in the stream. Consumers de-duplicate with the
  envelope ``id`` (see :func:`event_pipeline_runtime.pipeline_handler`'s idempotency).

**Hop count.** Inside a :func:`~event_pipeline_runtime.pipeline_handler` invocation, every
envelope the producer writes (:meth:`EventProducer.put_event`, or an envelope ``dict`` given to
:meth:`EventProducer.put`) carries ``hops`` = the processed record's hops + 1, the recursion
guard of :mod:`event_pipeline_runtime.hops`; outside one, envelopes are written as given.

An :class:`EventProducer` is not thread-safe: use one per thread. Its boto3 client is made again
after a Lambda SnapStart restore (see :mod:`event_pipeline_runtime.snapstart`).

Where the parts live: this module is the put API (validation and encoding of each record as it
is added); one flush (per-key queues, the request loop, retries, what a flush reports) is
:mod:`event_pipeline_runtime.delivery`; the limits and environment-variable names are
:mod:`event_pipeline_runtime.contract`. Every name is importable from here too.
"""

from __future__ import annotations

import gzip
import os
import random
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from event_pipeline_runtime.codec import GZIP_MAGIC, encode_payload
from event_pipeline_runtime.contract import (
    AGGREGATE_ENV,
    COMPRESS_ENV,
    MAX_PARTITION_KEY_CHARS,
    MAX_RECORD_BYTES,
    MAX_RECORD_BYTES_ENV,
    MAX_RECORD_BYTES_LIMIT,
    MAX_RECORDS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_BYTES_LIMIT,
    STREAM_NAME_ENV,
)
from event_pipeline_runtime.delivery import (
    RETRYABLE_CALL_ERRORS,
    DeliveryRejectedError,
    PutResult,
    RetriesExhaustedError,
    UndeliveredRecordsError,
    _Delivery,
    _Record,
)
from event_pipeline_runtime.envelope import make_envelope, parse_envelope
from event_pipeline_runtime.hops import next_hops

__all__ = [
    "AGGREGATE_ENV",
    "COMPRESS_ENV",
    "DEFAULT_BASE_DELAY_SECONDS",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_DELAY_SECONDS",
    "MAX_PARTITION_KEY_CHARS",
    "MAX_RECORDS_PER_REQUEST",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_BYTES_ENV",
    "MAX_RECORD_BYTES_LIMIT",
    "MAX_REQUEST_BYTES",
    "MAX_REQUEST_BYTES_LIMIT",
    "RETRYABLE_CALL_ERRORS",
    "DeliveryRejectedError",
    "EventProducer",
    "PutResult",
    "RecordTooLargeError",
    "RetriesExhaustedError",
    "UndeliveredRecordsError",
    "put_events",
]

DEFAULT_MAX_ATTEMPTS = 15
"""Tries per record, the first included. At a sustained 30% per-entry failure rate a record is
undelivered with probability 0.3**15 ~ 1.4e-8; worst-case backoff total ~19 s (full jitter halves it on average)."""
DEFAULT_BASE_DELAY_SECONDS = 0.05
DEFAULT_MAX_DELAY_SECONDS = 2.0

#: Every producer that made its own client, to make it again after a SnapStart restore.
_OWN_CLIENT_PRODUCERS: weakref.WeakSet[Any] = weakref.WeakSet()  # EventProducers and QueueProducers


def own_client(producer: Any, service: str) -> Any:
    """A boto3 client for ``service`` that ``producer`` makes itself: botocore's standard retry mode,
    registered so that it is made again after a SnapStart restore (an injected client is kept).
    boto3 is imported here, lazily: consumers that never produce skip it."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    client = boto3.client(service, config=Config(retries={"mode": "standard"}))
    _OWN_CLIENT_PRODUCERS.add(producer)
    return client


class RecordTooLargeError(ValueError):
    """A record is larger than the stream accepts (data + partition key).

    Attributes:
        index: Position of the record among those added since the last flush (for
            :func:`put_events`, its position in the iterable).
        partition_key: The record's partition key.
        size: Data + partition key, in bytes.
        limit: The maximum record size in force.
    """

    def __init__(self, index: int, partition_key: str, size: int, limit: int) -> None:
        self.index = index
        self.partition_key = partition_key
        self.size = size
        self.limit = limit
        super().__init__(
            f"record {index} (partition key {partition_key!r}) is {size} bytes (data + partition key), "
            f"over the maximum record size of {limit} bytes; nothing was sent"
        )

def _env_flag(name: str) -> bool:
    """Read a ``"true"``/``"false"`` environment variable (unset or empty: False)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return False
    normalized = value.strip().lower()
    if normalized == "true":
        return True
    if normalized == "false":
        return False
    raise ValueError(f"environment variable {name} must be 'true' or 'false' (given {value!r:.40})")


def _env_int(name: str, low: int, high: int) -> int | None:
    """Read a decimal integer environment variable in ``[low, high]`` (unset or empty: None)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"environment variable {name} must be an integer from {low} to {high} (given {value!r:.40})")
    return int(text)


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high} inclusive (given {value!r})")


class EventProducer:
    """Buffer records and deliver them to a Kinesis stream (see the module docstring).

    Args:
        stream_name: Stream name or ARN. Default: env ``STREAM_NAME``.
        client: A boto3 Kinesis client. Default: a new one with botocore's ``standard``
            retry mode.
        compress: Gzip each payload. Default: env ``EVENT_PIPELINE_COMPRESS`` (``"true"`` or
            ``"false"``), else False.
        aggregate: KPL-aggregate consecutive records of one partition key. Default: env
            ``EVENT_PIPELINE_AGGREGATE`` (``"true"`` or ``"false"``), else False.
        max_attempts: Tries per record, first included; at least 1. Default: 15.
        max_record_bytes: Maximum record size (data + partition key), 1 byte to 10 MiB; set it
            to the stream's configured maximum. Default: env ``EVENT_PIPELINE_MAX_RECORD_BYTES``
            (bytes), else 1 MiB.
        max_request_bytes: Request budget (data + partition keys), at least
            ``max_record_bytes``, at most 10 MiB. Default: 5 MiB, or ``max_record_bytes`` when
            that is larger.
        max_records_per_request: 1-500. Default: 500.
        base_delay: Backoff base in seconds. Default: 0.05.
        max_delay: Backoff cap in seconds. Default: 2.0.
        sleep: Called with the backoff delay. Default: ``time.sleep``.
        random: Returns a float in [0, 1) for the jitter. Default: ``random.random``.

    Raises:
        ValueError: When no stream is given (argument or ``STREAM_NAME``), a limit is out of
            range, ``EVENT_PIPELINE_COMPRESS`` / ``EVENT_PIPELINE_AGGREGATE`` is neither
            ``"true"`` nor ``"false"``, or ``EVENT_PIPELINE_MAX_RECORD_BYTES`` is not an integer
            from 1 to 10 MiB (each only when the argument is not given).
    """

    def __init__(
        self,
        stream_name: str | None = None,
        *,
        client: Any = None,
        compress: bool | None = None,
        aggregate: bool | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_record_bytes: int | None = None,
        max_request_bytes: int | None = None,
        max_records_per_request: int = MAX_RECORDS_PER_REQUEST,
        base_delay: float = DEFAULT_BASE_DELAY_SECONDS,
        max_delay: float = DEFAULT_MAX_DELAY_SECONDS,
        sleep: Callable[[float], Any] = time.sleep,
        random: Callable[[], float] = random.random,  # noqa: A002 - mirrors the stdlib name
    ) -> None:
        stream = stream_name if stream_name is not None else os.environ.get(STREAM_NAME_ENV)
        if not stream:
            raise ValueError("stream_name is required (argument or environment variable STREAM_NAME)")
        _check_range("max_attempts", max_attempts, 1, 1000)
        if max_record_bytes is None:
            from_env = _env_int(MAX_RECORD_BYTES_ENV, 1, MAX_RECORD_BYTES_LIMIT)
            max_record_bytes = from_env if from_env is not None else MAX_RECORD_BYTES
        _check_range("max_record_bytes", max_record_bytes, 1, MAX_RECORD_BYTES_LIMIT)
        if max_request_bytes is None:
            max_request_bytes = max(MAX_REQUEST_BYTES, max_record_bytes)
        _check_range("max_request_bytes", max_request_bytes, max_record_bytes, MAX_REQUEST_BYTES_LIMIT)
        _check_range("max_records_per_request", max_records_per_request, 1, MAX_RECORDS_PER_REQUEST)
        if base_delay < 0 or max_delay < 0:
            raise ValueError(f"base_delay and max_delay must be >= 0 (given {base_delay}, {max_delay})")
        self.stream_name = stream
        self._stream_param = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        self._client = client
        self.compress = compress if compress is not None else _env_flag(COMPRESS_ENV)
        self.aggregate = aggregate if aggregate is not None else _env_flag(AGGREGATE_ENV)
        self.max_attempts = max_attempts
        self.max_record_bytes = max_record_bytes
        self.max_request_bytes = max_request_bytes
        self.max_records_per_request = max_records_per_request
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._random = random
        self._buffer: list[_Record] = []

    # --- public API --------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 Kinesis client (created on first use)."""
        if self._client is None:
            self._client = own_client(self, "kinesis")
        return self._client

    def _drop_own_client(self) -> None:
        """Forget a client this producer made itself (after a SnapStart restore its connections and
        credentials belong to the snapshot); the next call makes a new one. An injected client is kept."""
        self._client = None

    @property
    def pending(self) -> int:
        """Records buffered and not yet flushed."""
        return len(self._buffer)

    def put(self, data: Any, partition_key: str) -> None:
        """Buffer one record.

        Args:
            data: ``bytes`` are sent as given (gzip-compressed when ``compress`` and not already
                gzip); anything else is JSON-encoded with :func:`encode_payload`.
            partition_key: 1-256 Unicode characters.

        Raises:
            ValueError: When the partition key is not a 1-256 character string.
            RecordTooLargeError: When data + partition key exceed ``max_record_bytes``.
            TypeError: When ``data`` is not JSON-serialisable.
        """
        index = len(self._buffer)
        if not isinstance(partition_key, str) or not 1 <= len(partition_key) <= MAX_PARTITION_KEY_CHARS:
            raise ValueError(
                f"record {index}: partition key must be a string of 1 to {MAX_PARTITION_KEY_CHARS} "
                f"characters (given {partition_key!r:.80})"
            )
        if type(data) is dict:
            data = _with_hops(data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
            if self.compress and payload[:2] != GZIP_MAGIC:
                payload = gzip.compress(payload, compresslevel=6, mtime=0)
        else:
            payload = encode_payload(data, compress=self.compress)
        size = len(payload) + len(partition_key.encode("utf-8"))
        if size > self.max_record_bytes:
            raise RecordTooLargeError(index, partition_key, size, self.max_record_bytes)
        self._buffer.append(_Record(index, partition_key, payload))

    def put_event(
        self,
        type: str,  # noqa: A002 - the envelope field is called "type"
        data: Any,
        *,
        partition_key: str,
        id: str | None = None,  # noqa: A002 - the envelope field is called "id"
        version: int | None = None,
    ) -> dict[str, Any]:
        """Wrap ``data`` in an envelope and buffer it.

        Args:
            type: Event type.
            data: Payload.
            partition_key: 1-256 Unicode characters.
            id: Event id. Default: a new uuid4 hex.
            version: Envelope version. Default: ``ENVELOPE_VERSION``.

        Returns:
            The envelope that was buffered.
        """
        hops = next_hops()
        if version is None:
            envelope = make_envelope(type, data, id=id, hops=hops)
        else:
            envelope = make_envelope(type, data, id=id, version=version, hops=hops)
        self.put(envelope, partition_key)
        return envelope

    def flush(self) -> PutResult:
        """Send everything buffered.

        Returns:
            What was sent.

        Raises:
            RetriesExhaustedError: When records ran out of attempts on retryable errors.
            DeliveryRejectedError: When a call failed with a non-retryable error. Both are
                :class:`UndeliveredRecordsError`; the buffer is empty afterwards (the error
                carries the records).
        """
        records, self._buffer = self._buffer, []
        if not records:
            return PutResult(0, 0, 0, 0)
        return _Delivery(self, records).run()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.flush()


def _with_hops(data: dict[str, Any]) -> dict[str, Any]:
    """An envelope ``dict`` with the hop count of this moment (a copy when it changes); any other
    dict as it is. Inside a consumer invocation the count is at least the processed record's + 1,
    so forwarding a consumed envelope unchanged still counts a hop."""
    hops = next_hops()
    if not hops:
        return data
    envelope = parse_envelope(data)
    if envelope is None or envelope.hops >= hops:
        return data
    return {**data, "hops": hops}


def refresh_after_restore() -> None:
    """Make every producer create a new boto3 client on its next call (a SnapStart restore hook)."""
    for producer in list(_OWN_CLIENT_PRODUCERS):
        producer._drop_own_client()
    _OWN_CLIENT_PRODUCERS.clear()

def put_events(
    stream_name: str | None,
    records: Iterable[tuple[str, Any]],
    **producer_kwargs: Any,
) -> PutResult:
    """Deliver ``(partition_key, data)`` pairs to a stream, in order per key.

    Every record is validated before the first call.

    Args:
        stream_name: Stream name or ARN; ``None`` reads env ``STREAM_NAME``.
        records: ``(partition_key, data)`` pairs; ``data`` as for :meth:`EventProducer.put`.
        **producer_kwargs: Passed to :class:`EventProducer`.

    Returns:
        What was sent.

    Raises:
        RecordTooLargeError: A record is too large (nothing sent).
        ValueError: A bad partition key or producer argument (nothing sent).
        RetriesExhaustedError: Records ran out of attempts on retryable errors.
        DeliveryRejectedError: A call failed with a non-retryable error.
    """
    producer = EventProducer(stream_name, **producer_kwargs)
    for partition_key, data in records:
        producer.put(data, partition_key)
    return producer.flush()
