"""Helpers shared by the tools' tests (not fixtures): stream reads, DLQ documents."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any


def read_stream(kinesis: Any, stream: str) -> list[tuple[str, str, bytes]]:
    """Every record of a stream as (shard, key, data), shard by shard."""
    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]
        out.extend((shard["ShardId"], r["PartitionKey"], r["Data"]) for r in records)
    return out


def on_failure_record(
    stream_arn: str, shard_id: str, start: str, end: str, batch_size: int, *,
    kind: str = "KinesisBatchInfo", payload: dict[str, Any] | None = None,
) -> str:
    """An on-failure invocation record exactly as Lambda documents it (SQS/SNS: metadata
    only; S3 adds ``payload``, the original event as an escaped JSON string)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:consumer",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": now,
        kind: {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": now,
            "approximateArrivalOfLastRecord": now,
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }
    if payload is not None:
        document["payload"] = json.dumps(payload)
    return json.dumps(document)


def queue_depth(sqs: Any, url: str) -> int:
    """Visible + in-flight messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
