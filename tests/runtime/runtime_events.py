"""Event builders and test doubles for the runtime tests.

Lambda events are built from what the moto server really stored (Kinesis GetRecords, SQS
ReceiveMessage, DynamoDB Streams GetRecords), in the shapes Lambda documents.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

# The documented event shapes live in tests/lambda_events.py; re-exported here for the tests.
from tests.lambda_events import ACCOUNT, REGION, dynamodb_stream_event, kinesis_event, sqs_event_from_messages  # noqa: F401

# --- Kinesis ---------------------------------------------------------------------------------


def create_stream(client: Any, name: str = "events", shards: int = 1) -> str:
    """Create a provisioned stream and return its name."""
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    return name


def read_stream(client: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of every shard, in shard order: ``{shard_id: [GetRecords record, ...]}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for shard in client.list_shards(StreamName=name)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = client.get_shard_iterator(
            StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        while True:
            response = client.get_records(ShardIterator=iterator, Limit=10000)
            records.extend(response["Records"])
            if not response["Records"] or response.get("MillisBehindLatest", 0) == 0 and len(response["Records"]) < 10000:
                break
            iterator = response["NextShardIterator"]
        out[shard_id] = records
    return out


def stream_event(client: Any, name: str = "events") -> dict[str, Any]:
    """A Lambda Kinesis event holding everything in the stream, shard by shard."""
    shards = read_stream(client, name)
    return kinesis_event([(shard_id, r) for shard_id, records in shards.items() for r in records], name)


def synthetic_kinesis_event(
    payloads: list[bytes], *, shard_id: str = "shardId-000000000000", partition_key: str = "pk"
) -> dict[str, Any]:
    """A Kinesis event for raw payloads, without a stream (for pure decoding tests)."""
    now = time.time()
    return kinesis_event(
        [
            (
                shard_id,
                {
                    "PartitionKey": partition_key,
                    "SequenceNumber": str(49_000_000_000 + i),
                    "Data": payload,
                    "ApproximateArrivalTimestamp": _Timestamp(now),
                },
            )
            for i, payload in enumerate(payloads)
        ]
    )


@dataclass
class _Timestamp:
    value: float

    def timestamp(self) -> float:
        return self.value


@dataclass
class FlakyKinesis:
    """Wraps a real (moto-backed) Kinesis client and fails a share of PutRecords entries.

    Failed entries are not sent at all; their result says ``ProvisionedThroughputExceededException``
    (or ``InternalFailure``), as Kinesis reports them. Every request is recorded.
    """

    client: Any
    failure_rate: float = 0.3
    seed: int = 7
    fail_keys: set[str] | None = None
    requests: list[list[tuple[str, bytes]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def put_records(self, *, Records: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:  # noqa: N803
        self.requests.append([(r["PartitionKey"], r["Data"]) for r in Records])
        failed = {
            i
            for i, r in enumerate(Records)
            if (self.fail_keys is None or r["PartitionKey"] in self.fail_keys) and self._rng.random() < self.failure_rate
        }
        sent = [r for i, r in enumerate(Records) if i not in failed]
        real = iter(self.client.put_records(Records=sent, **kwargs)["Records"]) if sent else iter(())
        results = []
        for i in range(len(Records)):
            if i in failed:
                code = "ProvisionedThroughputExceededException" if i % 2 else "InternalFailure"
                results.append({"ErrorCode": code, "ErrorMessage": "injected"})
            else:
                results.append(next(real))
        return {"FailedRecordCount": len(failed), "Records": results}


# --- SQS ---------------------------------------------------------------------------------------


def sqs_event(client: Any, queue_url: str, *, max_messages: int = 10) -> dict[str, Any]:
    """Receive up to ``max_messages`` from moto and shape them as a Lambda SQS event."""
    arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages: list[dict[str, Any]] = []
    while len(messages) < max_messages:
        response = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - len(messages)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        batch = response.get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
    return sqs_event_from_messages(arn, messages)


# --- DynamoDB Streams --------------------------------------------------------------------------


# --- Lambda context --------------------------------------------------------------------------


@dataclass
class FakeContext:
    """The parts of ``LambdaContext`` the runtime and Powertools read."""

    function_name: str = "consumer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:consumer"
    aws_request_id: str = "req-1"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
