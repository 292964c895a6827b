"""The fraud detector on Kinesis events read back from the moto stream, with a real moto
idempotency table."""

from __future__ import annotations

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
    failures,
    read_stream,
    stream_event,
)

from event_pipeline_runtime import EventProducer


@pytest.fixture
def fraud(load_handler: Callable[[str, str], ModuleType], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", create_idempotency_table())
    create_stream()
    return load_handler("orders", "fraud_handler")


def put_orders(*orders: tuple[str, Any, Any]) -> None:
    """Put ``order.placed`` envelopes for ``(order_id, quantity, amount)``."""
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    for order_id, quantity, amount in orders:
        data = {"order_id": order_id, "sku": "sku-1", "quantity": quantity, "amount": amount, "customer_id": "c9"}
        producer.put_event("order.placed", data, partition_key=order_id, id=f"evt-{order_id}")
    producer.flush()


def suspected(out: Output) -> dict[str, list[str]]:
    return {log["order_id"]: log["reasons"] for log in out.logs if log["message"] == "fraud.suspected"}


def test_rule_positives_and_negatives(fraud: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    put_orders(
        ("amount-at-threshold", 1, 5000),
        ("amount-below", 20, 4999.99),  # quantity at its threshold is still fine
        ("quantity-above", 21, 10),
        ("both", 50, 9000.5),
        ("small", 1, 0),
    )
    capsys.readouterr()

    assert failures(fraud.handler(stream_event(), context)) == []

    out = Output.parse(capsys.readouterr().out)
    assert suspected(out) == {
        "amount-at-threshold": ["amount>=5000"],
        "quantity-above": ["quantity>20"],
        "both": ["amount>=5000", "quantity>20"],
    }
    line = next(log for log in out.logs if log["message"] == "fraud.suspected")
    assert line["level"] == "WARNING"
    assert {"order_id", "customer_id", "sku", "quantity", "amount", "reasons", "event_id"} <= set(line)
    assert out.metric_total("FraudSuspected") == 3
    assert out.metric_total("OrderScreened") == 5


def test_a_redelivered_order_is_reported_once(
    fraud: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    put_orders(("big", 1, 7000))
    event = stream_event()
    fraud.handler(event, context)
    assert len(suspected(Output.parse(capsys.readouterr().out))) == 1
    assert failures(fraud.handler(event, context)) == []
    assert suspected(Output.parse(capsys.readouterr().out)) == {}


def test_other_event_types_are_ignored_and_counted(
    fraud: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    producer.put_event("item.put", {"s3_key": "items/k1"}, partition_key="k1", id="k1")
    producer.put_event("order.cancelled", {"order_id": "o", "amount": 99999}, partition_key="o")
    producer.put({"amount": 99999}, "raw")
    producer.flush()
    capsys.readouterr()
    assert failures(fraud.handler(stream_event(), context)) == []
    out = Output.parse(capsys.readouterr().out)
    assert suspected(out) == {} and out.metric_total("OrderScreened") == 0
    assert out.metric_total("RecordIgnored") == 3
    assert len([log for log in out.logs if log["message"] == "record.ignored" and log["reason"]]) == 3


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": "1"}, "envelope version must be an integer (given '1' (str))"),
        ({"version": 1.0}, "envelope version must be an integer (given 1.0 (float))"),
        ({"id": 7}, "envelope id must be a non-empty string (given 7 (int))"),
        ({"id": None}, "envelope id must be a non-empty string (given None (NoneType))"),
    ],
    ids=["version-string", "version-float", "id-number", "id-null"],
)
def test_an_order_that_is_not_a_valid_envelope_fails(
    fraud: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str], change: dict[str, Any], reason: str
) -> None:
    """Finding 2: 5,000+ orders with a bad envelope were screened as "not an order" before."""
    data = {"order_id": "o", "sku": "s", "quantity": 1, "amount": 9000, "customer_id": "c"}
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    producer.put({"type": "order.placed", "version": 1, "id": "evt-o", "data": data, **change}, "p")
    producer.flush()
    ((_, record),) = read_stream("events")
    capsys.readouterr()
    assert failures(fraud.handler(stream_event(), context)) == [record["SequenceNumber"]]
    out = Output.parse(capsys.readouterr().out)
    (error,) = [log for log in out.logs if log["level"] == "ERROR"]
    assert error["error_type"] == "EnvelopeError" and reason in error["failure_reason"]


@pytest.mark.parametrize(
    "data",
    [
        {"order_id": "o", "sku": "s", "quantity": 1, "customer_id": "c"},
        {"order_id": "o", "sku": "s", "quantity": 1, "amount": "5000", "customer_id": "c"},
        {"order_id": "o", "sku": "s", "quantity": 1, "amount": -5, "customer_id": "c"},
        {"order_id": "o", "sku": "s", "quantity": 0, "amount": 1, "customer_id": "c"},
        {"sku": "s", "quantity": 1, "amount": 1, "customer_id": "c"},
        "not an object",
    ],
    ids=["no-amount", "string-amount", "negative-amount", "zero-quantity", "no-order-id", "not-an-object"],
)
def test_malformed_orders_fail(fraud: ModuleType, context: FakeContext, data: Any) -> None:
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION))
    producer.put_event("order.placed", data, partition_key="p")
    producer.flush()
    ((_, record),) = read_stream("events")
    assert failures(fraud.handler(stream_event(), context)) == [record["SequenceNumber"]]


def test_fraud_calls_only_the_idempotency_table(fraud: ModuleType, context: FakeContext) -> None:
    recorder = CallRecorder(fraud.dynamodb)
    put_orders(("o1", 1, 10), ("o2", 0, 10))
    fraud.handler(stream_event(), context)
    assert recorder.table_operations == {("PutItem", "idempotency"), ("UpdateItem", "idempotency"), ("DeleteItem", "idempotency")}
