"""What the local runner's sources yield, write API by write API, against what AWS documents.

DynamoDB Streams (DynamoDB Developer Guide, "Change data capture for DynamoDB Streams"; API
reference ``StreamSpecification`` / ``Record``): every item change is exactly one stream record,
in the order of the changes to that item; a write that changes nothing, a write refused by its
condition and a cancelled transaction write none; ``eventName`` is INSERT for a new item, MODIFY
for a changed one, REMOVE for a deleted one; ``Keys`` is always there; ``NewImage`` is there for
NEW_IMAGE / NEW_AND_OLD_IMAGES (not for REMOVE), ``OldImage`` for OLD_IMAGE / NEW_AND_OLD_IMAGES
(not for INSERT). Order is guaranteed per item only, so the records are compared per item.

Kinesis (``PutRecord`` / ``PutRecords``, ``HashKeyRange``, ``Record``): sequence numbers increase
per shard, ``ApproximateArrivalTimestamp`` is the put's time, an explicit hash key selects the
shard whose (inclusive) range holds it. SQS FIFO ("Using the message deduplication ID"): a
deduplication id is remembered for 5 minutes, whether or not the first message is still queued.

Where moto as shipped differs, the runner corrects it (``_moto._corrections``); each test that
showed a difference names its correction in its docstring and fails with the correction undone
(``test_each_correction_is_what_makes_its_test_pass``).
"""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cdk_event_pipeline.local import _moto

from .assembly_builder import TemplateBuilder

VIEWS = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
REGION = "eu-west-1"  # not moto's default: a record's awsRegion must be the table's


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _every_write_api(ddb: Any, table: str) -> None:
    """Each DynamoDB write API once, and the writes that must write no record."""
    ddb.put_item(TableName=table, Item={"id": _s("a"), "v": _n(1)})  # new: INSERT
    ddb.put_item(TableName=table, Item={"id": _s("a"), "v": _n(2)})  # overwrite: MODIFY
    ddb.put_item(TableName=table, Item={"id": _s("a"), "v": _n(2)})  # the same item again: no record
    ddb.update_item(TableName=table, Key={"id": _s("b")}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": _n(1)})  # creates the item: one INSERT
    ddb.update_item(TableName=table, Key={"id": _s("b")}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": _n(2)})  # modifies: MODIFY
    ddb.update_item(TableName=table, Key={"id": _s("b")}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": _n(2)})  # changes nothing: no record
    ddb.delete_item(TableName=table, Key={"id": _s("a")})  # REMOVE
    ddb.delete_item(TableName=table, Key={"id": _s("a")})  # nothing to delete: no record
    refused = [
        lambda: ddb.put_item(TableName=table, Item={"id": _s("b"), "v": _n(9)},
                             ConditionExpression="attribute_not_exists(id)"),
        lambda: ddb.update_item(TableName=table, Key={"id": _s("b")}, UpdateExpression="SET v = :nine",
                                ConditionExpression="v = :nine", ExpressionAttributeValues={":nine": _n(9)}),
        lambda: ddb.delete_item(TableName=table, Key={"id": _s("b")}, ConditionExpression="v = :nine",
                                ExpressionAttributeValues={":nine": _n(9)}),
    ]
    for write in refused:  # a conditional-check failure: no record
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):
            write()
    ddb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {"id": _s("c"), "v": _n(1)}}},
        {"PutRequest": {"Item": {"id": _s("d"), "v": _n(1)}}},
        {"DeleteRequest": {"Key": {"id": _s("b")}}},
    ]})
    ddb.transact_write_items(TransactItems=[  # an Update creating the balance item, plus a marker Put
        {"Update": {"TableName": table, "Key": {"id": _s("e")}, "UpdateExpression": "SET balance = :b",
                    "ExpressionAttributeValues": {":b": _n(10)}}},
        {"Put": {"TableName": table, "Item": {"id": _s("m"), "kind": _s("marker")}}},
    ])
    with pytest.raises(ClientError, match="TransactionCanceled"):  # cancelled: none of its writes
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"id": _s("c")}, "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": _n(5)}}},
            {"ConditionCheck": {"TableName": table, "Key": {"id": _s("d")}, "ConditionExpression": "v = :nine",
                                "ExpressionAttributeValues": {":nine": _n(9)}}},
        ])


