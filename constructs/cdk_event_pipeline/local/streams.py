"""A Kinesis / DynamoDB Streams event source mapping, run locally with Lambda's semantics.

The poller is independent of how records are read (a :class:`ShardReader`) and of what the
function is (a :class:`~.invoke.LocalFunctionLike`), so it is tested with plain callables.
Per shard it keeps a checkpoint and a buffer of records after it; each :meth:`StreamPoller.step`
makes at most one invocation. Semantics (AWS Lambda Developer Guide, "Using Lambda with
Kinesis" / "... DynamoDB", and the mapping's parameters):

* **Ordering.** One batch in flight per shard; with ``ParallelizationFactor`` N, records are
  split by partition key hash into N lanes per shard, each with its own checkpoint, so order
  holds per partition key.
* **Batching.** Up to ``BatchSize`` records; with ``MaximumBatchingWindowInSeconds`` a
  short batch waits until the window has passed since its first record was seen.
* **Starting position.** ``TRIM_HORIZON`` reads the shard from its start, ``LATEST`` from
  the records after the last one present when the mapping starts, ``AT_TIMESTAMP`` from
  ``StartingPositionTimestamp``.
* **Function errors.** The batch is retried (``MaximumRetryAttempts``, -1 = until the
  record expires) with backoff; with ``BisectBatchOnFunctionError`` a failed batch of more
  than one record is split in two first (a split does not count as a retry).
* **Partial batch responses** (``ReportBatchItemFailures``): the checkpoint moves to just
  before the lowest failed sequence number; records before it are never redelivered, and
  the rest is retried (bisected at that sequence number when bisect is on).
* **Record age.** Records older than ``MaximumRecordAgeInSeconds`` (-1 = never) are not
  invoked (again): they are discarded with condition ``RecordAgeExceeded``.
* **Discarded batches** go to ``DestinationConfig.OnFailure`` (see :mod:`.destinations`);
  without a destination they are dropped, and an event says so.
* **Filtering** (``FilterCriteria``): records matching no pattern are skipped (checkpointed).

Moto's sequence numbers are small integers that repeat across shards: they are compared as
integers, and only within a shard.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ..tools.records import SourceRecord, dynamodb_event_record, kinesis_event_record
from .clock import Clock
from .destinations import RECORD_AGE_EXCEEDED, RETRIES_EXHAUSTED, Destination, invocation_record
from .events import EventLog
from .filters import EventFilter, kinesis_filter_view
from .invoke import LocalFunctionLike, Outcome, call, read_response

#: Retry backoff (seconds, on the clock): doubles per attempt, capped. Lambda documents
#: "exponential backoff" without the numbers; these keep real-clock runs short.
RETRY_BACKOFF_BASE_SECONDS = 1.0
RETRY_BACKOFF_MAX_SECONDS = 60.0
#: Records read per GetRecords call (the Kinesis API maximum).
READ_LIMIT = 10000


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
    infinite retries and record age, parallelization 1.
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
            enabled=bool(props.get("Enabled", True)),
        )


@dataclass
class _Work:
    records: list[SourceRecord]
    retries: int = 0
    invocations: int = 0
    last_error: str | None = None


@dataclass
class Lane:
    """One ordered sequence of records: a shard, or a key group of it (parallelization).

    Attributes:
        shard_id: The shard.
        index: The lane's key group (0 without parallelization).
        pending: Records after the checkpoint, in order, not yet done.
        checkpoint: Sequence number of the last record done (processed, filtered out or
            discarded), or None before the first.
        work: Batches being retried / bisected, first one next.
    """

    shard_id: str
    index: int = 0
    pending: deque[SourceRecord] = field(default_factory=deque)
    checkpoint: int | None = None
    work: list[_Work] = field(default_factory=list)
    waiting_since: float | None = None


def _arrival(record: SourceRecord) -> float | None:
    moment = record.arrival
    if moment is None:
        return None
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(moment)


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
        clock: Real or virtual time (retry backoff, record age, batching window).
        log: Where events go.
        destination: The on-failure destination, or None.
        event_filter: ``FilterCriteria``. Default: none.
        mapping_uuid: The mapping's UUID (S3 destination keys).
        identity_arn: ``invokeIdentityArn`` on Kinesis event records (the function's role).
    """

    def __init__(
        self,
        mapping_id: str,
        reader: ShardReader,
        function: LocalFunctionLike,
        config: StreamMappingConfig,
        clock: Clock,
        log: EventLog,
        *,
        destination: Destination | None = None,
        event_filter: EventFilter | None = None,
        mapping_uuid: str = "00000000-0000-0000-0000-000000000000",
        identity_arn: str = "",
    ) -> None:
        self.mapping_id = mapping_id
        self.reader = reader
        self.function = function
        self.config = config
        self.clock = clock
        self.log = log
        self.destination = destination
        self.filter = event_filter or EventFilter(None)
        self.mapping_uuid = mapping_uuid
        self.identity_arn = identity_arn
        self.lanes: dict[tuple[str, int], Lane] = {}
        self._fetched: dict[str, int | None] = {}
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
        if position in {"LATEST", "AT_TIMESTAMP"}:
            existing = self._read_all(shard_id)
            if position == "LATEST":
                after = existing[-1].seq if existing else None
            else:
                stamp = self.config.starting_position_timestamp or 0.0
                older = [r for r in existing if (_arrival(r) or 0.0) < stamp]
                after = older[-1].seq if older else None
        self._fetched[shard_id] = after
        for index in range(max(1, self.config.parallelization_factor)):
            self.lanes[(shard_id, index)] = Lane(shard_id, index, checkpoint=after)

    def _read_all(self, shard_id: str) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        after: int | None = None
        while True:
            page = self.reader.read_after(shard_id, after, READ_LIMIT)
            if not page:
                return out
            out += page
            after = page[-1].seq

    def fetch(self) -> int:
        """Read new records of every shard into the lanes; return how many arrived."""
        if not self._started:
            self.start()
        arrived = 0
        lanes = max(1, self.config.parallelization_factor)
        for shard_id in self.reader.shard_ids():
            if shard_id not in self._fetched:
                self._start_shard(shard_id)
            page = self.reader.read_after(shard_id, self._fetched[shard_id], READ_LIMIT)
            if not page:
                continue
            arrived += len(page)
            self._fetched[shard_id] = page[-1].seq
            for record in page:
                self.lanes[(shard_id, _key_group(record, lanes))].pending.append(record)
        return arrived

    # --- processing -------------------------------------------------------------------------

    def _age_limit_passed(self, record: SourceRecord) -> bool:
        limit = self.config.maximum_record_age_seconds
        arrival = _arrival(record)
        return limit >= 0 and arrival is not None and self.clock.now() - arrival > limit

    def _done(self, lane: Lane, records: Sequence[SourceRecord]) -> None:
        """Checkpoint past ``records`` (the head of the lane's pending records)."""
        for record in records:
            head = lane.pending.popleft()
            assert head.seq == record.seq, "records must be done in shard order"
            lane.checkpoint = record.seq

    def _event(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        if self.reader.kind == "kinesis":
            return {"Records": [kinesis_event_record(r, self.identity_arn) for r in records]}
        return {"Records": [dynamodb_event_record(r) for r in records]}

    def _discard(self, lane: Lane, work: _Work, condition: str, function_error: str | None) -> None:
        records = work.records
        detail = {
            "shard": lane.shard_id, "first": records[0].sequence_number, "last": records[-1].sequence_number,
            "count": len(records), "condition": condition, "attempts": work.invocations,
            "error": work.last_error,
        }
        if self.destination is None:
            self.log.emit("discarded", self.mapping_id, self.function.logical_id, **detail)
        else:
            document = invocation_record(
                records, condition=condition, function_arn=self.function.arn, invoke_count=work.invocations,
                function_error=function_error, now=self.clock.now(),
                include_payload=self.destination.include_payload, identity_arn=self.identity_arn,
            )
            where = self.destination.send(document, mapping_uuid=self.mapping_uuid, shard_id=lane.shard_id,
                                          now=self.clock.now())
            self.log.emit("on-failure", self.mapping_id, self.function.logical_id,
                          destination=self.destination.arn, location=where, **detail)
        self._done(lane, records)

    def _next_batch(self, lane: Lane) -> _Work | None | float:
        """A new batch for the lane, None when there is nothing, or seconds to wait."""
        config = self.config
        expired = []
        while lane.pending and self._age_limit_passed(lane.pending[0]):
            expired.append(lane.pending[0])
            lane.pending.popleft()
        if expired:
            lane.pending.extendleft(reversed(expired))
            self._discard(lane, _Work(expired), RECORD_AGE_EXCEEDED, None)
        if not lane.pending:
            lane.waiting_since = None
            return None
        if len(lane.pending) < config.batch_size and config.batching_window_seconds > 0:
            now = self.clock.now()
            if lane.waiting_since is None:
                lane.waiting_since = now
            left = lane.waiting_since + config.batching_window_seconds - now
            if left > 0:
                return left
        lane.waiting_since = None
        batch = [lane.pending[i] for i in range(min(config.batch_size, len(lane.pending)))]
        if self.filter:
            events = self._event(batch)["Records"]
            keep = [self.filter.matches(kinesis_filter_view(e)) if self.reader.kind == "kinesis" else
                    self.filter.matches(e) for e in events]
            if not all(keep):
                # Filtered-out records are checkpointed past without an invocation.
                first_kept = keep.index(True) if any(keep) else len(batch)
                if first_kept:
                    skipped = batch[:first_kept]
                    self.log.emit("filtered", self.mapping_id, self.function.logical_id, shard=lane.shard_id,
                                  first=skipped[0].sequence_number, last=skipped[-1].sequence_number,
                                  count=len(skipped))
                    self._done(lane, skipped)
                    return self._next_batch(lane)
                batch = batch[: keep.index(False)]
        return _Work(batch)

    def _failed(self, lane: Lane, work: _Work, outcome: Outcome) -> None:
        """A batch (or the rest of one, after a partial response) failed."""
        config = self.config
        work.last_error = outcome.error
        if config.bisect_on_error and len(work.records) > 1:
            middle = len(work.records) // 2
            lane.work[0:1] = [
                _Work(work.records[:middle], work.retries, 0),
                _Work(work.records[middle:], work.retries, 0),
            ]
            return
        work.retries += 1
        if any(self._age_limit_passed(r) for r in work.records):
            lane.work.pop(0)
            self._discard(lane, work, RECORD_AGE_EXCEEDED, outcome.function_error)
            return
        if config.maximum_retry_attempts >= 0 and work.retries > config.maximum_retry_attempts:
            lane.work.pop(0)
            self._discard(lane, work, RETRIES_EXHAUSTED, outcome.function_error)
            return
        self.clock.sleep(min(RETRY_BACKOFF_BASE_SECONDS * 2 ** (work.retries - 1), RETRY_BACKOFF_MAX_SECONDS))

    def step_lane(self, lane: Lane) -> bool | float:
        """Make at most one invocation for a lane.

        Returns:
            True when something was done, False when the lane is idle, or the seconds to
            wait for a batching window.
        """
        if not lane.work:
            batch = self._next_batch(lane)
            if batch is None or isinstance(batch, float):
                return False if batch is None else batch
            lane.work.append(batch)
        work = lane.work[0]
        if work.invocations and any(self._age_limit_passed(r) for r in work.records):
            lane.work.pop(0)
            self._discard(lane, work, RECORD_AGE_EXCEEDED, "Unhandled" if work.last_error else None)
            return True
        if not work.records:
            lane.work.pop(0)
            return True
        records = work.records
        work.invocations += 1
        self.invocations += 1
        response, outcome = call(self.function, self._event(records))
        if outcome is None:
            outcome = read_response(response, [r.sequence_number for r in records],
                                    report_failures=self.config.report_batch_item_failures)
        self.log.emit(
            "invoke", self.mapping_id, self.function.logical_id, shard=lane.shard_id, lane=lane.index,
            first=records[0].sequence_number, last=records[-1].sequence_number, count=len(records),
            outcome=outcome.status, failed=list(outcome.failed_ids), error=outcome.error, attempt=work.invocations,
            at=self.clock.now(),
        )
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
        return True

    def step(self) -> bool | float:
        """One round: fetch, then at most one invocation per lane.

        Returns:
            True when anything was done, else False, or the shortest batching-window wait.
        """
        if not self.config.enabled:
            return False
        busy = any(lane.work or len(lane.pending) >= self.config.batch_size for lane in self.lanes.values())
        arrived = 0 if busy and self._started else self.fetch()
        did: bool = arrived > 0
        wait: float | None = None
        for lane in list(self.lanes.values()):
            result = self.step_lane(lane)
            if result is True:
                did = True
            elif isinstance(result, float):
                wait = result if wait is None else min(wait, result)
        if did:
            return True
        return wait if wait is not None else False

    def checkpoints(self) -> dict[str, int | None]:
        """Per shard: the lowest lane checkpoint (what a restart would resume after)."""
        out: dict[str, int | None] = {}
        for (shard_id, _), lane in self.lanes.items():
            current = out.get(shard_id, lane.checkpoint)
            out[shard_id] = None if current is None or lane.checkpoint is None else min(current, lane.checkpoint)
        return out


def decode_kinesis_data(event_record: Mapping[str, Any]) -> bytes:
    """The raw data of a Kinesis event record."""
    return base64.b64decode(event_record["kinesis"]["data"])
