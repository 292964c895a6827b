"""The Worker on SQS events received from the moto queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import boto3
import pytest
from handler_events import (
    REGION,
    CallRecorder,
    FakeContext,
    Output,
    create_queue,
    create_table,
    failures,
    receive_messages,
    sqs_event,
)


@pytest.fixture
def worker(load_handler: Callable[[str, str], ModuleType], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("TABLE_NAME", create_table("items", "id"))
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item_id in ("a", "b"):
        dynamodb.put_item(
            TableName="items",
            Item={"id": {"S": item_id}, "status": {"S": "created"}, "updated_at": {"S": "2026-11-22T00:00:00.000Z"}},
        )
    return load_handler("worker", "worker_handler")


@pytest.fixture
def queue() -> tuple[str, str]:
    return create_queue(max_receive_count=2)


def send(queue_url: str, *bodies: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def job(item_id: str, job_type: str = "job.created") -> str:
    return json.dumps({"type": job_type, "id": item_id, "content": "x"})


def status(item_id: str) -> str | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName="items", Key={"id": {"S": item_id}}).get("Item")
    return item["status"]["S"] if item else None


def test_only_bad_messages_are_reported_failed(
    worker: ModuleType, queue: tuple[str, str], context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_url, _ = queue
    send(queue_url, job("a"), job("ghost"), job("b", "job.deleted"), "not json", "[1, 2]", json.dumps({"type": "job.created"}), job("b"))
    messages = receive_messages(queue_url)
    by_body = {m["Body"]: m["MessageId"] for m in messages}
    capsys.readouterr()

    response = worker.handler(sqs_event(queue_url, messages), context)

    assert sorted(failures(response)) == sorted(
        by_body[b]
        for b in (job("ghost"), job("b", "job.deleted"), "not json", "[1, 2]", json.dumps({"type": "job.created"}))
    )
    assert status("a") == status("b") == "processed"
    assert status("ghost") is None  # the condition never creates an item
    out = Output.parse(capsys.readouterr().out)
    assert out.metric_total("JobProcessed") == 2
    reasons = {log["error_type"] for log in out.logs if log["level"] == "ERROR"}
    assert reasons == {"ItemNotFoundError", "UnknownJobTypeError", "DecodeError", "MalformedJobError"}


def test_a_job_is_idempotent(worker: ModuleType, queue: tuple[str, str], context: FakeContext) -> None:
    queue_url, _ = queue
    send(queue_url, job("a"), job("a"))
    assert failures(worker.handler(sqs_event(queue_url, receive_messages(queue_url)), context)) == []
    assert status("a") == "processed"


def test_a_failing_message_ends_in_the_dlq_after_max_receive_count(
    worker: ModuleType, queue: tuple[str, str], context: FakeContext
) -> None:
    queue_url, dlq_url = queue
    send(queue_url, job("ghost"))
    for _ in range(2):  # max_receive_count = 2: Lambda leaves failed messages on the queue
        messages = receive_messages(queue_url)
        assert len(messages) == 1
        assert failures(worker.handler(sqs_event(queue_url, messages), context)) == [messages[0]["MessageId"]]
    assert receive_messages(queue_url) == []
    (dead,) = receive_messages(dlq_url)
    assert json.loads(dead["Body"])["id"] == "ghost"


def test_worker_calls_only_update_item(worker: ModuleType, queue: tuple[str, str], context: FakeContext) -> None:
    queue_url, _ = queue
    recorder = CallRecorder(worker.dynamodb)
    send(queue_url, job("a"), job("ghost"))
    worker.handler(sqs_event(queue_url, receive_messages(queue_url)), context)
    assert recorder.operations == {("dynamodb", "UpdateItem")}


@pytest.mark.parametrize(
    ("body", "error_type", "reason"),
    [
        ('{"type": "job.created", "id": NaN}', "DecodeError", "NaN is not JSON"),
        ("[" * 100_000 + "]" * 100_000, "DecodeError", "nested too deeply"),
        ('{"type": "job.created", "id": 5}', "MalformedJobError", "needs a non-empty string id"),
        ('{"type": "job.created", "id": ""}', "MalformedJobError", "needs a non-empty string id"),
        ('"job.created"', "MalformedJobError", "body is a JSON str, not an object"),
        ('{"type": "job.created", "version": 2, "id": "a"}', "UnsupportedVersionError", "envelope version 2"),
    ],
    ids=["nan", "nested-100000-deep", "id-number", "id-empty", "json-string", "envelope-version-2"],
)
def test_hostile_messages_fail_with_their_reason(
    worker: ModuleType, queue: tuple[str, str], context: FakeContext, capsys: pytest.CaptureFixture[str],
    body: str, error_type: str, reason: str,
) -> None:
    queue_url, _ = queue
    send(queue_url, body, job("a"))
    messages = receive_messages(queue_url)
    bad = next(m["MessageId"] for m in messages if m["Body"] == body)
    capsys.readouterr()
    assert failures(worker.handler(sqs_event(queue_url, messages), context)) == [bad]
    assert status("a") == "processed"
    out = Output.parse(capsys.readouterr().out)
    (error,) = [log for log in out.logs if log["level"] == "ERROR"]
    assert error["error_type"] == error_type and reason in error["failure_reason"]
