"""How a stream mapping reads its source: Kinesis or DynamoDB Streams shards, through boto3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..tools.records import SourceRecord

#: Records read per GetRecords call (the Kinesis API maximum: GetRecords ``Limit``, Kinesis API reference).
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
