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
* **Batching.** Up to ``BatchSize`` records, fewer when the event would exceed the synchronous
  invocation payload limit (6,291,456 bytes: "Lambda quotas"). With
  ``MaximumBatchingWindowInSeconds`` a short batch waits for the window on the lane's clock.
* **Filtering** (``FilterCriteria``, :mod:`.filters`): each record is matched on its own;
  records that match no pattern are dropped (checkpointed past) and do not end a batch.
* **Starting position.** ``TRIM_HORIZON``: the shard from its start. ``LATEST``: records after
  the last one present when the mapping starts. ``AT_TIMESTAMP``: from the first record that
  arrived at or after ``StartingPositionTimestamp``, including records that arrive after the
  mapping started.
* **Retention.** A record the mapping has not read yet when the stream's retention period has
  passed on the lane's clock (a disabled mapping, a backlog) is gone: the stream trimmed it. It
  is skipped without invoking and counted (event ``trimmed``). A batch already being retried is
  not trimmed (its record age ends it, or it retries on).
* **Time passing** (``LocalPipeline.advance``): every lane's clock moves ahead.
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
* **Tumbling windows** (``TumblingWindowInSeconds``): see :mod:`.windows`.

Moto's sequence numbers repeat across shards: they are compared as integers, within a shard.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..tools.records import SourceRecord, dynamodb_event_record, kinesis_event_record
from .clock import PipelineClock
from .destinations import (
    RECORD_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    Destination,
    invocation_record,
)
from .events import EventLog
from .filters import EventFilter
from .invoke import LocalFunctionLike, Outcome, read_response, run
from .stream_lanes import Lane, Pending, StreamMappingConfig, Window, Work, epoch, key_group, trim_unread
from .stream_readers import READ_LIMIT, DynamoDBStreamReader, KinesisReader, ShardReader
from .windows import WINDOW_STATE_LIMIT_BYTES, close_window, keep_state, window_detail, window_fields, window_of

__all__ = ["PAYLOAD_LIMIT_BYTES", "READ_LIMIT", "RETRY_BACKOFF_BASE_SECONDS", "RETRY_BACKOFF_MAX_SECONDS",
           "WINDOW_STATE_LIMIT_BYTES", "DynamoDBStreamReader", "KinesisReader", "Lane", "Pending", "ShardReader",
           "StreamMappingConfig", "StreamPoller"]

