"""Lambda event shapes (Kinesis, SQS, DynamoDB Streams) as Lambda documents them, built from
what the moto server really stored. Shared by the runtime and the handler tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"


def kinesis_event(records: Iterable[tuple[str, dict[str, Any]]], stream_name: str = "events") -> dict[str, Any]:
    """A Lambda Kinesis event from ``(shard_id, GetRecords record)`` pairs."""
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream_name}"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(record["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{record['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/consumer",
                "awsRegion": REGION,
                "eventSourceARN": arn,
            }
            for shard_id, record in records
        ]
    }


def sqs_event_from_messages(queue_arn: str, messages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda SQS event from ReceiveMessage messages of the queue ``queue_arn``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def dynamodb_stream_event(table_name: str) -> dict[str, Any]:
    """Every stream record of ``table_name`` as a Lambda DynamoDB Streams event (wire format:
    attribute values as DynamoDB JSON, times as epoch seconds)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(streams.get_records(ShardIterator=iterator)["Records"])
    out = []
    for r in records:
        change = dict(r["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if created is not None and hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = created.timestamp()
        record = {
            "eventID": r["eventID"],
            "eventName": r["eventName"],
            "eventVersion": r.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": stream_arn,
        }
        if "userIdentity" in r:
            record["userIdentity"] = {"type": r["userIdentity"]["Type"], "principalId": r["userIdentity"]["PrincipalId"]}
        out.append(record)
    return {"Records": out}
