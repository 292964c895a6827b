"""Idempotency against a real (moto) DynamoDB table shaped as the construct makes it."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from runtime_events import REGION, stream_event, synthetic_kinesis_event

from event_pipeline_runtime import ConsumerRecord, EventProducer, encode_payload, make_envelope, pipeline_handler

LOG = logging.getLogger("tests.runtime.idempotency")


def _failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def _items(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]


def test_same_batch_twice_applies_each_record_once(
    kinesis: Any, stream: str, idempotency_table: str, context: Any
) -> None:
    producer = EventProducer(stream, client=kinesis)
    for n in range(30):
        producer.put_event("stock.reserved", {"n": n}, partition_key=f"sku-{n % 4}")
    for n in range(5):
        producer.put({"plain": n}, f"sku-{n}")  # no envelope: keyed by shardId:sequenceNumber
    producer.flush()
    event = stream_event(kinesis, stream)

    applied: Counter[str] = Counter()
    handler = pipeline_handler(lambda r: applied.update([r.idempotency_key]), source="kinesis", logger=LOG)
    assert _failures(handler(event, context)) == []
    assert _failures(handler(event, context)) == []  # redelivery: every record skipped as applied
    assert len(applied) == 35 and set(applied.values()) == {1}

    items = _items(idempotency_table)
    assert len(items) == 35
    now = time.time()
    for item in items:
        assert item["status"]["S"] == "COMPLETED"
        assert item["id"]["S"].startswith("local#")
        assert now + 23 * 3600 < int(item["expiration"]["N"]) <= now + 24 * 3600 + 5


def test_a_failed_record_is_applied_on_redelivery_and_nothing_else_twice(
    idempotency_table: str, context: Any
) -> None:
    event = synthetic_kinesis_event([encode_payload(make_envelope("t", {"n": n}, id=f"e{n}")) for n in range(6)])
    applied: list[int] = []
    fail_once = {3}

    def process(record: ConsumerRecord) -> None:
        n = record.data["n"]
        if n in fail_once:
            fail_once.discard(n)
            raise RuntimeError("transient")
        applied.append(n)

    handler = pipeline_handler(process, source="kinesis", logger=LOG)
    first = handler(event, context)
    assert len(_failures(first)) == 3  # e3 failed, e4 and e5 held back
    assert applied == [0, 1, 2]
    # Lambda redelivers from the checkpoint; here the whole batch again, to be strict.
    assert _failures(handler(event, context)) == []
    assert applied == [0, 1, 2, 3, 4, 5]


def test_duplicate_envelope_ids_in_one_batch_apply_once(idempotency_table: str, context: Any) -> None:
    # A producer retry after a lost response writes the same event twice.
    payload = encode_payload(make_envelope("t", {"n": 1}, id="same"))
    applied: list[Any] = []
    handler = pipeline_handler(applied.append, source="kinesis", logger=LOG)
    assert _failures(handler(synthetic_kinesis_event([payload, payload]), context)) == []
    assert len(applied) == 1


def test_in_progress_key_fails_the_record_for_a_later_retry(idempotency_table: str, context: Any) -> None:
    event = synthetic_kinesis_event([encode_payload(make_envelope("t", {"n": 1}, id="busy"))])
    applied: list[str] = []
    concurrent = pipeline_handler(lambda r: applied.append("concurrent"), source="kinesis", logger=LOG)
    seen_by_concurrent: dict[str, Any] = {}

    def process(record: ConsumerRecord) -> None:
        # While this invocation holds the key, another invocation gets the same record.
        seen_by_concurrent.update(concurrent(event, context))
        applied.append("first")

    first = pipeline_handler(process, source="kinesis", logger=LOG)
    assert _failures(first(event, context)) == []
    assert len(_failures(seen_by_concurrent)) == 1  # in progress: failed, comes back later
    assert applied == ["first"]
    assert _failures(concurrent(event, context)) == []  # the retry finds it applied
    assert applied == ["first"]


def test_custom_key_ttl_and_prefix(idempotency_table: str, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "120")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "inventory")
    payloads = [encode_payload({"order": "o1", "line": n}) for n in range(3)]
    applied: list[Any] = []
    handler = pipeline_handler(applied.append, source="kinesis", idempotency_key=lambda r: r.body["order"], logger=LOG)
    handler(synthetic_kinesis_event(payloads), context)
    assert len(applied) == 1  # one key per order
    (item,) = _items(idempotency_table)
    assert item["id"]["S"].startswith("inventory#")
    assert int(item["expiration"]["N"]) <= time.time() + 125


def test_idempotency_is_on_only_with_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE_NAME", raising=False)
    pipeline_handler(lambda r: None, source="sqs")  # off: no table needed
    with pytest.raises(ValueError, match="IDEMPOTENCY_TABLE_NAME"):
        pipeline_handler(lambda r: None, source="sqs", idempotent=True)


def test_a_skipped_duplicate_is_counted_and_logged(
    idempotency_table: str, context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No silent success: a record not applied because its key was already applied is an
    explicit outcome, the metric ``DuplicateRecordSkipped`` and an INFO line with the key."""
    from aws_lambda_powertools import Metrics

    metrics = Metrics(namespace="Tests", service="idempotency")
    metrics.clear_metrics()
    payload = encode_payload(make_envelope("t", {"n": 1}, id="same"))
    applied: list[Any] = []
    handler = pipeline_handler(applied.append, source="kinesis", logger=LOG, metrics=metrics)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert _failures(handler(synthetic_kinesis_event([payload, payload, payload]), context)) == []
    try:
        assert len(applied) == 1
        assert metrics.metric_set["DuplicateRecordSkipped"]["Value"] == [1.0, 1.0]
        skipped = [r for r in caplog.records if r.getMessage() == "Record already applied; skipped"]
        assert len(skipped) == 2
        assert {(r.outcome, r.idempotency_key) for r in skipped} == {("duplicate", "same")}
        assert skipped[0].record == "Kinesis record 49000000001"
    finally:
        metrics.clear_metrics()
