"""The items API through function URL events (payload format 2.0) against the moto server.

Hostile inputs (ids, bodies, headers, methods, paths) must end in a clear 4xx before any write;
AWS failures in 503 (transient, with ``Retry-After``) or 500; no exception leaves the handler.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_pipeline_runtime import parse_envelope


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
    [
        "/items/" + "a" * 257, "/items/a*b", "/items/a%20b", "/items/caf%C3%A9", "/items/a:b",
        "/items/.", "/items/..", "/items/...", "/items/.hidden", "/items/-flag", "/items/_x", "/items/",
        "/items/" + "a" * 1000, "/items/café", "/items/\u00e9t\u00e9", "/items/\ud800", "/items/%2E%2E",
        "/items/a\"b", "/items/a\\b", "/items/a\x00b", "/items/a\nb",
    ],
    ids=[
        "257-chars", "star", "space", "non-ascii", "colon",
        "dot", "dotdot", "three-dots", "leading-dot", "leading-dash", "leading-underscore", "empty",
        "1000-chars", "unicode", "unicode-nfc", "lone-surrogate", "encoded-dotdot",
        "quote", "backslash", "nul", "newline",
    ],
)
def test_bad_id_is_400_and_writes_nothing(api: ModuleType, context: FakeContext, path: str) -> None:
    status, body = call(api, "PUT", path, context, body="x")
    assert status == 400 and "item id must be" in body["message"]
    assert call(api, "GET", path, context)[0] == 400
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="items-bucket").get("KeyCount") == 0
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName="items")["Count"] == 0
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
        ({"body": "a\ud800b"}, 400),  # a lone surrogate: what a JSON "\ud800" escape in the event decodes to
        ({"body": "\udfff"}, 400),
        ({"body": "YQ==YQ==", "base64_encoded": True}, 400),  # data after the padding
        ({"body": "YQ", "base64_encoded": True}, 400),  # padding missing
        ({"body": " YQ==\n", "base64_encoded": True}, 400),  # whitespace around valid base64
        ({"body": "YQ==\x00", "base64_encoded": True}, 400),
        ({"body": "w6k=é", "base64_encoded": True}, 400),  # non-ASCII in a base64 body
        ({"body": "====", "base64_encoded": True}, 400),
        ({"body": base64.b64encode(b"a" * (100 * 1024 + 1)).decode(), "base64_encoded": True}, 413),
        ({"body": "A" * (4 * 1024 * 1024), "base64_encoded": True}, 413),  # refused before decoding
        ({"body": base64.b64encode(b"\xed\xa0\x80").decode(), "base64_encoded": True}, 400),  # UTF-8 of a surrogate
    ],
    ids=[
        "no-body", "empty-body", "bad-base64", "not-utf8", "too-large", "job-too-large",
        "lone-surrogate", "lone-low-surrogate", "base64-excess-data", "base64-no-padding",
        "base64-whitespace", "base64-nul", "base64-non-ascii", "base64-only-padding",
        "base64-too-large", "base64-huge", "base64-encoded-surrogate",
    ],
)
def test_invalid_bodies_are_rejected_before_any_write(
    api: ModuleType, context: FakeContext, kwargs: dict[str, Any], status: int
) -> None:
    assert call(api, "PUT", "/items/k1", context, **kwargs)[0] == status
    assert table_item("k1") is None
    assert receive_messages(api.QUEUE_URL) == []
    assert read_stream("events") == []


@pytest.mark.parametrize("path", ["/", "/items", "/items/a/b", "/items/k1/", "/other/k1", "/items//k1", "/ITEMS/k1"])
def test_unknown_path_is_404_for_any_method(api: ModuleType, context: FakeContext, path: str) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        status, body = call(api, method, path, context, body="x")
        assert (status, body["message"]) == (404, "Not found"), method
    assert table_item("k1") is None and read_stream("events") == []


@pytest.mark.parametrize("path", ["/items/k1", "/items/..", "/items/"])
def test_other_methods_on_an_item_are_405_with_allow(api: ModuleType, context: FakeContext, path: str) -> None:
    for method in ("POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO", "", "put\r\n"):
        response = api.handler(function_url_event(method, path, body="x"), context)
        assert response["statusCode"] == 405, method
        assert response["headers"]["Allow"] == "GET, PUT", method
        assert "GET or PUT" in json.loads(response["body"])["message"]
    assert table_item("k1") is None and read_stream("events") == []


def test_put_stores_a_normalized_content_type(api: ModuleType, context: FakeContext) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for n, (sent, stored) in enumerate([
        (None, "text/plain; charset=utf-8"),
        ("", "text/plain; charset=utf-8"),
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ('text/plain;charset="utf-8"; format=flowed', "text/plain; charset=utf-8"),
        ("text/plain; charset=us-ascii", "text/plain; charset=utf-8"),
        ("text/csv; header=present", "text/csv; charset=utf-8"),
        ("text/markdown", "text/markdown; charset=utf-8"),
        ("application/octet-stream ", "application/octet-stream"),
    ]):
        headers = {} if sent is None else {"content-type": sent}
        assert call(api, "PUT", f"/items/k{n}", context, body="x", headers=headers)[0] == 201, sent
        assert s3.get_object(Bucket="items-bucket", Key=f"items/k{n}")["ContentType"] == stored, sent


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain\r\nx-amz-meta-evil: 1", 400),
        ("text/plain\n", 400),
        ("text/plain\x00", 400),
        ("text/plain\x7f", 400),
        ("text/plain; charset=\u00e9", 400),
        ("text/plain\ud800", 400),
        ("text/plain; a=" + "b" * 300, 400),
        ("x" * 100_000, 400),
        ("text/plain, application/json", 400),  # two content-type headers, joined by Lambda
        ("text", 400),
        ("/plain", 400),
        ("text/plain; charset", 400),
        ('text/plain; charset="utf-8', 400),
        ("text/html", 415),
        ("image/svg+xml", 415),
        ("application/xml", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("text/plain; charset=iso-8859-1", 415),
        ("application/json; charset=utf-16", 415),
    ],
    ids=[
        "crlf", "lf", "nul", "del", "non-ascii", "lone-surrogate", "300-char-parameter", "100k-chars",
        "two-headers", "no-subtype", "no-type", "parameter-without-value", "unterminated-quote",
        "html", "svg", "xml", "form", "multipart", "latin-1", "utf-16",
    ],
)
def test_bad_content_type_is_rejected_before_any_write(
    api: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str], content_type: str, status: int
) -> None:
    capsys.readouterr()
    got, body = call(api, "PUT", "/items/k1", context, body="x", headers={"content-type": content_type})
    assert got == status
    assert "content-type" in body["message"] or "charset" in body["message"]
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="items-bucket").get("KeyCount") == 0
    assert table_item("k1") is None and receive_messages(api.QUEUE_URL) == [] and read_stream("events") == []
    out = Output.parse(capsys.readouterr().out)
    assert out.metric_total("RequestRejected") == 1
    assert [log["status_code"] for log in out.logs if log["message"] == "Request rejected"] == [status]
    assert "evil" not in json.dumps(out.logs)  # the reason is logged, never the client's input


def test_job_message_escapes_what_sqs_does_not_accept(api: ModuleType, context: FakeContext) -> None:
    content = "a\ufffeb\uffffc\u2028\U0001f600"
    assert call(api, "PUT", "/items/k1", context, body=content)[0] == 201
    (message,) = receive_messages(api.QUEUE_URL)
    assert "\ufffe" not in message["Body"] and "\uffff" not in message["Body"]
    assert "\\ufffe" in message["Body"] and "\\uffff" in message["Body"]
    assert json.loads(message["Body"])["content"] == content
    assert json.loads(read_stream("events")[0][1]["Data"])["content"] == content


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
    response = api.handler(function_url_event("PUT", "/items/k1", body="x"), context)
    assert response["statusCode"] == 503 and "retry" in json.loads(response["body"])["message"]
    assert response["headers"]["Retry-After"] == "1"
    assert "Audit record not delivered to the stream" in Output.parse(capsys.readouterr().out).messages("ERROR")
    assert read_stream("events") == []


def test_non_retryable_stream_error_is_500(api: ModuleType, context: FakeContext) -> None:
    boto3.client("kinesis", region_name=REGION).delete_stream(StreamName="events")
    assert call(api, "PUT", "/items/k1", context, body="x")[0] == 500


class ConnectTimeouts:
    """A botocore ``before-send`` hook: every attempt of one operation times out connecting.

    Raised where botocore sends the HTTP request, so its retry handler and the runtime
    producer see exactly what an unreachable endpoint gives, however many attempts they make.
    """

    def __init__(self, client: Any, operation: str) -> None:
        self.attempts = 0
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service}.{operation}", self)

    def __call__(self, request: Any, **_: Any) -> None:
        self.attempts += 1
        raise ConnectTimeoutError(endpoint_url=request.url)


def test_stream_connect_timeouts_give_503_with_retry_after(
    api: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    timeouts = ConnectTimeouts(api.kinesis, "PutRecords")
    capsys.readouterr()
    response = api.handler(function_url_event("PUT", "/items/k1", body="x"), context)
    assert response["statusCode"] == 503, response
    assert int(response["headers"]["Retry-After"]) >= 1
    assert "retry" in json.loads(response["body"])["message"]
    assert timeouts.attempts >= 1
    out = Output.parse(capsys.readouterr().out)
    assert "Audit record not delivered to the stream" in out.messages("ERROR")
    assert out.metric_total("ServiceUnavailable") == 1
    assert read_stream("events") == []
    assert table_item("k1") is not None  # the steps before the stream are done; a retried PUT repeats them


def test_queue_connect_timeouts_give_503_and_nothing_on_the_stream(api: ModuleType, context: FakeContext) -> None:
    timeouts = ConnectTimeouts(api.sqs, "SendMessage")
    response = api.handler(function_url_event("PUT", "/items/k1", body="x"), context)
    assert response["statusCode"] == 503, response
    assert int(response["headers"]["Retry-After"]) >= 1
    assert timeouts.attempts >= 1
    assert receive_messages(api.QUEUE_URL) == [] and read_stream("events") == []


def test_bucket_connect_timeouts_give_503_and_nothing_written(api: ModuleType, context: FakeContext) -> None:
    ConnectTimeouts(api.s3, "PutObject")
    assert call(api, "PUT", "/items/k1", context, body="x")[0] == 503
    assert table_item("k1") is None and read_stream("events") == []


def test_table_5xx_gives_503(api: ModuleType, context: FakeContext) -> None:
    def internal_error(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        return AWSResponse(params["url"], 500, {}, None), {
            "Error": {"Code": "InternalServerError", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }

    api.dynamodb.meta.events.register("before-call.dynamodb.GetItem", internal_error)
    response = api.handler(function_url_event("GET", "/items/k1"), context)
    assert response["statusCode"] == 503 and response["headers"]["Retry-After"]


def test_non_retryable_queue_error_is_500(api: ModuleType, context: FakeContext) -> None:
    boto3.client("sqs", region_name=REGION).delete_queue(QueueUrl=api.QUEUE_URL)
    response = api.handler(function_url_event("PUT", "/items/k1", body="x"), context)
    assert response["statusCode"] == 500 and "Retry-After" not in response.get("headers", {})
    assert read_stream("events") == []


def test_malformed_event_is_500_not_an_exception(api: ModuleType, context: FakeContext) -> None:
    event = function_url_event("PUT", "/items/k1", body="x")
    del event["requestContext"]["http"]
    response = api.handler(event, context)
    assert response["statusCode"] == 500 and json.loads(response["body"])["message"] == "internal error"


_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)  # surrogates and controls included
_HOSTILE = st.sampled_from(["\r\n", "\n", "\x00", "\x7f", "\ud800", "\udfff", "\ufffe", "..", "/", ";", ",", '"', "é", "="])


def _mutated(base: str) -> st.SearchStrategy[str]:
    return st.builds(lambda bad, at: base[:at] + bad + base[at:], _HOSTILE, st.integers(0, len(base)))


_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "method": st.sampled_from(["POST", "DELETE", "PATCH", "HEAD", "put", ""]) | st.text(max_size=8),
    "path": _mutated("/items/k1") | st.builds(lambda segment: f"/items/{segment}", _TEXT) | _TEXT,
    "content_type": _mutated("text/plain; charset=utf-8") | _TEXT,
    "body": st.none() | _mutated("hello") | _TEXT | st.binary(max_size=40),
    "base64_encoded": st.just(True),
}


@settings(max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), field=st.sampled_from(sorted(_FIELDS)))
def test_no_client_input_gives_5xx_or_an_exception(api: ModuleType, context: FakeContext, data: st.DataObject, field: str) -> None:
    # A valid PUT with exactly one field replaced by something generated (often hostile).
    request: dict[str, Any] = {"method": "PUT", "path": "/items/k1", "content_type": "text/plain", "body": "hello",
                               "base64_encoded": False}
    request[field] = data.draw(_FIELDS[field], label=field)
    event = function_url_event(request["method"], request["path"], body=request["body"],
                               base64_encoded=request["base64_encoded"],
                               headers={"content-type": request["content_type"]})
    response = api.handler(event, context)
    assert response["statusCode"] in {200, 201, 400, 404, 405, 413, 415}, (event, response)
    json.loads(response["body"])
