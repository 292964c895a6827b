"""A Kinesis / DynamoDB Streams event source mapping, run locally with Lambda's semantics.

The poller is independent of how records are read (a :class:`ShardReader`) and of what the
function is (a :class:`~.invoke.LocalFunctionLike`), so it is tested with plain callables.
Semantics (AWS Lambda Developer Guide, "Using Lambda with Kinesis" / "... DynamoDB", "Lambda
event filtering", "Implementing stateful ... processing", and the mapping's parameters):

* **Independent lanes, each with its own time.** Every shard, and with ``ParallelizationFactor``
  N every one of the N key groups of a shard, is a *lane* with its own checkpoint and its own
  clock: its retries' backoff, its batching window and its invocations' durations pass on
  that lane's clock only, so one consumer (or shard) backing off never ages another's
  records. A lane's clock starts when the mapping starts, moves to a record's arrival when it
  reads one that arrived later (it was idle until then), and moves forward by what the lane
  itself does. Waits cost no real time.
* **Ordering.** One batch in flight per lane; records are split into lanes by partition-key
  hash, so order holds per partition key.
* **Batching.** Up to ``BatchSize`` records, fewer when the event would exceed the 6 MB
  synchronous invocation payload limit ("Lambda passes all of the records in the batch to the
  function in a single call, as long as the total size of the events doesn't exceed the payload
  limit for synchronous invocation (6 MB)"; the limit is 6,291,456 bytes, Lambda's
  ``Request must be smaller than 6291456 bytes``). With ``MaximumBatchingWindowInSeconds`` a
  short batch waits for the window on the lane's clock.
* **Filtering** (``FilterCriteria``, :mod:`.filters`): each record is matched on its own;
  records that match no pattern are dropped (checkpointed past) and do not end a batch.
* **Starting position.** ``TRIM_HORIZON``: the shard from its start. ``LATEST``: records after
  the last one present when the mapping starts. ``AT_TIMESTAMP``: from the first record that
  arrived at or after ``StartingPositionTimestamp``, including records that arrive after the
  mapping started.
* **Record age** (``MaximumRecordAgeInSeconds``) is checked before *every* invocation (first
  attempt, retry, bisected half): records older than the limit on the lane's clock are not
  sent; they are discarded with condition ``RecordAgeExceeded``.
* **Function errors.** The batch is retried (``MaximumRetryAttempts``, -1 = until the record
  expires) with backoff; with ``BisectBatchOnFunctionError`` a failed batch of more than one
  record is split in two first ("Splitting a batch does not count towards the retry quota").
* **Partial batch responses** (``ReportBatchItemFailures``): the checkpoint moves to just
  before the lowest failed sequence number; the rest is retried (bisected when bisect is on).
* **Discarded batches** go to ``DestinationConfig.OnFailure`` (see :mod:`.destinations`);
  without a destination they are dropped, and an event says so.
* **Tumbling windows** (``TumblingWindowInSeconds``): windows are aligned intervals of the
  records' arrival times; a batch holds records of one window; the event carries ``window``,
  ``state``, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow`` and
  ``isWindowTerminatedEarly``; the response's ``state`` is passed to the next invocation of the
  window (a response without ``state`` is a failed invocation); when the window ends (the next
  record belongs to a later window, or the lane's clock reaches the window's end) the function
  is invoked once more with no records, the final state and ``isFinalInvokeForWindow: true``,
  retried until it succeeds; a state over 1 MB ends the window early
  (``isWindowTerminatedEarly: true`` on that final invocation, the window then continues with a
  fresh state). Retries, record age, bisect and partial responses apply as without windows.

Moto's sequence numbers are small integers that repeat across shards: they are compared as
integers, and only within a shard.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ..tools.records import SourceRecord, dynamodb_event_record, kinesis_event_record
from .destinations import (
    RECORD_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    Destination,
    invocation_record,
)
from .events import EventLog
from .filters import EventFilter
from .invoke import LocalFunctionLike, Outcome, read_response, run

#: Retry backoff (seconds, on the lane's clock): doubles per attempt, capped. Lambda documents
#: "exponential backoff" without the numbers.
RETRY_BACKOFF_BASE_SECONDS = 1.0
RETRY_BACKOFF_MAX_SECONDS = 60.0
#: Records read per GetRecords call (the Kinesis API maximum).
READ_LIMIT = 10000
#: Lambda's synchronous invocation payload limit (bytes).
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
#: A tumbling window's state limit per shard (bytes): "Your state can be a maximum of 1 MB per shard".
WINDOW_STATE_LIMIT_BYTES = 1024 * 1024


class ShardReader(Protocol):
    """Reads one stream's shards."""

    kind: Literal["kinesis", "dynamodb"]
    stream_arn: str

    def shard_ids(self) -> list[str]:
        """The stream's shards, parents before children."""
        ...

    def read_after(self, shard_id: str, after: int | None, limit: int) -> list[SourceRecord]:
        """Records with a sequence number greater than ``after`` (all when None), in order."""
        ...


