"""The inventory updater on Kinesis events read back from the moto stream, with a real moto
idempotency table (partition key ``id``, TTL ``expiration``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from handler_events import (
    REGION,
    CallRecorder,
    FakeContext,
    Output,
    create_idempotency_table,
    create_stream,
    create_table,
    failures,
    kinesis_event,
    partition_key_for_shard,
    read_stream,
    stream_event,
)

from event_pipeline_runtime import EventProducer

SKU_A = partition_key_for_shard("sku", 0, 2)  # orders are keyed by SKU; A and B hash to different shards
SKU_B = partition_key_for_shard("sku", 1, 2)


@pytest.fixture
def inventory(load_handler: Callable[[str, str], ModuleType], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("INVENTORY_TABLE_NAME", create_table("inventory", "sku"))
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", create_idempotency_table())
    create_stream(shards=2)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for sku, stock in ((SKU_A, 5), (SKU_B, 1)):
        dynamodb.put_item(TableName="inventory", Item={"sku": {"S": sku}, "stock": {"N": str(stock)}})
    return load_handler("orders", "inventory_handler")


def order(order_id: str, sku: str, quantity: Any, amount: Any = 10.0, **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "sku": sku, "quantity": quantity, "amount": amount, "customer_id": "c1", **extra}


def put_orders(*orders: dict[str, Any], key: str | None = None) -> None:
    """Put ``order.placed`` envelopes on the stream, partition key = SKU (or ``key``)."""
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    for data in orders:
        producer.put_event("order.placed", data, partition_key=key or str(data.get("sku") or "none"), id=f"evt-{data['order_id']}")
    producer.flush()


def stock(sku: str) -> int | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName="inventory", Key={"sku": {"S": sku}}).get("Item")
    return int(item["stock"]["N"]) if item else None


def test_a_batch_that_oversells_never_takes_stock_below_zero(
    inventory: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    put_orders(order("o1", SKU_A, 2), order("o2", SKU_A, 2), order("o3", SKU_A, 2), order("o4", SKU_B, 1), order("o5", SKU_B, 1))
    put_orders(order("o6", "sku-unknown", 1))
    capsys.readouterr()

    assert failures(inventory.handler(stream_event(), context)) == []  # rejections are successes

    assert stock(SKU_A) == 1 and stock(SKU_B) == 0
    assert stock("sku-unknown") is None  # the condition never creates an item
    out = Output.parse(capsys.readouterr().out)
    rejected = sorted(
        ((log["order_id"], log["reason"], log.get("stock")) for log in out.logs if log["message"] == "order.rejected"),
    )
    assert rejected == [("o3", "insufficient_stock", 1), ("o5", "insufficient_stock", 0), ("o6", "unknown_sku", None)]
    assert out.metric_total("OrderRejected") == 3
    assert out.metric_total("OrderApplied") == 3


def test_the_same_batch_twice_decrements_once(
    inventory: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    put_orders(order("o1", SKU_A, 2), order("o2", SKU_A, 1), order("o3", SKU_B, 1))
    event = stream_event()
    assert failures(inventory.handler(event, context)) == []
    assert (stock(SKU_A), stock(SKU_B)) == (2, 0)
    capsys.readouterr()

    assert failures(inventory.handler(event, context)) == []

    assert (stock(SKU_A), stock(SKU_B)) == (2, 0)
    out = Output.parse(capsys.readouterr().out)
    assert out.metric_total("OrderApplied") == 0
    assert out.metric_total("DuplicateRecordSkipped") == 3  # counted, not silent
    assert sorted(log["idempotency_key"] for log in out.logs if log["message"] == "Record already applied; skipped") == [
        "order.placed#evt-o1", "order.placed#evt-o2", "order.placed#evt-o3",
    ]
    keys = [
        item["id"]["S"]
        for item in boto3.client("dynamodb", region_name=REGION).scan(TableName="idempotency")["Items"]
    ]
    assert len(keys) == 3 and all(key.startswith("inventory#") for key in keys)


def test_other_event_types_are_ignored_and_counted(
    inventory: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only with a missing or wrong filter do non-orders reach the function: each is an
    explicit outcome (WARNING record.ignored with the reason, metric RecordIgnored)."""
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    producer.put({"type": "item.put", "version": 1, "id": "k1", "at": "2026-11-22T00:00:00.000Z", "content": "x", "data": {}}, "k1")
    producer.put_event("order.shipped", {"order_id": "o1"}, partition_key=SKU_A)
    producer.put({"not": "an envelope"}, SKU_A)
    producer.flush()
    capsys.readouterr()
    assert failures(inventory.handler(stream_event(), context)) == []
    assert stock(SKU_A) == 5
    out = Output.parse(capsys.readouterr().out)
    ignored = [log for log in out.logs if log["message"] == "record.ignored"]
    assert {log["level"] for log in ignored} == {"WARNING"}
    assert sorted(log["reason"] for log in ignored) == [
        "event type 'item.put' is not order.placed",
        "event type 'order.shipped' is not order.placed",
        "not an order.placed record (envelope type is missing)",
    ]
    assert out.metric_total("RecordIgnored") == 3


