"""The inventory updater on Kinesis events read back from the moto stream, with a real moto
idempotency table (partition key ``id``, TTL ``expiration``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from event_pipeline_runtime import EventProducer
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
    assert Output.parse(capsys.readouterr().out).metric_total("OrderApplied") == 0
    keys = [
        item["id"]["S"]
        for item in boto3.client("dynamodb", region_name=REGION).scan(TableName="idempotency")["Items"]
    ]
    assert len(keys) == 3 and all(key.startswith("inventory#") for key in keys)


def test_other_event_types_are_ignored(inventory: ModuleType, context: FakeContext) -> None:
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    producer.put({"type": "item.put", "version": 1, "id": "k1", "at": "2026-11-22T00:00:00.000Z", "content": "x", "data": {}}, "k1")
    producer.put_event("order.shipped", {"order_id": "o1"}, partition_key=SKU_A)
    producer.put({"not": "an envelope"}, SKU_A)
    producer.flush()
    assert failures(inventory.handler(stream_event(), context)) == []
    assert stock(SKU_A) == 5


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