#: Retry backoff (seconds, on the lane's clock): doubles per attempt, capped. Lambda documents
#: "exponential backoff" without the numbers.
RETRY_BACKOFF_BASE_SECONDS = 1.0
RETRY_BACKOFF_MAX_SECONDS = 60.0
#: Lambda's synchronous invocation payload limit (bytes).
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
#: Condition of the ``trimmed`` event: the record passed the stream's retention period unread.
RETENTION_EXPIRED = "RetentionPeriodExpired"


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
        retention_seconds: The stream's retention period (records older than this on a lane's
            clock are trimmed before the mapping reads them). Default: None (never trimmed).
        clock: The pipeline's time (records' arrivals are read in it). Default: the real time.
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
        retention_seconds: float | None = None,
        clock: PipelineClock | None = None,
    ) -> None:
        self.mapping_id = mapping_id
        self.clock = clock if clock is not None else PipelineClock()
        self.retention_seconds = retention_seconds
        self.reader = reader
        self.function = function
        self.config = config
        self.log = log
        self.destination = destination
        self.filter = event_filter or EventFilter(None)
        self.mapping_uuid = mapping_uuid
        self.identity_arn = identity_arn
        self.started_at = started_at if started_at is not None else self.clock.now()
        self.lanes: dict[tuple[str, int], Lane] = {}
        #: Every record read, by (shard, sequence number): what the invocations' ids refer to.
        self.index: dict[tuple[str, str], SourceRecord] = {}
        self._fetched: dict[str, int | None] = {}
        self._skip_before: dict[str, float] = {}
        self._more: set[str] = set()
        self.invocations = 0
        self._started = False

    # --- reading ----------------------------------------------------------------------------

    def advance(self, seconds: float, present: float) -> None:
        """Time passes: every lane's clock moves ``seconds`` past ``present`` (or past its own time,
        when it is ahead); lanes made later start there too."""
        self.started_at = max(self.started_at, present) + seconds
        for lane in self.lanes.values():
            lane.now = max(lane.now, present) + seconds

    def start(self) -> None:
        """Resolve the starting position of every shard (LATEST: after what is there now)."""
        self.started_at = max(self.started_at, self.clock.now())  # enabled later: its lanes start now
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
        arrival = self.clock.shifted(epoch(record.arrival, self.clock.now()))
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
            lane = self.lanes[(shard_id, key_group(record, lanes))]
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
        dropped = 0
        while lane.pending and lane.pending[0].seq <= last:
            head = lane.pending.popleft()
            assert id(head) in ids or not head.matched, "records must be done in shard order"
            dropped += not head.matched
            lane.checkpoint = head.seq
        if dropped:  # filtered-out records between the batch's records: done with it, counted too
            self.log.emit("filtered", self.mapping_id, self.function.logical_id, shard=lane.shard_id,
                          lane=lane.index, count=dropped, upto=str(lane.checkpoint))

    def _event(self, lane: Lane, records: Sequence[Pending], *, final: bool = False,
               terminated_early: bool = False) -> dict[str, Any]:
        """The invocation event, built from the records' JSON (the handler gets fresh objects)."""
        text = '{"Records":[' + ",".join(p.text for p in records) + "]}"
        event: dict[str, Any] = json.loads(text)
        event.update(window_fields(lane, self.reader.stream_arn, final=final, terminated_early=terminated_early))
        return event

    def _discard(self, lane: Lane, work: Work, records: list[Pending], condition: str) -> None:
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
        return window_of(pending.arrival, self.config.tumbling_window_seconds)

    def _trim(self, lane: Lane) -> None:
        """Drop the unread records the stream no longer holds (older than its retention period)."""
        trimmed = trim_unread(lane, self.retention_seconds)
        if trimmed:
            self.log.emit("trimmed", self.mapping_id, self.function.logical_id, shard=lane.shard_id,
                          lane=lane.index, first=trimmed[0].record.sequence_number,
                          last=trimmed[-1].record.sequence_number, count=len(trimmed),
                          condition=RETENTION_EXPIRED, at=lane.now)

    def _next_work(self, lane: Lane) -> Work | None:
        """The lane's next batch (trimming expired records and checkpointing filtered-out ones
        first), or None."""
        config = self.config
        self._trim(lane)
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
                return Work([], final=True)
        if not lane.pending:
            return None
        if lane.shard_id in self._more and len(lane.pending) < config.batch_size:
            self._fetch_shard(lane.shard_id)
        tumbling = config.tumbling_window_seconds > 0
        if tumbling and lane.window is None:
            start = self._window_of(lane.pending[0])
            lane.window = Window(start, start + config.tumbling_window_seconds)
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
        return Work(batch)

    def _backoff(self, work: Work) -> float:
        return min(RETRY_BACKOFF_BASE_SECONDS * 2 ** max(0, work.retries - 1), RETRY_BACKOFF_MAX_SECONDS)

    def _failed(self, lane: Lane, work: Work, outcome: Outcome) -> None:
        """A batch (or the rest of one, after a partial response) failed."""
        config = self.config
        work.last_error = outcome.error
        work.last_function_error = outcome.function_error
        if config.bisect_on_error and len(work.records) > 1:
            middle = len(work.records) // 2
            lane.work[0:1] = [
                Work(work.records[:middle], work.retries, 0, work.last_error, work.last_function_error),
                Work(work.records[middle:], work.retries, 0, work.last_error, work.last_function_error),
            ]
            return
        work.retries += 1
        if config.maximum_retry_attempts >= 0 and work.retries > config.maximum_retry_attempts:
            lane.work.pop(0)
            self._discard(lane, work, work.records, RETRIES_EXHAUSTED)
            return
        lane.now += self._backoff(work)

    def _emit_invoke(self, lane: Lane, work: Work, records: Sequence[Pending], outcome: Outcome,
                     **extra: Any) -> None:
        self.log.emit(
            "invoke", self.mapping_id, self.function.logical_id, shard=lane.shard_id, lane=lane.index,
            first=records[0].record.sequence_number if records else None,
            last=records[-1].record.sequence_number if records else None, count=len(records),
            outcome=outcome.status, failed=list(outcome.failed_ids), error=outcome.error, attempt=work.invocations,
            succeeded=(len(records) if outcome.status == "ok"
                       else (outcome.failed_index or 0) if outcome.status == "partial" else 0),
            duration=round(outcome.duration, 6), timed_out=outcome.timed_out, at=lane.now,
            sequence_numbers=[p.record.sequence_number for p in records], **extra,
        )

    def _invoke_final(self, lane: Lane, work: Work) -> bool:
        assert lane.window is not None
        work.invocations += 1
        self.invocations += 1
        detail = window_detail(lane, final=True, early=work.terminated_early)
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
        close_window(lane, terminated_early=work.terminated_early)
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
        detail = window_detail(lane)
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
        if window and outcome.status != "error" and lane.window is not None and keep_state(lane, outcome.state):
            lane.work.insert(0, Work([], final=True, terminated_early=True))
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