@dataclass
class KinesisReader:
    """:class:`ShardReader` over Kinesis (moto-aware: positions are sequence numbers)."""

    client: Any
    stream_name: str
    stream_arn: str
    kind: Literal["kinesis", "dynamodb"] = "kinesis"

    def shard_ids(self) -> list[str]:
        """ListShards, all pages."""
        shards: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            page = self.client.list_shards(**kwargs)
            shards += [s["ShardId"] for s in page.get("Shards", [])]
            token = page.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}

    def read_after(self, shard_id: str, after: int | None, limit: int) -> list[SourceRecord]:
        """One GetRecords call from an AFTER_SEQUENCE_NUMBER (or TRIM_HORIZON) iterator."""
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=str(after))
        iterator = self.client.get_shard_iterator(**kwargs)["ShardIterator"]
        page = self.client.get_records(ShardIterator=iterator, Limit=min(limit, READ_LIMIT))
        return [
            SourceRecord(
                source="kinesis", stream_arn=self.stream_arn, shard_id=shard_id,
                sequence_number=r["SequenceNumber"], partition_key=r["PartitionKey"], data=r["Data"],
                arrival=r.get("ApproximateArrivalTimestamp"),
            )
            for r in page.get("Records", [])
            if after is None or int(r["SequenceNumber"]) > after
        ]


@dataclass
class DynamoDBStreamReader:
    """:class:`ShardReader` over DynamoDB Streams."""

    client: Any
    stream_arn: str
    kind: Literal["kinesis", "dynamodb"] = "dynamodb"

    def shard_ids(self) -> list[str]:
        """DescribeStream's shards."""
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in description.get("Shards", [])]

    def read_after(self, shard_id: str, after: int | None, limit: int) -> list[SourceRecord]:
        """GetRecords pages from TRIM_HORIZON / AFTER_SEQUENCE_NUMBER until an empty page."""
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=str(after))
        iterator = self.client.get_shard_iterator(**kwargs).get("ShardIterator")
        out: list[SourceRecord] = []
        while iterator and len(out) < limit:
            page = self.client.get_records(ShardIterator=iterator, Limit=1000)
            raw = page.get("Records", [])
            if not raw:
                break
            iterator = page.get("NextShardIterator")
            for item in raw:
                seq = item["dynamodb"]["SequenceNumber"]
                if after is not None and int(seq) <= after:
                    continue
                out.append(SourceRecord(
                    source="dynamodb", stream_arn=self.stream_arn, shard_id=shard_id, sequence_number=str(seq),
                    arrival=item["dynamodb"].get("ApproximateCreationDateTime"), dynamodb=item,
                ))
        return out


@dataclass(frozen=True)
class StreamMappingConfig:
    """The stream-relevant properties of an ``AWS::Lambda::EventSourceMapping``.

    Defaults are Lambda's (services-kinesis-parameters): batch 100, no window, no bisect,
    infinite retries and record age, parallelization 1, no tumbling window.
    """

    batch_size: int = 100
    batching_window_seconds: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    starting_position_timestamp: float | None = None
    parallelization_factor: int = 1
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    report_batch_item_failures: bool = False
    tumbling_window_seconds: int = 0
    enabled: bool = True

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> StreamMappingConfig:
        """Build from resolved template properties."""
        timestamp = props.get("StartingPositionTimestamp")
        return cls(
            batch_size=int(props.get("BatchSize", 100)),
            batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
            starting_position_timestamp=float(timestamp) if timestamp is not None else None,
            parallelization_factor=int(props.get("ParallelizationFactor", 1)),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            tumbling_window_seconds=int(props.get("TumblingWindowInSeconds", 0) or 0),
            enabled=bool(props.get("Enabled", True)),
        )


