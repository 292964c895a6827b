"""A stream mapping's configuration and its lanes: the records waiting, the batches in work, the window."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..tools.records import SourceRecord


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
class Work:
    records: list[Pending]
    retries: int = 0
    invocations: int = 0
    last_error: str | None = None
    last_function_error: str | None = None
    final: bool = False
    terminated_early: bool = False


@dataclass
class Window:
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
    work: list[Work] = field(default_factory=list)
    window: Window | None = None

    @property
    def busy(self) -> bool:
        """It has records or a batch to handle now."""
        return bool(self.work or self.pending)


def trim_unread(lane: Lane, retention_seconds: float | None) -> list[Pending]:
    """Take the lane's unread records older than the retention period on its clock (the stream
    trimmed them) off the lane, and checkpoint past them."""
    trimmed: list[Pending] = []
    while retention_seconds is not None and lane.pending and lane.now - lane.pending[0].arrival > retention_seconds:
        trimmed.append(lane.pending.popleft())
    if trimmed:
        lane.checkpoint = trimmed[-1].seq
    return trimmed


def epoch(moment: datetime | float | None, default: float) -> float:
    if moment is None:
        return default
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(moment)


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_group(record: SourceRecord, lanes: int) -> int:
    if lanes <= 1:
        return 0
    key = record.partition_key if record.partition_key is not None else json.dumps(
        (record.dynamodb or {}).get("dynamodb", {}).get("Keys"), sort_keys=True, default=str
    )
    return int.from_bytes(hashlib.md5(key.encode("utf-8"), usedforsecurity=False).digest()[:8], "big") % lanes
