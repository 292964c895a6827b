"""The fan-out consumer waiter's handlers (``lambdas/fan_out_waiter``, issue 17 item 7).

The Provider framework calls ``is_complete`` every query interval until it returns ``IsComplete:
True``; the polls here are driven the same way, one call per interval. A consumer that stays
CREATING keeps the answer ``False`` (the framework's state machine then times out and reports
FAILED: its retry count is checked on the template in tests/test_platform_cross_account.py).

Statuses a real Kinesis goes through (CREATING, then ACTIVE; DELETING) come from a botocore
``Stubber`` on a real client, since moto registers consumers ACTIVE at once; the moto server
checks the real request and the ACTIVE answer over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from handler_events import REGION

STREAM_ARN = "arn:aws:kinesis:us-east-1:111111111111:stream/events"
CONSUMER_ARN = f"{STREAM_ARN}/consumer/reader:1767225600"


@pytest.fixture
def waiter(load_handler: Callable[[str, str], ModuleType]) -> ModuleType:
    return load_handler("fan_out_waiter", "fan_out_waiter_handler")


def request(kind: str, arn: str = CONSUMER_ARN, **extra: Any) -> dict[str, Any]:
    return {"RequestType": kind, "ResourceProperties": {"ServiceToken": "x", "ConsumerArn": arn}, **extra}


def described(status: str, arn: str = CONSUMER_ARN) -> dict[str, Any]:
    return {"ConsumerDescription": {
        "ConsumerName": "reader", "ConsumerARN": arn, "ConsumerStatus": status,
        "ConsumerCreationTimestamp": 1767225600, "StreamARN": STREAM_ARN}}


def stubbed(responses: list[str | dict[str, Any]]) -> tuple[Any, Stubber]:
    """A Kinesis client answering DescribeStreamConsumer with ``responses`` in order: a status, or
    ``{"error": code}``."""
    client = boto3.client("kinesis", region_name=REGION, endpoint_url="http://127.0.0.1:9")
    stubber = Stubber(client)
    for response in responses:
        if isinstance(response, dict):
            stubber.add_client_error("describe_stream_consumer", service_error_code=response["error"],
                                     expected_params={"ConsumerARN": CONSUMER_ARN})
        else:
            stubber.add_response("describe_stream_consumer", described(response), {"ConsumerARN": CONSUMER_ARN})
    stubber.activate()
    return client, stubber


def test_create_names_the_consumer_as_the_physical_id(waiter):
    assert waiter.on_event(request("Create"), None) == {"PhysicalResourceId": CONSUMER_ARN}
    # a replaced consumer has a new ARN: a new physical id, so CloudFormation deletes the old resource
    new_arn = f"{STREAM_ARN}/consumer/reader:1767229200"
    assert waiter.on_event(request("Update", new_arn, PhysicalResourceId=CONSUMER_ARN), None) == {
        "PhysicalResourceId": new_arn}


def test_active_after_three_polls(waiter):
    client, stubber = stubbed(["CREATING", {"error": "ResourceNotFoundException"}, "CREATING", "ACTIVE"])
    answers = [waiter.is_complete(request("Create"), None, client) for _ in range(4)]
    assert answers == [{"IsComplete": False}] * 3 + [{"IsComplete": True, "Data": {"ConsumerStatus": "ACTIVE"}}]
    stubber.assert_no_pending_responses()


def test_a_consumer_that_stays_creating_never_completes(waiter):
    polls = 50
    client, stubber = stubbed(["CREATING"] * polls)
    assert all(waiter.is_complete(request("Create"), None, client) == {"IsComplete": False} for _ in range(polls))
    stubber.assert_no_pending_responses()


def test_throttling_means_ask_again(waiter):
    client, _ = stubbed([{"error": "LimitExceededException"}, "ACTIVE"])
    assert waiter.is_complete(request("Update"), None, client) == {"IsComplete": False}
    assert waiter.is_complete(request("Update"), None, client)["IsComplete"] is True


def test_a_deleting_consumer_fails_the_resource_at_once_with_the_reason(waiter):
    client, _ = stubbed(["DELETING"])
    with pytest.raises(waiter.ConsumerNotActivatingError) as raised:
        waiter.is_complete(request("Create"), None, client)
    assert str(raised.value) == (
        f"The stream consumer {CONSUMER_ARN} is DELETING, not CREATING: it will never become ACTIVE, so its "
        "resource policy cannot be attached. Check who deregistered it, then deploy again.")


def test_access_denied_is_not_retried(waiter):
    client, _ = stubbed([{"error": "AccessDeniedException"}])
    with pytest.raises(Exception, match="AccessDeniedException"):
        waiter.is_complete(request("Create"), None, client)


def test_delete_is_a_no_op(waiter):
    client, stubber = stubbed([])  # any Kinesis call would fail: the stub has no response
    assert waiter.on_event(request("Delete", PhysicalResourceId=CONSUMER_ARN), None) == {
        "PhysicalResourceId": CONSUMER_ARN}
    assert waiter.is_complete(request("Delete", PhysicalResourceId=CONSUMER_ARN), None, client) == {
        "IsComplete": True}
    stubber.assert_no_pending_responses()


def test_against_the_moto_server(waiter):
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="events", ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamARN"]
    arn = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="reader")["Consumer"]["ConsumerARN"]
    # the module's own client (made on first use, against AWS_ENDPOINT_URL), as in Lambda
    assert waiter.is_complete(request("Create", arn), None) == {"IsComplete": True, "Data": {"ConsumerStatus": "ACTIVE"}}
    missing = f"{stream_arn}/consumer/gone:1"
    assert waiter.is_complete(request("Create", missing), None) == {"IsComplete": False}
