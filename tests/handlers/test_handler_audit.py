"""The Audit consumer on Kinesis events read back from the moto stream."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from types import ModuleType

import boto3
import pytest
from handler_events import (
    REGION,
    FakeContext,
    Output,
    create_stream,
    failures,
    kinesis_event,
    read_stream,
    stream_event,
)

from event_pipeline_runtime import EventProducer, make_envelope, put_events


@pytest.fixture
def audit(load_handler: Callable[[str, str], ModuleType]) -> ModuleType:
    create_stream()
    return load_handler("audit", "audit_handler")


def audit_lines(out: Output) -> list[str]:
    return [m for m in out.messages("INFO") if m.startswith("[")]


def test_every_record_is_logged_as_partition_key_and_compact_payload(
    audit: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = make_envelope("order.placed", {"sku": "ünï", "quantity": 1}, id="e1", at="2026-11-22T00:00:00.000Z")
    kinesis = boto3.client("kinesis", region_name=REGION)
    put_events("events", [("k1", envelope), ("k2", [1, "two", None]), ("k1", {"plain": True})], client=kinesis)
    put_events("events", [("gz", {"zipped": "yes"})], client=kinesis, compress=True)
    kinesis.put_record(StreamName="events", PartitionKey="raw", Data=b'{ "spaced" :  "json" }')
    capsys.readouterr()

    assert failures(audit.handler(stream_event(), context)) == []

    out = Output.parse(capsys.readouterr().out)
    assert audit_lines(out) == [
        '[k1] {"type":"order.placed","version":1,"id":"e1","at":"2026-11-22T00:00:00.000Z","data":{"sku":"ünï","quantity":1}}',
        '[k2] [1,"two",null]',
        '[k1] {"plain":true}',
        '[gz] {"zipped":"yes"}',
        '[raw] {"spaced":"json"}',
    ]
    assert out.metric_total("RecordsAudited") == 5


def test_kpl_aggregated_records_are_logged_per_user_record(
    audit: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    producer = EventProducer("events", client=boto3.client("kinesis", region_name=REGION), aggregate=True)
    for n in range(3):
        producer.put({"n": n}, "agg")
    producer.flush()
    assert len(read_stream("events")) == 1  # one aggregated Kinesis record
    capsys.readouterr()
    assert failures(audit.handler(stream_event(), context)) == []
    assert audit_lines(Output.parse(capsys.readouterr().out)) == ['[agg] {"n":0}', '[agg] {"n":1}', '[agg] {"n":2}']


def test_undecodable_record_is_reported_failed_with_a_logged_reason(
    audit: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    kinesis = boto3.client("kinesis", region_name=REGION)
    for key, data in [("ok", b'{"n":1}'), ("bad", b"not json"), ("later", b'{"n":3}')]:
        kinesis.put_record(StreamName="events", PartitionKey=key, Data=data)
    records = read_stream("events")
    capsys.readouterr()

    response = audit.handler(kinesis_event(records), context)

    sequence = [r["SequenceNumber"] for _, r in records]
    # The bad record fails; the later one of the same shard is held back (it comes back from
    # the checkpoint, in order) instead of being logged ahead of it.
    assert failures(response) == sequence[1:]
    out = Output.parse(capsys.readouterr().out)
    assert audit_lines(out) == ['[ok] {"n":1}']
    (error,) = [log for log in out.logs if log["level"] == "ERROR"]
    assert error["error_type"] == "DecodeError"
    assert error["item_identifier"] == sequence[1]
    assert "not UTF-8 JSON" in error["failure_reason"]


@pytest.mark.parametrize(
    "data",
    [gzip.compress(b"{broken"), b"\xff\xfe", json.dumps(make_envelope("t", {}, version=2)).encode()],
    ids=["broken-gzip-json", "not-utf8", "unsupported-version"],
)
def test_other_unconsumable_records_fail(audit: ModuleType, context: FakeContext, data: bytes) -> None:
    event = kinesis_event(
        [("shardId-000000000000", {"PartitionKey": "p", "SequenceNumber": "1", "Data": data, "ApproximateArrivalTimestamp": _Now()})]
    )
    assert failures(audit.handler(event, context)) == ["1"]


def test_invalid_base64_fails(audit: ModuleType, context: FakeContext) -> None:
    event = kinesis_event(
        [("shardId-000000000000", {"PartitionKey": "p", "SequenceNumber": "1", "Data": b"{}", "ApproximateArrivalTimestamp": _Now()})]
    )
    event["Records"][0]["kinesis"]["data"] = base64.b64encode(b"{}").decode().rstrip("=")  # bad padding
    assert failures(audit.handler(event, context)) == ["1"]


class _Now:
    def timestamp(self) -> float:
        return 1_795_312_800.0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (base64.b64encode(b'{"n":1}').decode() + "junk", "Excess data after padding"),
        ("  " + base64.b64encode(b'{"n":1}').decode(), "Only base64 data is allowed"),
        (base64.b64encode(gzip.compress(b"[" + b"0," * (4 * 1024 * 1024) + b"0]")).decode(), "inflates over the limit of 1572864"),
    ],
    ids=["base64-junk-after", "base64-leading-spaces", "gzip-bomb-8mib-of-json"],
)
def test_lenient_or_oversized_data_is_not_audited(
    load_handler: Callable[[str, str], ModuleType], context: FakeContext, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, data: str, reason: str,
) -> None:
    """Findings 8 and 4: junk around valid base64 was ignored and the record logged; an 8 MiB
    gzip-compressed JSON array was inflated and logged by a 256 MB function."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")  # read when the module loads
    audit = load_handler("audit", "audit_handler")
    event = kinesis_event(
        [("shardId-000000000000", {"PartitionKey": "p", "SequenceNumber": "1", "Data": b"{}", "ApproximateArrivalTimestamp": _Now()})]
    )
    event["Records"][0]["kinesis"]["data"] = data
    capsys.readouterr()
    assert failures(audit.handler(event, context)) == ["1"]
    out = Output.parse(capsys.readouterr().out)
    assert audit_lines(out) == []
    (error,) = [log for log in out.logs if log["level"] == "ERROR"]
    assert error["error_type"] in {"DecodeError", "DecodeLimitError"} and reason in error["failure_reason"]
