"""Helpers shared by the tools' tests (not fixtures): stream reads, DLQ documents."""

from __future__ import annotations

import base64
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
    kind: str = "KinesisBatchInfo", payload: Any = None,
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


def kinesis_event(puts: list[Any], stream_arn: str) -> dict[str, Any]:
    """The Lambda event a consumer got for these records (what an S3 ``payload`` holds)."""
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": p.partition_key,
                    "sequenceNumber": p.sequence_number,
                    "data": base64.b64encode(p.data).decode(),
                    "approximateArrivalTimestamp": 1700000000.0},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"{p.shard_id}:{p.sequence_number}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
        "awsRegion": "us-east-1", "eventSourceARN": stream_arn} for p in puts]}


def arrivals(kinesis: Any, stream: str) -> dict[tuple[str, str], datetime]:
    """ApproximateArrivalTimestamp (UTC) of every record, by (shard, sequence number)."""
    out = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for r in kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]:
            out[(shard["ShardId"], r["SequenceNumber"])] = r["ApproximateArrivalTimestamp"].astimezone(UTC)
    return out