@dataclass(eq=False)
class Pending:
    """A record read from a shard, waiting in its lane.

    Attributes:
        record: The record.
        arrival: Its arrival (Kinesis) / creation (DynamoDB) time, epoch seconds.
        text: The record as it appears in the invocation event (JSON).
        matched: It passes the mapping's filter.
    """

    record: SourceRecord
    arrival: float
    text: str
    matched: bool = True

    @property
    def seq(self) -> int:
        """Its sequence number."""
        return self.record.seq

    @property
    def size(self) -> int:
        """Its size in the invocation event, bytes."""
        return len(self.text.encode("utf-8"))


@dataclass
class _Work:
    records: list[Pending]
    retries: int = 0
    invocations: int = 0
    last_error: str | None = None
    last_function_error: str | None = None
    final: bool = False
    terminated_early: bool = False


@dataclass
class _Window:
    start: float
    end: float
    state: Any = field(default_factory=dict)


@dataclass
class Lane:
    """One ordered sequence of records: a shard, or a key group of it (parallelization).

    Attributes:
        shard_id: The shard.
        index: The lane's key group (0 without parallelization).
        now: The lane's own clock (epoch seconds).
        pending: Records after the checkpoint, in order, not yet done.
        checkpoint: Sequence number of the last record done (processed, filtered out or
            discarded), or None before the first.
        work: Batches being retried / bisected, first one next.
        window: The open tumbling window, if any.
    """

    shard_id: str
    index: int = 0
    now: float = 0.0
    pending: deque[Pending] = field(default_factory=deque)
    checkpoint: int | None = None
    work: list[_Work] = field(default_factory=list)
    window: _Window | None = None

    @property
    def busy(self) -> bool:
        """It has records or a batch to handle now."""
        return bool(self.work or self.pending)


def _epoch(moment: datetime | float | None, default: float) -> float:
    if moment is None:
        return default
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(moment)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_group(record: SourceRecord, lanes: int) -> int:
    if lanes <= 1:
        return 0
    key = record.partition_key if record.partition_key is not None else json.dumps(
        (record.dynamodb or {}).get("dynamodb", {}).get("Keys"), sort_keys=True, default=str
    )
    return int.from_bytes(hashlib.md5(key.encode("utf-8"), usedforsecurity=False).digest()[:8], "big") % lanes


