"""The Shipments stack: explicit checks of what the team relies on, and one snapshot."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from constructs import IConstruct

from shipments_infra.stack import ShipmentsStack
from shipments_infra.streams import SHIPMENT_RECORD_AGE, ShipmentConsumer


@pytest.fixture(scope="module")
def stack(context: dict[str, Any]) -> ShipmentsStack:
    return ShipmentsStack(cdk.App(context=context), "Shipments")


@pytest.fixture(scope="module")
def template(stack: ShipmentsStack) -> assertions.Template:
    return assertions.Template.from_stack(stack)


def ref(construct: IConstruct) -> dict[str, str]:
    child = construct.node.default_child
    return {"Ref": cdk.Stack.of(construct).get_logical_id(child if child is not None else construct)}  # type: ignore[arg-type]


def arn(construct: IConstruct) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [ref(construct)["Ref"], "Arn"]}


def statements_of(template: assertions.Template, role: IConstruct) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if ref(role) in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_every_consumer_gives_up_after_six_hours(stack: ShipmentsStack, template: assertions.Template) -> None:
    assert isinstance(stack.printer, ShipmentConsumer) and isinstance(stack.tracker, ShipmentConsumer)
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    for mapping in mappings.values():
        assert mapping["Properties"]["MaximumRecordAgeInSeconds"] == SHIPMENT_RECORD_AGE.to_seconds()
        assert mapping["Properties"]["EventSourceArn"] == arn(stack.raw_stream)


def test_label_printer_keeps_the_library_defaults_it_did_not_change(
    stack: ShipmentsStack, template: assertions.Template
) -> None:
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": ref(stack.printer.function),
        "BatchSize": 50,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "label_handler.handler",
        "Environment": {"Variables": assertions.Match.object_like({"LABEL_BUCKET": ref(stack.labels)})},
    })


def test_label_printer_may_put_labels_in_the_plain_bucket(stack: ShipmentsStack, template: assertions.Template) -> None:
    assert stack.printer.role is not None
    puts = [s for s in statements_of(template, stack.printer.role) if "s3:PutObject" in actions(s)]
    assert puts, "the bucket's grant_put reached the library-built function's role"
    assert puts[0]["Resource"] == {"Fn::Join": ["", [arn(stack.labels), "/*"]]}


def test_tracker_is_the_teams_function_with_the_teams_dead_letter_queue(
    stack: ShipmentsStack, template: assertions.Template
) -> None:
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": ref(stack.tracker_function),
        "DestinationConfig": {"OnFailure": {"Destination": arn(stack.tracker_dlq)}},
    })
    granted = statements_of(template, stack.tracker_function.role)  # type: ignore[arg-type]
    assert any("sqs:SendMessage" in actions(s) and s["Resource"] == arn(stack.tracker_dlq) for s in granted)
    assert any("kinesis:GetRecords" in actions(s) and s["Resource"] == arn(stack.raw_stream) for s in granted)


def test_dispatcher_is_connected_to_the_stream_the_queue_and_the_table(
    stack: ShipmentsStack, template: assertions.Template
) -> None:
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "dispatch_handler.handler",
        "Environment": {"Variables": {
            "STREAM_NAME": ref(stack.raw_stream),
            "QUEUE_URL": assertions.Match.any_value(),
            "TABLE_NAME": assertions.Match.any_value(),
        }},
    })
    granted = statements_of(template, stack.dispatcher.role)  # type: ignore[arg-type]
    by_action = {a for s in granted for a in actions(s)}
    assert {"kinesis:PutRecord", "kinesis:PutRecords", "sqs:SendMessage", "dynamodb:PutItem"} <= by_action
    assert not any(a.endswith("*") and a.startswith("kinesis:") for a in by_action)


def test_the_librarys_alarms_notify_the_on_call_topic(stack: ShipmentsStack, template: assertions.Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    library_alarms = [a for a in alarms.values() if str(a["Properties"].get("AlarmName", "")).startswith("shipments-")]
    assert library_alarms
    for alarm in library_alarms:
        assert alarm["Properties"]["AlarmActions"] == [ref(stack.on_call)]


def test_template_snapshot(template: assertions.Template, template_snapshot: Any) -> None:
    # cdk_event_pipeline.testing's fixture: asset hashes, CDK metadata and the bootstrap check normalized
    assert template == template_snapshot
