"""Reading Kinesis streams: shard discovery, parent-before-child order, shard cursors."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ._aws import aws_errors, error_code
from .records import SourceRecord

#: Records per GetRecords call (the API maximum is 10,000; 1,000 keeps pages small).
GET_RECORDS_LIMIT = 1000
#: Pause after an empty page that is still behind the tip (avoids a hot loop; Kinesis allows
#: five GetRecords calls per second per shard).
EMPTY_PAGE_PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class ShardInfo:
    """What ListShards says about one shard.

    Attributes:
        shard_id: The shard id.
        parents: ``ParentShardId`` and ``AdjacentParentShardId`` when present.
        ending_sequence: ``EndingSequenceNumber`` of a closed shard, else None.
    """

    shard_id: str
    parents: tuple[str, ...] = ()
    ending_sequence: int | None = None

    @property
    def closed(self) -> bool:
        """True once the shard was split or merged (it receives no new records)."""
        return self.ending_sequence is not None


def stream_arn(client: Any, stream_name: str) -> str:
    """The ARN of a stream, which also checks that it exists.

    Args:
        client: A Kinesis client.
        stream_name: The stream name.

    Returns:
        The stream ARN.

    Raises:
        NotFoundError: No such stream.
    """
    with aws_errors(f"stream '{stream_name}'"):
        summary = client.describe_stream_summary(StreamName=stream_name)
    return str(summary["StreamDescriptionSummary"]["StreamARN"])


def list_shards(client: Any, stream_name: str) -> list[ShardInfo]:
    """Every shard of the stream still within retention, open and closed.

    Args:
        client: A Kinesis client.
        stream_name: The stream name.

    Returns:
        The shards in ListShards order.
    """
    shards: list[ShardInfo] = []
    kwargs: dict[str, Any] = {"StreamName": stream_name}
    with aws_errors(f"stream '{stream_name}'"):
        while True:
            page = client.list_shards(**kwargs)
            for shard in page.get("Shards", []):
                parents = tuple(
                    p
                    for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
                    if p
                )
                ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
                shards.append(
                    ShardInfo(
                        shard_id=shard["ShardId"],
                        parents=parents,
                        ending_sequence=int(ending) if ending is not None else None,
                    )
                )
            token = page.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}


def parent_first(shards: Iterable[ShardInfo]) -> list[ShardInfo]:
    """Order shards so that every shard comes after its parents (a topological order).

    Parents no longer listed (past retention) are ignored. Among shards that are ready at the
    same time the ListShards order is kept.

    Args:
        shards: The shards of one stream.

    Returns:
        The shards, parents before children.
    """
    pending = list(shards)
    known = {s.shard_id for s in pending}
    done: set[str] = set()
    ordered: list[ShardInfo] = []
    while pending:
        ready = [s for s in pending if all(p in done or p not in known for p in s.parents)]
        if not ready:  # a cycle cannot happen in Kinesis; never loop forever on bad data
            ready = pending[:1]
        for shard in ready:
            ordered.append(shard)
            done.add(shard.shard_id)
            pending.remove(shard)
    return ordered


@dataclass
class ShardCursor:
    """Reads one shard page by page from a starting position.

    Args:
        client: A Kinesis client.
        stream_name: The stream name.
        arn: The stream ARN (stored in the records).
        shard: The shard.
        iterator_type: ``AT_TIMESTAMP``, ``AT_SEQUENCE_NUMBER``, ``TRIM_HORIZON`` or ``LATEST``.
        timestamp: For ``AT_TIMESTAMP``.
        sequence_number: For ``AT_SEQUENCE_NUMBER``.
        limit: Records per GetRecords call.
    """

    client: Any
    stream_name: str
    arn: str
    shard: ShardInfo
    iterator_type: str
    timestamp: datetime | None = None
    sequence_number: str | None = None
    limit: int = GET_RECORDS_LIMIT
    finished: bool = field(default=False, init=False)
    """True when a closed shard is drained (or the shard no longer exists)."""
    last_sequence: str | None = field(default=None, init=False)
    _iterator: str | None = field(default=None, init=False, repr=False)
    _started: bool = field(default=False, init=False, repr=False)

    def _new_iterator(self) -> str | None:
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard.shard_id}
        if self.last_sequence is not None:
            kwargs.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                StartingSequenceNumber=self.last_sequence,
            )
        else:
            kwargs["ShardIteratorType"] = self.iterator_type
            if self.timestamp is not None:
                kwargs["Timestamp"] = self.timestamp
            if self.sequence_number is not None:
                kwargs["StartingSequenceNumber"] = self.sequence_number
        with aws_errors(f"shard {self.shard.shard_id} of stream '{self.stream_name}'"):
            return self.client.get_shard_iterator(**kwargs).get("ShardIterator")

    def poll(self) -> tuple[list[SourceRecord], bool]:
        """Read one page.

        Returns:
            The records of the page, and whether the reader is caught up with the tip of the
            shard (an empty page with ``MillisBehindLatest`` 0, or the end of a closed shard).
        """
        if self.finished:
            return [], True
        if not self._started:
            self._started = True
            self._iterator = self._new_iterator()
        if self._iterator is None:
            self.finished = True
            return [], True
        try:
            with aws_errors(f"shard {self.shard.shard_id} of stream '{self.stream_name}'"):
                response = self.client.get_records(ShardIterator=self._iterator, Limit=self.limit)
        except ClientError as exc:
            if error_code(exc) != "ExpiredIteratorException":
                raise
            self._iterator = self._new_iterator()
            return [], False
        raw = response.get("Records", [])
        records = [
            SourceRecord(
                source="kinesis",
                stream_arn=self.arn,
                shard_id=self.shard.shard_id,
                sequence_number=str(r["SequenceNumber"]),
                partition_key=str(r["PartitionKey"]),
                data=bytes(r["Data"]),
                arrival=r.get("ApproximateArrivalTimestamp"),
            )
            for r in raw
        ]
        if records:
            self.last_sequence = records[-1].sequence_number
        self._iterator = response.get("NextShardIterator")
        caught_up = not raw and int(response.get("MillisBehindLatest", 0) or 0) == 0
        ending = self.shard.ending_sequence
        if self._iterator is None:
            self.finished, caught_up = True, True
        elif self.shard.closed and (
            caught_up
            or (ending is not None and self.last_sequence is not None
                and int(self.last_sequence) >= ending)
        ):
            # A closed shard is drained. (AWS ends the iterator; moto never does.)
            self.finished, caught_up = True, True
        elif not raw and not caught_up:
            time.sleep(EMPTY_PAGE_PAUSE_SECONDS)
        return records, caught_up
