"""``replay``: re-deliver a time window of a Kinesis stream, shard by shard, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._aws import Aws
from .errors import ExitCode
from .kinesis import ShardCursor, list_shards, parent_first, stream_arn
from .output import Output
from .records import SourceRecord
from .targets import Target, batches


def replay(
    aws: Aws,
    output: Output,
    *,
    stream_name: str,
    start: datetime,
    end: datetime,
    target: Target,
) -> ExitCode:
    """Read every shard from ``start`` (AT_TIMESTAMP) to ``end`` and deliver in batches.

    Shards are read one at a time, parents before children, so each partition key's
    records are delivered in their original order even across a reshard. The run stops at
    the first batch the target does not take, and says where it stopped.

    Args:
        aws: Clients.
        output: Printer.
        stream_name: The source stream.
        start: Replay records that arrived at or after this time.
        end: ... and at or before this time.
        target: Where the records go.

    Returns:
        ``OK``, or ``NOT_DELIVERED`` when a batch was refused.
    """
    client = aws.client("kinesis")
    arn = stream_arn(client, stream_name)
    target.check()
    shards = parent_first(list_shards(client, stream_name))
    progress = _Progress()
    with output.bar("replay", "rec") as bar:
        for shard in shards:
            cursor = ShardCursor(client, stream_name, arn, shard, "AT_TIMESTAMP", timestamp=start)
            refused = _replay_shard(cursor, shard.shard_id, end, target, progress, bar)
            if refused is not None:
                _report_stopped(output, stream_name, target, progress, *refused)
                return ExitCode.NOT_DELIVERED
    output.report(
        "summary",
        f"replayed {progress.total} records from {len(shards)} shards of stream '{stream_name}' "
        f"to {target.name}",
        command="replay",
        status="ok",
        stream=stream_name,
        target=target.name,
        records=progress.total,
        shards=progress.per_shard,
        **{"from": start, "to": end},
    )
    return ExitCode.OK


@dataclass
class _Progress:
    """What a replay delivered so far: in all, and per shard (records, last sequence number)."""

    total: int = 0
    per_shard: dict[str, dict[str, object]] = field(default_factory=dict)


def _replay_shard(cursor: ShardCursor, shard_id: str, end: datetime, target: Target,
                  progress: _Progress, bar: Any) -> tuple[SourceRecord, str | None] | None:
    """Deliver one shard's records up to ``end``, in order; the first record the target did
    not take (and why) when it refused one, else None."""
    count, last = 0, None
    done = False
    while not done:
        page, caught_up = cursor.poll()
        selected = []
        for record in page:
            if record.arrival is not None and record.arrival > end:
                done = True
                break
            selected.append(record)
        done = done or caught_up or cursor.finished
        for batch in batches(selected, target.max_count, target.max_bytes):
            outcome = target.deliver(batch)
            count += outcome.delivered
            progress.total += outcome.delivered
            bar.update(outcome.delivered)
            if outcome.delivered:
                last = batch[outcome.delivered - 1].sequence_number
            if outcome.delivered < len(batch):
                progress.per_shard[shard_id] = {"records": count, "lastSequenceNumber": last}
                return batch[outcome.delivered], outcome.error
    progress.per_shard[shard_id] = {"records": count, "lastSequenceNumber": last}
    return None


def _report_stopped(output: Output, stream_name: str, target: Target, progress: _Progress,
                    stopped: SourceRecord, error: str | None) -> None:
    """The summary of a replay the target stopped at ``stopped``."""
    output.report(
        "summary",
        f"replay stopped: {target.name} did not take record "
        f"{stopped.shard_id}/{stopped.sequence_number} ({error}); "
        f"{progress.total} records delivered before it",
        command="replay",
        status="stopped",
        stream=stream_name,
        target=target.name,
        records=progress.total,
        shards=progress.per_shard,
        stoppedAt={
            "shardId": stopped.shard_id,
            "sequenceNumber": stopped.sequence_number,
            "arrival": stopped.arrival,
        },
        error=error,
    )
