"""``tail``: follow a Kinesis stream across all its shards and print records decoded."""

from __future__ import annotations

import time

from ._aws import Aws
from .errors import ExitCode
from .kinesis import ShardCursor, ShardInfo, list_shards, stream_arn
from .output import Output

#: How often new shards (after a reshard) are looked for.
RELIST_SHARDS_SECONDS = 10.0


def tail(
    aws: Aws,
    output: Output,
    *,
    stream_name: str,
    from_start: bool,
    max_records: int | None,
    timeout: float | None,
    poll_interval: float,
) -> ExitCode:
    """Print new records until ``max_records`` were printed or ``timeout`` elapsed.

    Reads every open shard from LATEST (or every shard from TRIM_HORIZON with
    ``from_start``, children after their parents). Shards created by a reshard are picked up
    from their start.

    Args:
        aws: Clients.
        output: Printer.
        stream_name: The stream.
        from_start: Start at the oldest record instead of new ones only.
        max_records: Stop after printing this many (user) records.
        timeout: Stop after this many seconds.
        poll_interval: Seconds to wait when no shard had anything.

    Returns:
        ``OK``.
    """
    client = aws.client("kinesis")
    arn = stream_arn(client, stream_name)
    deadline = time.monotonic() + timeout if timeout is not None else None
    known: dict[str, ShardInfo] = {}
    finished: set[str] = set()
    cursors: dict[str, ShardCursor] = {}

    def refresh(first: bool) -> None:
        for shard in list_shards(client, stream_name):
            if shard.shard_id in known:
                continue
            known[shard.shard_id] = shard
        for shard_id, shard in known.items():
            if shard_id in cursors or shard_id in finished:
                continue
            if first and not from_start:
                if shard.closed:
                    finished.add(shard_id)
                    continue
                kind = "LATEST"
            else:
                if not all(p in finished or p not in known for p in shard.parents):
                    continue
                kind = "TRIM_HORIZON"
            cursors[shard_id] = ShardCursor(client, stream_name, arn, shard, kind)

    refresh(first=True)
    last_refresh = time.monotonic()
    printed = 0
    while True:
        got_any = False
        for shard_id, cursor in list(cursors.items()):
            records, _ = cursor.poll()
            for record in records:
                got_any = True
                printed += output.record(record)
                if max_records is not None and printed >= max_records:
                    return ExitCode.OK
            if cursor.finished:
                finished.add(shard_id)
                del cursors[shard_id]
                refresh(first=False)
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return ExitCode.OK
        if now - last_refresh >= RELIST_SHARDS_SECONDS:
            refresh(first=False)
            last_refresh = now
        if not got_any:
            pause = poll_interval
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - now))
            time.sleep(pause)
