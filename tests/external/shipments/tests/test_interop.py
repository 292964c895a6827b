"""The library's objects passed to aws-cdk-lib and to each other (cdk-event-pipeline issue 10,
finding 1): each mix synthesizes and wires exactly what it says."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions

from shipments_infra import interop


def synth(context: dict[str, Any], mix: Any) -> tuple[assertions.Template, Any]:
    stack = cdk.Stack(cdk.App(context=context), "Interop")
    built = mix(stack)
    return assertions.Template.from_stack(stack), built


def ref(construct: Any) -> dict[str, str]:
    child = construct.node.default_child
    return {"Ref": cdk.Stack.of(construct).get_logical_id(child if child is not None else construct)}


def policy_actions(template: assertions.Template, role: Any) -> set[str]:
    found: set[str] = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if ref(role) in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                action = statement["Action"]
                found |= {action} if isinstance(action, str) else set(action)
    return found


def test_plain_bucket_grants_read_to_a_pipeline_function(context: dict[str, Any]) -> None:
    template, (_, function) = synth(context, interop.bucket_grant_read_to_pipeline_function)
    assert "s3:GetObject*" in policy_actions(template, function.role)


def test_event_stream_grants_put_to_a_pipeline_function(context: dict[str, Any]) -> None:
    template, (_, function) = synth(context, interop.stream_grant_put_to_pipeline_function)
    assert {a for a in policy_actions(template, function.role) if a.startswith("kinesis:")} == {
        "kinesis:PutRecord", "kinesis:PutRecords"}


def test_pipeline_function_as_a_producer(context: dict[str, Any]) -> None:
    template, (stream, _) = synth(context, interop.pipeline_function_as_producer)
    template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like({"STREAM_NAME": ref(stream.stream)})},
    })


def test_pipeline_function_as_a_consumer(context: dict[str, Any]) -> None:
    template, (consumer, function) = synth(context, interop.pipeline_function_as_consumer)
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"FunctionName": ref(function)})
    assert "kinesis:GetRecords" in policy_actions(template, function.role)


def test_stream_consumer_of_an_event_stream(context: dict[str, Any]) -> None:
    template, (stream, _) = synth(context, interop.consumer_of_an_event_stream)
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [ref(stream.stream)["Ref"], "Arn"]},
    })


def test_pipeline_function_as_an_eventbridge_target(context: dict[str, Any]) -> None:
    template, (_, function) = synth(context, interop.pipeline_function_as_rule_target)
    template.has_resource_properties("AWS::Lambda::Permission", {
        "Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": [ref(function)["Ref"], "Arn"]},
    })
