"""The items API through function URL events (payload format 2.0) against the moto server."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from event_pipeline_runtime import parse_envelope
from handler_events import (
    REGION,
    CallRecorder,
    FakeContext,
    Output,
    create_bucket,
    create_queue,
    create_stream,
    create_table,
    function_url_event,
    read_stream,
    receive_messages,
)


@pytest.fixture
def api(load_handler: Callable[[str, str], ModuleType], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    queue_url, _ = create_queue()
    monkeypatch.setenv("BUCKET_NAME", create_bucket())
    monkeypatch.setenv("TABLE_NAME", create_table("items", "id", stream=True))
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("STREAM_NAME", create_stream())
    return load_handler("api", "api_handler")


def call(api: ModuleType, method: str, path: str, context: FakeContext, **kwargs: Any) -> tuple[int, Any]:
    response = api.handler(function_url_event(method, path, **kwargs), context)
    body = response.get("body")
    return response["statusCode"], json.loads(body) if body else None


def table_item(item_id: str) -> dict[str, Any] | None:
    return boto3.client("dynamodb", region_name=REGION).get_item(TableName="items", Key={"id": {"S": item_id}}).get("Item")


def test_put_writes_s3_table_queue_and_stream(api: ModuleType, context: FakeContext) -> None:
    status, item = call(api, "PUT", "/items/k1", context, body='{"hello": "world"}', headers={"content-type": "application/json"})

    assert status == 201
    assert item["id"] == "k1" and item["content"] == '{"hello": "world"}'
    assert item["s3_key"] == "items/k1" and item["status"] == "created"
    assert item["updated_at"].endswith("Z")

    obj = boto3.client("s3", region_name=REGION).get_object(Bucket="items-bucket", Key="items/k1")
    assert obj["Body"].read() == b'{"hello": "world"}'
    assert obj["ContentType"] == "application/json"

    stored = table_item("k1")
    assert {k: v["S"] for k, v in stored.items()} == item

    (message,) = receive_messages(api.QUEUE_URL)
    assert json.loads(message["Body"]) == {"type": "job.created", "id": "k1", "content": '{"hello": "world"}'}

    ((_, record),) = read_stream("events")
    assert record["PartitionKey"] == "k1"
    audit = json.loads(record["Data"])
    assert list(audit) == ["type", "version", "id", "at", "content", "data"]
    assert audit == {
        "type": "item.put",
        "version": 1,
        "id": "k1",
        "at": item["updated_at"],
        "content": '{"hello": "world"}',
        "data": {"s3_key": "items/k1", "status": "created"},
    }
    envelope = parse_envelope(audit)
    assert envelope is not None and (envelope.type, envelope.version, envelope.id) == ("item.put", 1, "k1")
    assert record["Data"] == json.dumps(audit, separators=(",", ":"), ensure_ascii=False).encode()  # compact JSON


def test_put_again_replaces_with_200_and_get_returns_item_with_body(api: ModuleType, context: FakeContext) -> None:
    assert call(api, "PUT", "/items/k1", context, body="first")[0] == 201
    status, item = call(api, "PUT", "/items/k1", context, body="second")
    assert status == 200 and item["content"] == "second"

    status, got = call(api, "GET", "/items/k1", context)
    assert status == 200
    assert got == {**item, "body": "second"}
    # Both PUTs are on the stream, in order, under the item's partition key.
    assert [json.loads(r["Data"])["content"] for _, r in read_stream("events")] == ["first", "second"]


def test_get_unknown_item_is_404(api: ModuleType, context: FakeContext) -> None:
    status, body = call(api, "GET", "/items/nope", context)
    assert status == 404
    assert "nope" in body["message"]


@pytest.mark.parametrize(
    "path",
    ["/items/" + "a" * 257, "/items/a*b", "/items/a%20b", "/items/caf%C3%A9", "/items/a:b"],
    ids=["257-chars", "star", "space", "non-ascii", "colon"],
)
def test_bad_id_is_400_and_writes_nothing(api: ModuleType, context: FakeContext, path: str) -> None:
    assert call(api, "PUT", path, context, body="x")[0] == 400
    assert call(api, "GET", path, context)[0] == 400
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="items-bucket").get("KeyCount") == 0
    assert read_stream("events") == []


def test_longest_valid_id_is_accepted(api: ModuleType, context: FakeContext) -> None:
    item_id = "A-z_0." + "x" * 250
    assert call(api, "PUT", f"/items/{item_id}", context, body="x")[0] == 201
    assert call(api, "GET", f"/items/{item_id}", context)[1]["body"] == "x"


def test_base64_body_is_decoded(api: ModuleType, context: FakeContext) -> None:
    status, item = call(api, "PUT", "/items/b64", context, body="héllo ✓".encode())
    assert status == 201 and item["content"] == "héllo ✓"
    obj = boto3.client("s3", region_name=REGION).get_object(Bucket="items-bucket", Key="items/b64")
    assert obj["Body"].read() == "héllo ✓".encode()
    assert json.loads(read_stream("events")[0][1]["Data"])["content"] == "héllo ✓"


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, 400),
        ({"body": ""}, 400),
        ({"body": "%%%not base64", "base64_encoded": True}, 400),
        ({"body": b"\xff\xfe binary"}, 400),
        ({"body": "x" * (100 * 1024 + 1)}, 413),
        ({"body": "\x01" * (100 * 1024)}, 413),  # within the content cap; escaped as \u0001 the job exceeds SQS's limit
    ],
    ids=["no-body", "empty-body", "bad-base64", "not-utf8", "too-large", "job-too-large"],
)
def test_invalid_bodies_are_rejected_before_any_write(
    api: ModuleType, context: FakeContext, kwargs: dict[str, Any], status: int
) -> None:
    assert call(api, "PUT", "/items/k1", context, **kwargs)[0] == status
    assert table_item("k1") is None
    assert receive_messages(api.QUEUE_URL) == []
    assert read_stream("events") == []


def test_unknown_route_is_404(api: ModuleType, context: FakeContext) -> None:
    assert call(api, "GET", "/items", context)[0] == 404
    assert call(api, "GET", "/items/a/b", context)[0] == 404
    assert call(api, "DELETE", "/items/k1", context)[0] == 404


def test_api_calls_exactly_the_granted_actions(api: ModuleType, context: FakeContext) -> None:
    recorder = CallRecorder(api.s3, api.dynamodb, api.sqs, api.kinesis)
    call(api, "PUT", "/items/k1", context, body="x")
    call(api, "PUT", "/items/k1", context, body="y")
    call(api, "GET", "/items/k1", context)
    call(api, "GET", "/items/missing", context)
    assert recorder.operations == {
        ("s3", "PutObject"),
        ("s3", "GetObject"),
        ("dynamodb", "PutItem"),
        ("dynamodb", "GetItem"),
        ("sqs", "SendMessage"),
        ("kinesis", "PutRecords"),
    }


def test_stream_throttling_gives_503_and_logs_it(
    api: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # Inject what Kinesis returns under throttling: every entry rejected, on every attempt.
    def throttle(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        entries = json.loads(params["body"])["Records"]  # the serialized PutRecords request
        return AWSResponse(params["url"], 200, {}, None), {
            "FailedRecordCount": len(entries),
            "Records": [{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}] * len(entries),
        }

    api.kinesis.meta.events.register("before-call.kinesis.PutRecords", throttle)
    capsys.readouterr()
    status, body = call(api, "PUT", "/items/k1", context, body="x")
    assert status == 503 and "retry" in body["message"]
    assert "Audit record not delivered to the stream" in Output.parse(capsys.readouterr().out).messages("ERROR")
    assert read_stream("events") == []


def test_non_retryable_stream_error_is_500(api: ModuleType, context: FakeContext) -> None:
    boto3.client("kinesis", region_name=REGION).delete_stream(StreamName="events")
    assert call(api, "PUT", "/items/k1", context, body="x")[0] == 500


def test_missing_s3_object_is_500(api: ModuleType, context: FakeContext) -> None:
    call(api, "PUT", "/items/k1", context, body="x")
    boto3.client("s3", region_name=REGION).delete_object(Bucket="items-bucket", Key="items/k1")
    assert call(api, "GET", "/items/k1", context)[0] == 500


def test_metrics_and_request_logs(api: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    call(api, "PUT", "/items/k1", context, body="x")
    call(api, "PUT", "/items/k1", context, body="y")
    call(api, "GET", "/items/k1", context)
    out = Output.parse(capsys.readouterr().out)
    assert out.metric_total("ItemCreated") == 1
    assert out.metric_total("ItemReplaced") == 1
    assert out.metric_total("ItemRead") == 1
    stored = [log for log in out.logs if log["message"] == "Item stored"]
    assert [log["item_created"] for log in stored] == [True, False]
    assert all(log["correlation_id"] == "c0ffee00-0000-4000-8000-000000000000" for log in stored)
    assert all("x" not in log.get("content", "") for log in stored)  # content is not logged


def test_missing_configuration_fails_at_init(load_handler: Callable[[str, str], ModuleType], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BUCKET_NAME", "TABLE_NAME", "QUEUE_URL", "STREAM_NAME"):
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv("QUEUE_URL")
    with pytest.raises(RuntimeError, match="QUEUE_URL"):
        load_handler("api", "api_handler")


def test_base64_helper_roundtrip() -> None:
    # The function URL sends binary bodies base64-encoded; the event builder does the same.
    event = function_url_event("PUT", "/items/x", body=b"\x00\x01")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01"
