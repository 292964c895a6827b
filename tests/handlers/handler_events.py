"""Resource builders, Lambda event builders and log readers for the handler tests.

Every event is built from what the moto server really stored (Kinesis GetRecords, SQS
ReceiveMessage, DynamoDB Streams GetRecords) or, for the API, in the function URL request
format (payload version 2.0), in the shapes Lambda documents.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import boto3

# The documented event shapes live in tests/lambda_events.py; re-exported here for the tests.
from tests.lambda_events import ACCOUNT, REGION, dynamodb_stream_event, kinesis_event, sqs_event_from_messages  # noqa: F401

# --- resources ---------------------------------------------------------------------------------


def create_table(name: str, key: str, *, stream: bool = False, ttl_attribute: str | None = None) -> str:
    """Create an on-demand table with a string partition key; optionally a NEW_AND_OLD_IMAGES stream."""
    client = boto3.client("dynamodb", region_name=REGION)
    kwargs: dict[str, Any] = {}
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )
    if ttl_attribute:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
    return name


def create_idempotency_table(name: str = "idempotency") -> str:
    """The idempotency table as the constructs make it: partition key ``id``, TTL ``expiration``."""
    return create_table(name, "id", ttl_attribute="expiration")


def create_queue(name: str = "work", *, max_receive_count: int = 2) -> tuple[str, str]:
    """A queue with a DLQ (redrive after ``max_receive_count``); returns ``(queue_url, dlq_url)``.

    The visibility timeout is 0 so a failed message can be received again at once.
    """
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def create_stream(name: str = "events", shards: int = 1) -> str:
    """A provisioned Kinesis stream."""
    client = boto3.client("kinesis", region_name=REGION)
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    return name


def create_bucket(name: str = "items-bucket") -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
    return name


def partition_key_for_shard(prefix: str, shard: int, shards: int) -> str:
    """A partition key ``<prefix>-<n>`` that Kinesis hashes into shard ``shard`` of ``shards``
    (evenly split hash key ranges, as CreateStream makes them)."""
    width = 2**128 // shards
    for n in range(10_000):
        key = f"{prefix}-{n}"
        if min(int(hashlib.md5(key.encode()).hexdigest(), 16) // width, shards - 1) == shard:  # noqa: S324
            return key
    raise AssertionError("no key found")


# --- function URL (payload format 2.0) ---------------------------------------------------------


def function_url_event(
    method: str,
    path: str,
    *,
    body: str | bytes | None = None,
    base64_encoded: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Lambda function URL request event (payload format 2.0)."""
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode("ascii")
        base64_encoded = True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "user-agent": "pytest",
            "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "c0ffee00-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:02:00:00 +0000",
            "timeEpoch": 1795312800000,
        },
        "isBase64Encoded": base64_encoded,
    }
    if body is not None:
        event["body"] = body
    return event


# --- Kinesis -------------------------------------------------------------------------------------


def read_stream(name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record of every shard as ``(shard_id, GetRecords record)``, shard by shard."""
    client = boto3.client("kinesis", region_name=REGION)
    out: list[tuple[str, dict[str, Any]]] = []
    for shard in client.list_shards(StreamName=name)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        out.extend((shard["ShardId"], r) for r in client.get_records(ShardIterator=iterator)["Records"])
    return out


def stream_event(name: str = "events") -> dict[str, Any]:
    """A Lambda Kinesis event holding everything in the stream."""
    return kinesis_event(read_stream(name), name)


# --- SQS -----------------------------------------------------------------------------------------


def receive_messages(queue_url: str, max_messages: int = 10) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])


def sqs_event(queue_url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda SQS event from ReceiveMessage messages."""
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs_event_from_messages(arn, messages)


# --- DynamoDB Streams ----------------------------------------------------------------------------


# --- Lambda context and output -------------------------------------------------------------------


@dataclass
class FakeContext:
    """The parts of ``LambdaContext`` Powertools and the runtime read."""

    function_name: str = "handler"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:handler"
    aws_request_id: str = "req-1"
    deadline_ms: float = 0.0

    def __post_init__(self) -> None:
        self.deadline_ms = time.time() * 1000 + 60_000

    def get_remaining_time_in_millis(self) -> int:
        return int(self.deadline_ms - time.time() * 1000)


@dataclass
class Output:
    """Captured stdout split into Powertools log lines and EMF metric blobs."""

    logs: list[dict[str, Any]]
    metrics: list[dict[str, Any]]

    @classmethod
    def parse(cls, text: str) -> Output:
        logs: list[dict[str, Any]] = []
        metrics: list[dict[str, Any]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            obj = json.loads(line)
            (metrics if "_aws" in obj else logs).append(obj)
        return cls(logs, metrics)

    def messages(self, level: str | None = None) -> list[str]:
        return [log["message"] for log in self.logs if level is None or log["level"] == level]

    def metric_total(self, name: str) -> float:
        total = 0.0
        for blob in self.metrics:
            value = blob.get(name)
            if value is None:
                continue
            total += sum(value) if isinstance(value, list) else value
        return total


def failures(response: dict[str, Any]) -> list[str]:
    """The item identifiers of a partial batch response."""
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


class CallRecorder:
    """Records every AWS operation made through the given boto3 clients (botocore event hook),
    with the table it names, if any."""

    def __init__(self, *clients: Any) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        for client in clients:
            client.meta.events.register("before-parameter-build.*.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, params.get("TableName")))

    @property
    def operations(self) -> set[tuple[str, str]]:
        """``(service, operation)`` pairs called."""
        return {(service, operation) for service, operation, _ in self.calls}

    @property
    def table_operations(self) -> set[tuple[str, str | None]]:
        """``(operation, table name)`` pairs called."""
        return {(operation, table) for _, operation, table in self.calls}