class StreamPoller:
    """Runs one stream event source mapping.

    Args:
        mapping_id: The mapping's logical id (events name it).
        reader: Reads the stream.
        function: What to invoke.
        config: The mapping's properties.
        log: Where events go.
        destination: The on-failure destination, or None.
        event_filter: ``FilterCriteria``. Default: none.
        mapping_uuid: The mapping's UUID (S3 destination keys).
        identity_arn: ``invokeIdentityArn`` on Kinesis event records (the function's role).
        started_at: When the mapping starts (epoch seconds; every lane's clock starts there).
            Default: now.
    """

    kind = "stream"

    def __init__(
        self,
        mapping_id: str,
        reader: ShardReader,
        function: LocalFunctionLike,
        config: StreamMappingConfig,
        log: EventLog,
        *,
        destination: Destination | None = None,
        event_filter: EventFilter | None = None,
        mapping_uuid: str = "00000000-0000-0000-0000-000000000000",
        identity_arn: str = "",
        started_at: float | None = None,
    ) -> None:
        self.mapping_id = mapping_id
        self.reader = reader
        self.function = function
        self.config = config
        self.log = log
        self.destination = destination
        self.filter = event_filter or EventFilter(None)
        self.mapping_uuid = mapping_uuid
        self.identity_arn = identity_arn
        self.started_at = started_at if started_at is not None else time.time()
        self.lanes: dict[tuple[str, int], Lane] = {}
        #: Every record read, by (shard, sequence number): what the invocations' ids refer to.
        self.index: dict[tuple[str, str], SourceRecord] = {}
        self._fetched: dict[str, int | None] = {}
        self._skip_before: dict[str, float] = {}
        self._more: set[str] = set()
        self.invocations = 0
        self._started = False

    # --- reading ----------------------------------------------------------------------------

    def start(self) -> None:
        """Resolve the starting position of every shard (LATEST: after what is there now)."""
        for shard_id in self.reader.shard_ids():
            self._start_shard(shard_id)
        self._started = True

    def _start_shard(self, shard_id: str) -> None:
        position = self.config.starting_position
        after: int | None = None
        if position == "LATEST":
            existing = self._read_all(shard_id)
            after = existing[-1].seq if existing else None
        elif position == "AT_TIMESTAMP":
            # The iterator starts at the first record at or after the timestamp, whenever it arrives.
            self._skip_before[shard_id] = self.config.starting_position_timestamp or 0.0
        self._fetched[shard_id] = after
        for index in range(max(1, self.config.parallelization_factor)):
            self.lanes[(shard_id, index)] = Lane(shard_id, index, now=self.started_at, checkpoint=after)

    def _read_all(self, shard_id: str) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        after: int | None = None
        while True:
            page = self.reader.read_after(shard_id, after, READ_LIMIT)
            if not page:
                return out
            out += page
            after = page[-1].seq

    def _pending(self, record: SourceRecord) -> Pending:
        arrival = _epoch(record.arrival, time.time())
        event_record = (kinesis_event_record(record, self.identity_arn) if record.source == "kinesis"
                        else dynamodb_event_record(record))
        text = json.dumps(event_record, separators=(",", ":"))
        matched = self.filter.matches_record(event_record) if self.filter else True
        return Pending(record, arrival, text, matched)

    def _fetch_shard(self, shard_id: str) -> int:
        if shard_id not in self._fetched:
            self._start_shard(shard_id)
        page = self.reader.read_after(shard_id, self._fetched[shard_id], READ_LIMIT)
        if len(page) >= READ_LIMIT:
            self._more.add(shard_id)
        else:
            self._more.discard(shard_id)
        if not page:
            return 0
        self._fetched[shard_id] = page[-1].seq
        lanes = max(1, self.config.parallelization_factor)
        arrived = 0
        for record in page:
            self.index[(shard_id, record.sequence_number)] = record
            pending = self._pending(record)
            lane = self.lanes[(shard_id, _key_group(record, lanes))]
            skip = self._skip_before.get(shard_id)
            if skip is not None:
                if pending.arrival < skip:
                    lane.checkpoint = record.seq  # before the AT_TIMESTAMP iterator's start: never read
                    continue
                del self._skip_before[shard_id]
            lane.pending.append(pending)
            arrived += 1
        return arrived

    def refresh(self) -> int:
        """Read new records of every shard into the lanes; return how many arrived."""
        if not self.config.enabled:
            return 0
        if not self._started:
            self.start()
        return sum(self._fetch_shard(shard_id) for shard_id in self.reader.shard_ids())

    # --- scheduling -------------------------------------------------------------------------

    def agenda(self) -> list[tuple[float, bool, Lane]]:
        """What the lanes have to do: (lane time, now (True) or at a time (False), lane)."""
        if not self.config.enabled:
            return []
        out: list[tuple[float, bool, Lane]] = []
        for lane in self.lanes.values():
            if lane.busy:
                out.append((lane.now, True, lane))
            elif lane.window is not None:
                out.append((max(lane.now, lane.window.end), False, lane))
        return out

    # --- processing -------------------------------------------------------------------------

    def _expired(self, lane: Lane, pending: Pending) -> bool:
        limit = self.config.maximum_record_age_seconds
        return limit >= 0 and lane.now - pending.arrival > limit

    def _done(self, lane: Lane, records: Sequence[Pending]) -> None:
        """Checkpoint past ``records`` (and the filtered-out records among them)."""
        if not records:
            return
        ids = {id(p) for p in records}
        last = records[-1].seq
        while lane.pending and lane.pending[0].seq <= last:
            head = lane.pending.popleft()
            assert id(head) in ids or not head.matched, "records must be done in shard order"
            lane.checkpoint = head.seq

    def _event(self, lane: Lane, records: Sequence[Pending], *, final: bool = False,
               terminated_early: bool = False) -> dict[str, Any]:
        """The invocation event, built from the records' JSON (the handler gets fresh objects)."""
        text = '{"Records":[' + ",".join(p.text for p in records) + "]}"
        event: dict[str, Any] = json.loads(text)
        if lane.window is not None:
            event.update({
                "window": {"start": _iso(lane.window.start), "end": _iso(lane.window.end)},
                "state": json.loads(json.dumps(lane.window.state)),
                "shardId": lane.shard_id,
                "eventSourceARN": self.reader.stream_arn,
                "isFinalInvokeForWindow": final,
                "isWindowTerminatedEarly": terminated_early,
            })
        return event

    def _discard(self, lane: Lane, work: _Work, records: list[Pending], condition: str) -> None:
        detail = {
            "shard": lane.shard_id, "lane": lane.index, "first": records[0].record.sequence_number,
            "last": records[-1].record.sequence_number, "count": len(records), "condition": condition,
            "attempts": work.invocations, "error": work.last_error, "at": lane.now,
        }
        function_error = work.last_function_error if work.invocations else None
        if self.destination is None:
            self.log.emit("discarded", self.mapping_id, self.function.logical_id, **detail)
        else:
            document = invocation_record(
                [p.record for p in records], condition=condition, function_arn=self.function.arn,
                invoke_count=work.invocations, function_error=function_error, now=lane.now,
                include_payload=self.destination.include_payload, identity_arn=self.identity_arn,
            )
            where = self.destination.send(document, mapping_uuid=self.mapping_uuid, shard_id=lane.shard_id,
                                          now=lane.now)
            self.log.emit("on-failure", self.mapping_id, self.function.logical_id,
                          destination=self.destination.arn, location=where, **detail)
        self._done(lane, records)

    def _window_of(self, pending: Pending) -> float:
        size = self.config.tumbling_window_seconds
        return math.floor(pending.arrival / size) * size

    def _next_work(self, lane: Lane) -> _Work | None:
        """The lane's next batch (checkpointing filtered-out records first), or None."""
        config = self.config
        skipped = 0
        while lane.pending and not lane.pending[0].matched:
            head = lane.pending.popleft()
            lane.checkpoint = head.seq
            skipped += 1
        if skipped:
            self.log.emit("filtered", self.mapping_id, self.function.logical_id, shard=lane.shard_id,
                          lane=lane.index, count=skipped, upto=str(lane.checkpoint))
        if lane.window is not None:
            if not lane.pending or self._window_of(lane.pending[0]) > lane.window.start:
                lane.now = max(lane.now, lane.window.end)
                return _Work([], final=True)
        if not lane.pending:
            return None
        if lane.shard_id in self._more and len(lane.pending) < config.batch_size:
            self._fetch_shard(lane.shard_id)
        tumbling = config.tumbling_window_seconds > 0
        if tumbling and lane.window is None:
            start = self._window_of(lane.pending[0])
            lane.window = _Window(start, start + config.tumbling_window_seconds)
        limit = PAYLOAD_LIMIT_BYTES - len(json.dumps(self._event(lane, [])).encode("utf-8"))
        batch: list[Pending] = []
        size = 0
        full = False
        for pending in lane.pending:
            if not pending.matched:
                continue
            if tumbling and lane.window is not None and self._window_of(pending) != lane.window.start:
                full = True  # the batch ends with the window
                break
            if len(batch) >= config.batch_size or (batch and size + pending.size + 1 > limit):
                full = True
                break
            batch.append(pending)
            size += pending.size + 1
        if config.batching_window_seconds > 0 and not full:
            deadline = max(lane.now, batch[0].arrival) + config.batching_window_seconds
            batch = [p for p in batch if p.arrival <= deadline]
            lane.now = max(lane.now, deadline)
        else:
            lane.now = max(lane.now, batch[-1].arrival)
        if size > limit:
            self.log.emit("info", self.mapping_id, self.function.logical_id, shard=lane.shard_id,
                          message=f"record {batch[0].record.sequence_number} alone exceeds the 6 MB payload "
                          "limit; invoked alone (AWS documents nothing for this case)")
        return _Work(batch)

    def _backoff(self, work: _Work) -> float:
        return min(RETRY_BACKOFF_BASE_SECONDS * 2 ** max(0, work.retries - 1), RETRY_BACKOFF_MAX_SECONDS)

    def _failed(self, lane: Lane, work: _Work, outcome: Outcome) -> None:
        """A batch (or the rest of one, after a partial response) failed."""
        config = self.config
        work.last_error = outcome.error
        work.last_function_error = outcome.function_error
        if config.bisect_on_error and len(work.records) > 1:
            middle = len(work.records) // 2
            lane.work[0:1] = [
                _Work(work.records[:middle], work.retries, 0, work.last_error, work.last_function_error),
                _Work(work.records[middle:], work.retries, 0, work.last_error, work.last_function_error),
            ]
            return
        work.retries += 1
        if config.maximum_retry_attempts >= 0 and work.retries > config.maximum_retry_attempts:
            lane.work.pop(0)
            self._discard(lane, work, work.records, RETRIES_EXHAUSTED)
            return
        lane.now += self._backoff(work)

    def _emit_invoke(self, lane: Lane, work: _Work, records: Sequence[Pending], outcome: Outcome,
                     **extra: Any) -> None:
        self.log.emit(
            "invoke", self.mapping_id, self.function.logical_id, shard=lane.shard_id, lane=lane.index,
            first=records[0].record.sequence_number if records else None,
            last=records[-1].record.sequence_number if records else None, count=len(records),
            outcome=outcome.status, failed=list(outcome.failed_ids), error=outcome.error, attempt=work.invocations,
            duration=round(outcome.duration, 6), timed_out=outcome.timed_out, at=lane.now,
            sequence_numbers=[p.record.sequence_number for p in records], **extra,
        )

    def _window_detail(self, lane: Lane, *, final: bool = False, early: bool = False) -> dict[str, Any]:
        if lane.window is None:
            return {}
        return {"window": {"start": _iso(lane.window.start), "end": _iso(lane.window.end)},
                "final_window": final, "terminated_early": early}

    def _invoke_final(self, lane: Lane, work: _Work) -> bool:
        assert lane.window is not None
        work.invocations += 1
        self.invocations += 1
        detail = self._window_detail(lane, final=True, early=work.terminated_early)
        invocation = run(self.function, self._event(lane, [], final=True, terminated_early=work.terminated_early))
        outcome = read_response(invocation, [], report_failures=False)
        lane.now += outcome.duration
        self._emit_invoke(lane, work, [], outcome, **detail)
        if outcome.status == "error":
            # "If invocation is unsuccessful, your Lambda function suspends further processing until a
            # successful invocation": retried (with backoff) until it succeeds.
            work.retries += 1
            work.last_error = outcome.error
            lane.now += self._backoff(work)
            return True
        lane.work.pop(0)
        if work.terminated_early:
            lane.window.state = {}
        else:
            lane.window = None
        return True

    def step_lane(self, lane: Lane) -> bool:
        """Make at most one invocation for a lane (or discard / checkpoint records).

        Returns:
            True when something was done, False when the lane had nothing to do.
        """
        if not lane.work:
            work = self._next_work(lane)
            if work is None:
                return False
            lane.work.append(work)
        work = lane.work[0]
        if work.final:
            return self._invoke_final(lane, work)
        expired: list[Pending] = []
        while len(expired) < len(work.records) and self._expired(lane, work.records[len(expired)]):
            expired.append(work.records[len(expired)])
        if expired:
            work.records = work.records[len(expired):]
            self._discard(lane, work, expired, RECORD_AGE_EXCEEDED)
            if not work.records:
                lane.work.pop(0)
            return True
        records = work.records
        work.invocations += 1
        self.invocations += 1
        window = lane.window is not None
        detail = self._window_detail(lane)
        invocation = run(self.function, self._event(lane, records))
        outcome = read_response(invocation, [p.record.sequence_number for p in records],
                                report_failures=self.config.report_batch_item_failures, window=window)
        lane.now += outcome.duration
        self._emit_invoke(lane, work, records, outcome, **detail)
        if outcome.status == "ok":
            lane.work.pop(0)
            self._done(lane, records)
        elif outcome.status == "partial":
            assert outcome.failed_index is not None
            done, rest = records[: outcome.failed_index], records[outcome.failed_index:]
            self._done(lane, done)
            work.records = rest
            self._failed(lane, work, outcome)
        else:
            self._failed(lane, work, outcome)
        if window and outcome.status != "error" and lane.window is not None:
            lane.window.state = outcome.state
            if len(json.dumps(outcome.state).encode("utf-8")) > WINDOW_STATE_LIMIT_BYTES:
                lane.work.insert(0, _Work([], final=True, terminated_early=True))
        return True

    def step(self) -> bool:
        """One invocation for the lane whose clock is earliest among those with work."""
        due = [(t, lane) for t, now, lane in self.agenda() if now]
        if not due:
            due = [(t, lane) for t, _, lane in self.agenda()]
        if not due:
            return False
        return self.step_lane(min(due, key=lambda item: item[0])[1])

    def checkpoints(self) -> dict[str, int | None]:
        """Per shard: the lowest lane checkpoint (what a restart would resume after)."""
        out: dict[str, int | None] = {}
        for (shard_id, _), lane in self.lanes.items():
            current = out.get(shard_id, lane.checkpoint)
            out[shard_id] = None if current is None or lane.checkpoint is None else min(current, lane.checkpoint)
        return out
