"""Another package subclasses EventStream / StreamConsumer and changes one decision each."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from cdk_event_pipeline import bundled_code
from tests._cdk import logical_id, new_app

sys.path.insert(0, str(Path(__file__).parent / "other_package"))
from acme_pipeline import AcmeConsumer, AcmeStream  # noqa: E402


@pytest.fixture(scope="module")
def built():
    stack = cdk.Stack(new_app(), "Acme")
    stream = AcmeStream(stack, "Events")
    default = stream.add_consumer("Default", code=bundled_code("audit"), handler="audit_handler.handler")
    explicit = stream.add_consumer("Explicit", code=bundled_code("orders"), handler="fraud_handler.handler",
                                   batch_size=10)
    return stack, stream, default, explicit, assertions.Template.from_stack(stack)


def test_consumer_class_and_defaults_come_from_the_subclass(built):
    stack, stream, default, explicit, template = built
    assert isinstance(default, AcmeConsumer)
    template.has_resource_properties("AWS::Kinesis::Stream", {"RetentionPeriodHours": 168})
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(default.function)}, "BatchSize": 500,
        "MaximumRecordAgeInSeconds": 84 * 3600,  # half of the subclass's 7-day retention
    })
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(explicit.function)}, "BatchSize": 10,
    })


def test_overridden_function_factory(built):
    _, _, default, _, template = built
    template.has_resource_properties("AWS::Lambda::Function", {
        "MemorySize": 1024,
        "Environment": {"Variables": assertions.Match.object_like({"TEAM": "acme"})},
    })
    # what the subclass did not override is unchanged: the exact role, the safe mapping
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(default.function)},
        "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 10,
    })


def test_overridden_dead_letter_queue(built):
    _, _, default, _, template = built
    queue = template.find_resources("AWS::SQS::Queue")[logical_id(default.dead_letter_queue)]
    assert queue["Properties"]["VisibilityTimeout"] == 300
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