#: Per item, the changes AWS records, in order: (eventName, old image, new image).
CHANGES: dict[str, list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]] = {
    "a": [("INSERT", None, {"id": _s("a"), "v": _n(1)}),
          ("MODIFY", {"id": _s("a"), "v": _n(1)}, {"id": _s("a"), "v": _n(2)}),
          ("REMOVE", {"id": _s("a"), "v": _n(2)}, None)],
    "b": [("INSERT", None, {"id": _s("b"), "v": _n(1)}),
          ("MODIFY", {"id": _s("b"), "v": _n(1)}, {"id": _s("b"), "v": _n(2)}),
          ("REMOVE", {"id": _s("b"), "v": _n(2)}, None)],
    "c": [("INSERT", None, {"id": _s("c"), "v": _n(1)})],
    "d": [("INSERT", None, {"id": _s("d"), "v": _n(1)})],
    "e": [("INSERT", None, {"id": _s("e"), "balance": _n(10)})],
    "m": [("INSERT", None, {"id": _s("m"), "kind": _s("marker")})],
}


def _documented(view: str) -> dict[str, list[dict[str, Any]]]:
    """What AWS documents each record of :data:`CHANGES` carries for a stream view type."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, changes in CHANGES.items():
        for event_name, old, new in changes:
            record: dict[str, Any] = {"eventName": event_name, "Keys": {"id": _s(key)}}
            if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
                record["NewImage"] = new
            if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
                record["OldImage"] = old
            out.setdefault(key, []).append(record)
    return out


def _yielded(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        change = record["dynamodb"]
        seen = {"eventName": record["eventName"], "Keys": change["Keys"]}
        seen.update({k: change[k] for k in ("NewImage", "OldImage") if k in change})
        out.setdefault(change["Keys"]["id"]["S"], []).append(seen)
    return out


@pytest.mark.parametrize("view", VIEWS)
def test_each_write_api_yields_one_stream_record_per_item_change(deploy, view: str) -> None:
    """``dynamodb.stream-records``: moto wrote two INSERTs for an item an UpdateItem creates (also in
    a transaction), a MODIFY for a write that changes nothing, and ``awsRegion`` us-east-1."""
    builder = TemplateBuilder()
    builder.table("Balances", stream=view)
    function = builder.function("Changes", "scenario_handler.record_all")
    builder.mapping("Mapping", function, {"Fn::GetAtt": ["Balances", "StreamArn"]}, BatchSize=100,
                    StartingPosition="TRIM_HORIZON")
    pipeline = deploy(builder, region=REGION)
    ddb = pipeline.client("dynamodb")
    table = pipeline.resource("Balances", "table").ref

    _every_write_api(ddb, table)
    pipeline.run_until_idle()

    records = pipeline.function("Changes").module.RECORDS
    assert _yielded(records) == _documented(view)
    assert len(records) == sum(len(c) for c in CHANGES.values()) == 10  # exactly one per item change
    assert {r["dynamodb"]["StreamViewType"] for r in records} == {view}
    assert {r["awsRegion"] for r in records} == {REGION}
    assert {r["eventSource"] for r in records} == {"aws:dynamodb"}
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    assert len({r["eventID"] for r in records}) == len(records)


# --- Kinesis --------------------------------------------------------------------------------------


def _kinesis(endpoint: Any) -> Any:
    return boto3.client("kinesis", endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def _read(kinesis: Any, stream: str, shard: str) -> list[dict[str, Any]]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]


@pytest.fixture
def corrected_endpoint(local_pipeline_endpoint: Any) -> Any:
    """The session's endpoint, reset, with the adapter in place (as a running pipeline holds it)."""
    local_pipeline_endpoint.reset()
    with _moto.patched():
        yield local_pipeline_endpoint
    local_pipeline_endpoint.reset()