ENVELOPE_ERRORS = {
    "version-string": ({"version": "1"}, "envelope version must be an integer (given '1' (str))"),
    "version-float": ({"version": 1.0}, "envelope version must be an integer (given 1.0 (float))"),
    "version-bool": ({"version": True}, "envelope version must be an integer (given True (bool))"),
    "id-missing": ({"id": None}, "envelope id"),
    "id-number": ({"id": 42}, "envelope id must be a non-empty string (given 42 (int))"),
    "id-empty": ({"id": ""}, "envelope id must be a non-empty string (given '' (str))"),
    "at-number": ({"at": 17}, "envelope at must be a string or null (given 17 (int))"),
}


@pytest.mark.parametrize("case", list(ENVELOPE_ERRORS))
def test_an_order_that_is_not_a_valid_envelope_fails_with_its_reason(
    inventory: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Finding 2: it matches the order filter (type order.placed) but cannot be read as an
    order: a failure (retried, bisected, then the on-failure destination), never a silent skip."""
    change, reason = ENVELOPE_ERRORS[case]
    body = {"type": "order.placed", "version": 1, "id": "evt-x", "at": "2026-11-22T00:00:00.000Z", "data": order("x", SKU_A, 1)}
    body.update(change)
    if change.get("id", "") is None:
        del body["id"]
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    producer.put(body, SKU_A)
    producer.flush()
    records = read_stream("events")
    capsys.readouterr()

    assert failures(inventory.handler(kinesis_event(records), context)) == [records[0][1]["SequenceNumber"]]

    assert stock(SKU_A) == 5
    out = Output.parse(capsys.readouterr().out)
    (error,) = [log for log in out.logs if log["level"] == "ERROR"]
    assert error["error_type"] == "EnvelopeError" and reason in error["failure_reason"]
    assert out.metric_total("RecordIgnored") == 0 and out.metric_total("OrderApplied") == 0


def test_a_malformed_order_fails_while_the_others_apply(inventory: ModuleType, context: FakeContext) -> None:
    put_orders(order("a1", SKU_A, 1))
    put_orders({"order_id": "bad", "quantity": 1, "amount": 1, "customer_id": "c1"}, key=SKU_A)  # no sku
    put_orders(order("a2", SKU_A, 1), order("b1", SKU_B, 1))
    records = read_stream("events")
    by_order = {json.loads(r["Data"])["data"]["order_id"]: (shard, r) for shard, r in records}
    assert by_order["a1"][0] == by_order["bad"][0] == by_order["a2"][0] != by_order["b1"][0]

    response = inventory.handler(kinesis_event(records), context)

    # The malformed order fails; a2, behind it in the same shard, is held back (not applied,
    # reported failed, redelivered from the checkpoint); a1 and the other shard's b1 apply.
    assert sorted(failures(response)) == sorted([by_order["bad"][1]["SequenceNumber"], by_order["a2"][1]["SequenceNumber"]])
    assert (stock(SKU_A), stock(SKU_B)) == (4, 0)

    # The mapping retries from the checkpoint and bisects: the malformed order keeps failing
    # on its own (it ends in the on-failure destination); a2 then applies; a1 is not applied twice.
    assert failures(inventory.handler(kinesis_event([by_order["bad"]]), context)) == [by_order["bad"][1]["SequenceNumber"]]
    assert failures(inventory.handler(kinesis_event([by_order["a1"], by_order["a2"]]), context)) == []
    assert stock(SKU_A) == 3


@pytest.mark.parametrize(
    "data",
    [
        {"order_id": "x", "quantity": 1, "amount": 1, "customer_id": "c"},
        order("x", "", 1),
        order("x", SKU_A, 0),
        order("x", SKU_A, -2),
        order("x", SKU_A, "2"),
        order("x", SKU_A, 2.0),
        order("x", SKU_A, True),
        order("x", SKU_A, 1, amount=-1),
        order("x", SKU_A, 1, amount="10"),
        {"order_id": "x", "sku": SKU_A, "quantity": 1, "amount": 1},
    ],
    ids=["no-sku", "empty-sku", "zero", "negative", "string", "float", "bool", "negative-amount", "string-amount", "no-customer"],
)
def test_malformed_orders_fail(inventory: ModuleType, context: FakeContext, data: dict[str, Any]) -> None:
    put_orders(data, key=SKU_A)
    records = read_stream("events")
    assert failures(inventory.handler(kinesis_event(records), context)) == [records[0][1]["SequenceNumber"]]
    assert stock(SKU_A) == 5
    # The failed record's idempotency key was released, so a retry applies it for real.
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName="idempotency")["Count"] == 0


def test_inventory_calls_only_its_granted_actions(inventory: ModuleType, context: FakeContext) -> None:
    recorder = CallRecorder(inventory.dynamodb)
    put_orders(order("o1", SKU_A, 1), order("o2", SKU_B, 5))
    put_orders({"order_id": "bad", "sku": SKU_A, "quantity": 0, "amount": 1, "customer_id": "c"})
    inventory.handler(stream_event(), context)
    assert recorder.table_operations == {
        ("UpdateItem", "inventory"),
        ("PutItem", "idempotency"),
        ("UpdateItem", "idempotency"),
        ("DeleteItem", "idempotency"),
    }
