"""End to end on the moto server: PUT through the API, then the Audit consumer and the Worker
are fed what the API really produced (read back from the moto stream and queue)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import boto3
import pytest
from handler_events import (
    REGION,
    FakeContext,
    Output,
    create_bucket,
    create_queue,
    create_stream,
    create_table,
    dynamodb_stream_event,
    failures,
    function_url_event,
    kinesis_event,
    read_stream,
    receive_messages,
    sqs_event,
)


def test_put_item_flows_to_audit_log_worker_and_change_consumer(
    load_handler: Callable[[str, str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    context: FakeContext,
) -> None:
    queue_url, dlq_url = create_queue()
    monkeypatch.setenv("BUCKET_NAME", create_bucket())
    monkeypatch.setenv("TABLE_NAME", create_table("items", "id", stream=True))
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("STREAM_NAME", create_stream())
    api = load_handler("api", "api_handler")
    audit = load_handler("audit", "audit_handler")
    worker = load_handler("worker", "worker_handler")
    changes = load_handler("changes", "changes_handler")

    # 1. The client PUTs the item through the function URL.
    response = api.handler(function_url_event("PUT", "/items/k1", body="hello, pipeline"), context)
    assert response["statusCode"] == 201
    capsys.readouterr()

    # 2. The audit record the API put on the stream goes to the Audit consumer.
    records = read_stream("events")
    assert len(records) == 1
    data = records[0][1]["Data"]
    assert failures(audit.handler(kinesis_event(records), context)) == []
    out = Output.parse(capsys.readouterr().out)
    audit_lines = [m for m in out.messages("INFO") if m.startswith("[")]
    assert audit_lines == [f"[k1] {data.decode()}"]
    line = audit_lines[0]
    assert line.startswith('[k1] {"type":"item.put","version":1,"id":"k1","at":"')
    assert json.loads(line.removeprefix("[k1] "))["content"] == "hello, pipeline"
    assert out.metric_total("RecordsAudited") == 1

    # 3. The job the API sent to the queue goes to the Worker.
    messages = receive_messages(queue_url)
    assert len(messages) == 1
    assert failures(worker.handler(sqs_event(queue_url, messages), context)) == []
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName="items", Key={"id": {"S": "k1"}})["Item"]
    assert item["status"] == {"S": "processed"}
    assert item["processed_at"]["S"] >= item["updated_at"]["S"]
    assert Output.parse(capsys.readouterr().out).metric_total("JobProcessed") == 1

    # 4. The GET sees the worker's effect and the body from S3.
    got = api.handler(function_url_event("GET", "/items/k1"), context)
    assert got["statusCode"] == 200
    assert json.loads(got["body"])["status"] == "processed"
    assert json.loads(got["body"])["body"] == "hello, pipeline"

    # 5. The item table's change stream (API PutItem, then the Worker's UpdateItem) goes to the
    #    change consumer.
    capsys.readouterr()
    assert failures(changes.handler(dynamodb_stream_event("items"), context)) == []
    changed = [log for log in Output.parse(capsys.readouterr().out).logs if log["message"] == "item.changed"]
    assert [(c["event_name"], c["keys"], c.get("old_status"), c.get("new_status")) for c in changed] == [
        ("INSERT", {"id": "k1"}, None, "created"),
        ("MODIFY", {"id": "k1"}, "created", "processed"),
    ]
    assert receive_messages(dlq_url) == []