def test_kinesis_sequence_numbers_increase_per_shard_and_arrival_is_the_put_time(corrected_endpoint) -> None:
    """A baseline (moto agrees with AWS): nothing to correct."""
    kinesis = _kinesis(corrected_endpoint)
    kinesis.create_stream(StreamName="payments", ShardCount=2)
    before = datetime.datetime.now(datetime.UTC)
    for batch in range(3):
        kinesis.put_records(StreamName="payments", Records=[
            {"Data": f"{batch}-{i}".encode(), "PartitionKey": f"customer-{i}"} for i in range(20)])
    after = datetime.datetime.now(datetime.UTC)

    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName="payments")["Shards"]]
    read = {shard: _read(kinesis, "payments", shard) for shard in shards}
    assert sum(len(r) for r in read.values()) == 60 and all(read.values())
    for records in read.values():
        numbers = [int(r["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        arrivals = [r["ApproximateArrivalTimestamp"] for r in records]
        assert arrivals == sorted(arrivals)
        assert all(before - datetime.timedelta(seconds=1) <= a <= after + datetime.timedelta(seconds=1)
                   for a in arrivals)
    # a partition key's records are all in one shard (the MD5 of the key picks it)
    by_key: dict[str, set[str]] = {}
    for shard, records in read.items():
        for r in records:
            by_key.setdefault(r["PartitionKey"], set()).add(shard)
    assert all(len(s) == 1 for s in by_key.values())


def test_an_explicit_hash_key_selects_the_shard_whose_range_holds_it(corrected_endpoint) -> None:
    """``kinesis.hash-key-range``: moto failed the put of a key equal to a shard's EndingHashKey."""
    kinesis = _kinesis(corrected_endpoint)
    kinesis.create_stream(StreamName="ledger", ShardCount=3)
    shards = kinesis.list_shards(StreamName="ledger")["Shards"]
    probes: list[tuple[str, str]] = []
    for shard in shards:
        low, high = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
        probes += [(str(key), shard["ShardId"]) for key in (low, (low + high) // 2, high)]
    assert probes[-1][0] == str(2**128 - 1)  # the highest ExplicitHashKey PutRecord allows

    for key, expected in probes:
        answer = kinesis.put_record(StreamName="ledger", Data=key.encode(), PartitionKey="p", ExplicitHashKey=key)
        assert answer["ShardId"] == expected, key
    answer = kinesis.put_records(StreamName="ledger", Records=[
        {"Data": key.encode(), "PartitionKey": "p", "ExplicitHashKey": key} for key, _ in probes])
    assert [r["ShardId"] for r in answer["Records"]] == [shard for _, shard in probes]
    assert answer["FailedRecordCount"] == 0
    for shard in shards:
        data = [r["Data"].decode() for r in _read(kinesis, "ledger", shard["ShardId"])]
        assert data == [key for key, s in probes if s == shard["ShardId"]] * 2


# --- SQS FIFO -------------------------------------------------------------------------------------


def test_a_fifo_duplicate_is_not_delivered_within_5_minutes_even_after_the_first_was_deleted(
        corrected_endpoint) -> None:
    """``sqs.fifo-deduplication``: moto delivered the duplicate once the first message was deleted."""
    sqs = boto3.client("sqs", endpoint_url=corrected_endpoint.url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    url = sqs.create_queue(QueueName="refunds.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    cbd = sqs.create_queue(QueueName="refunds-cbd.fifo",
                           Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]

    def send(queue: str, body: str, dedup: str | None = None) -> None:
        extra = {"MessageDeduplicationId": dedup} if dedup else {}
        assert sqs.send_message(QueueUrl=queue, MessageBody=body, MessageGroupId="g", **extra)["MessageId"]

    def drain(queue: str) -> list[str]:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return [m["Body"] for m in got]

    send(url, "refund r-1", "r-1")
    send(url, "refund r-1 again", "r-1")  # still queued: moto dropped this one already
    assert drain(url) == ["refund r-1"]
    send(url, "refund r-1 retried", "r-1")  # the first was deleted: still inside the 5 minutes
    send(url, "refund r-2", "r-2")
    assert drain(url) == ["refund r-2"]

    send(cbd, "same body")
    assert drain(cbd) == ["same body"]
    send(cbd, "same body")  # content-based: the same SHA-256, the same id
    send(cbd, "other body")
    assert drain(cbd) == ["other body"]


# --- the corrections are what make the tests above pass -------------------------------------------


def test_each_correction_is_applied_and_undone_with_the_adapter(local_pipeline_endpoint) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.kinesis.models import Stream
    from moto.sqs.models import Queue

    shipped = (StreamShard.add, DynamoDBBackend.update_item, Stream.get_shard_for_key, Queue.add_message)
    with _moto.patched() as applied:
        assert set(_moto.CORRECTIONS) <= set(applied), _moto.unavailable()
        assert all(a is not b for a, b in zip(shipped, (StreamShard.add, DynamoDBBackend.update_item,
                                                        Stream.get_shard_for_key, Queue.add_message),
                                              strict=True))
    assert (StreamShard.add, DynamoDBBackend.update_item, Stream.get_shard_for_key, Queue.add_message) == shipped
