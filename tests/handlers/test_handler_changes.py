"""The change consumer on DynamoDB Streams events read back from moto's DynamoDB Streams."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import boto3
import pytest
from handler_events import REGION, FakeContext, Output, create_table, dynamodb_stream_event, failures


@pytest.fixture
def changes(load_handler: Callable[[str, str], ModuleType]) -> ModuleType:
    create_table("items", "id", stream=True)
    return load_handler("changes", "changes_handler")


def test_every_change_is_logged_and_counted(
    changes: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName="items", Item={"id": {"S": "k1"}, "status": {"S": "created"}})
    dynamodb.update_item(
        TableName="items",
        Key={"id": {"S": "k1"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "processed"}},
    )
    # An UpdateItem that creates an item: moto emits two INSERT records for it (FIELD-NOTES);
    # the consumer logs whatever the stream holds.
    dynamodb.update_item(
        TableName="items",
        Key={"id": {"S": "k2"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "created"}},
    )
    dynamodb.delete_item(TableName="items", Key={"id": {"S": "k1"}})
    event = dynamodb_stream_event("items")
    names = [r["eventName"] for r in event["Records"]]
    capsys.readouterr()

    assert failures(changes.handler(event, context)) == []

    out = Output.parse(capsys.readouterr().out)
    changed = [log for log in out.logs if log["message"] == "item.changed"]
    assert [c["event_name"] for c in changed] == names
    summary = [(c["event_name"], c["keys"], c.get("old_status"), c.get("new_status")) for c in changed]
    assert summary[:2] == [("INSERT", {"id": "k1"}, None, "created"), ("MODIFY", {"id": "k1"}, "created", "processed")]
    assert summary[-1] == ("REMOVE", {"id": "k1"}, "processed", None)
    assert ("INSERT", {"id": "k2"}, None, "created") in summary
    assert all(c["expired_by_ttl"] is False and c["sequence_number"] for c in changed)
    assert out.metric_total("ItemInserted") == names.count("INSERT")
    assert out.metric_total("ItemModified") == 1
    assert out.metric_total("ItemRemoved") == 1


def test_ttl_removal_is_flagged(changes: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName="items", Item={"id": {"S": "k1"}, "status": {"S": "created"}})
    dynamodb.delete_item(TableName="items", Key={"id": {"S": "k1"}})
    event = dynamodb_stream_event("items")
    # moto's TTL never expires items; a TTL deletion is a REMOVE made by the DynamoDB service.
    event["Records"][-1]["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    capsys.readouterr()
    assert failures(changes.handler(event, context)) == []
    removal = [log for log in Output.parse(capsys.readouterr().out).logs if log["message"] == "item.changed"][-1]
    assert removal["event_name"] == "REMOVE" and removal["expired_by_ttl"] is True


def test_an_unknown_event_name_fails(changes: ModuleType, context: FakeContext) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName="items", Item={"id": {"S": "k1"}})
    event = dynamodb_stream_event("items")
    event["Records"][0]["eventName"] = "TRUNCATE"
    assert failures(changes.handler(event, context)) == [event["Records"][0]["dynamodb"]["SequenceNumber"]]


def test_a_binary_key_is_logged(changes: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str]) -> None:
    """Lambda sends B keys as base64 text; the runtime decodes them (the handler used to fail
    such a record on every retry)."""
    boto3.client("dynamodb", region_name=REGION).put_item(TableName="items", Item={"id": {"S": "k1"}})
    event = dynamodb_stream_event("items")
    event["Records"][0]["dynamodb"]["Keys"] = {"id": {"B": "aGVsbG8="}}
    capsys.readouterr()
    assert failures(changes.handler(event, context)) == []
    captured = capsys.readouterr()
    assert "Logging error" not in captured.err
    (changed,) = [log for log in Output.parse(captured.out).logs if log["message"] == "item.changed"]
    assert changed["keys"] == {"id": "aGVsbG8="}  # logged as base64 text


@pytest.mark.parametrize(
    ("value", "reason"),
    [({"B": "aGVsbG8=junk"}, "Excess data after padding"), ({"N": "1e200"}, "cannot deserialize image")],
    ids=["binary-with-junk", "number-out-of-range"],
)
def test_an_undecodable_image_fails_with_its_reason(
    changes: ModuleType, context: FakeContext, capsys: pytest.CaptureFixture[str], value: dict, reason: str
) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName="items", Item={"id": {"S": "k1"}})
    event = dynamodb_stream_event("items")
    event["Records"][0]["dynamodb"]["NewImage"]["payload"] = value
    capsys.readouterr()
    assert failures(changes.handler(event, context)) == [event["Records"][0]["dynamodb"]["SequenceNumber"]]
    out = Output.parse(capsys.readouterr().out)
    (error,) = [log for log in out.logs if log["level"] == "ERROR"]
    assert error["error_type"] == "DecodeError" and reason in error["failure_reason"]
    assert out.metric_total("ItemInserted") == 0
