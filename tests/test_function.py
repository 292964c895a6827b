"""PipelineFunction is a lambda_.Function (issue 10, finding 1) and any function can get the
pipeline layers, with a warning for a consumer's or worker's own function without them (finding 6)."""

from __future__ import annotations

import warnings
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from cdk_event_pipeline import (
    EventStream,
    PipelineFunction,
    PipelineValidationError,
    WorkQueue,
    bundled_code,
    pipeline_layers,
    powertools_layer_arn,
)
from tests._cdk import get_att_arn, logical_id, new_app, role_statements

LAYER_WARNING = "cdk-event-pipeline:FunctionWithoutPipelineLayers"


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


def plain_function(scope: cdk.Stack, id: str, **props: Any) -> lambda_.Function:
    return lambda_.Function(scope, id, runtime=props.pop("runtime", lambda_.Runtime.PYTHON_3_14),
                            handler="audit_handler.handler", code=bundled_code("audit"), **props)


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    stack = cdk.Stack(new_app(), "Functions")
    fn = PipelineFunction(stack, "Producer", **code())
    events = EventStream(stack, "Events")
    events.connect_producer(fn)                          # AttributeError before: no add_environment
    events.grant_put(fn)                                 # jsii TypeError before: not an IGrantable
    reader = PipelineFunction(stack, "Reader", **code())
    consumer = events.add_consumer("Audit", function=reader)  # jsii TypeError before: not an IFunction
    bucket = s3.Bucket(stack, "Bodies", enforce_ssl=True)
    bucket.grant_read(fn)                                # aws-cdk-lib takes it as it is
    mine = plain_function(stack, "Mine", runtime=lambda_.Runtime.PYTHON_3_12,
                          architecture=lambda_.Architecture.X86_64)
    PipelineFunction.add_pipeline_layers(mine)
    PipelineFunction.add_pipeline_layers(mine)           # idempotent
    with_layers = plain_function(stack, "WithLayers", layers=pipeline_layers(stack))
    without = plain_function(stack, "Without")
    events.add_consumer("Bare", function=without)
    events.add_consumer("Layered", function=with_layers)
    WorkQueue(stack, "Jobs").add_worker("Worker", function=without)
    return {"stack": stack, "fn": fn, "reader": reader, "events": events, "consumer": consumer, "bucket": bucket, "mine": mine,
            "with_layers": with_layers, "template": assertions.Template.from_stack(stack),
            "warnings": assertions.Annotations.from_stack(stack)}


def test_pipeline_function_is_a_lambda_function(built):
    assert isinstance(built["fn"], lambda_.Function)
    reader = built["reader"]
    assert built["consumer"].function is reader
    assert built["consumer"].role is reader.role is reader.execution_role
    assert built["consumer"].log_group is reader.function_log_group


def test_role_and_log_group_are_siblings_with_derived_ids(built):
    stack = built["stack"]
    assert stack.node.find_child("ProducerRole") is built["fn"].execution_role
    assert stack.node.find_child("ProducerLogGroup") is built["fn"].function_log_group
    built["template"].has_resource_properties("AWS::Lambda::Function", {
        "Role": get_att_arn(built["fn"].execution_role),
        "LoggingConfig": {"LogGroup": {"Ref": logical_id(built["fn"].function_log_group)}},
    })


def test_exact_iam_through_every_path(built):
    fn, stream = built["fn"], built["events"].stream
    statements = role_statements(built["template"], fn.execution_role)
    assert statements[:2] == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(fn.function_log_group)},
        {"Action": ["kinesis:PutRecord", "kinesis:PutRecords"], "Effect": "Allow", "Resource": get_att_arn(stream)},
    ]
    assert [s["Resource"] for s in statements[2:]] == [
        [get_att_arn(built["bucket"]), {"Fn::Join": ["", [get_att_arn(built["bucket"]), "/*"]]}]]
    role = built["template"].to_json()["Resources"][logical_id(fn.execution_role)]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_deprecated_function_alias_returns_itself(built):
    fn = built["fn"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fn.function is fn
    assert [w.category for w in caught] == [DeprecationWarning]


def test_add_pipeline_layers_matches_the_functions_runtime_and_architecture(built):
    mine = built["mine"]
    layers = built["template"].to_json()["Resources"][logical_id(mine)]["Properties"]["Layers"]
    assert sorted(layers, key=str) == sorted([
        {"Fn::Join": ["", ["arn:aws:lambda:", {"Ref": "AWS::Region"},
                           ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"]]},
        {"Ref": logical_id(built["stack"].node.find_child("EventPipelineRuntimeLayer"))},
    ], key=str)
    built["template"].has_resource_properties("AWS::Lambda::LayerVersion", {
        "CompatibleRuntimes": ["python3.11", "python3.12", "python3.13", "python3.14"]})
    built["template"].resource_count_is("AWS::Lambda::LayerVersion", 1)


def test_pipeline_layers_reject_an_unsupported_runtime(stack):
    with pytest.raises(PipelineValidationError, match="runtime must be one of python3.11, .* \\(given python3.10\\)"):
        pipeline_layers(stack, runtime=lambda_.Runtime.PYTHON_3_10)
    assert "python313-arm64:27" in powertools_layer_arn(lambda_.Runtime.PYTHON_3_13)


def _layer_warnings(built: dict[str, Any]) -> dict[str, str]:
    found = built["warnings"].find_warning("*", assertions.Match.string_like_regexp("lacks the Powertools"))
    return {w.id: w.entry.data for w in found}


def test_a_given_function_without_the_layers_gets_a_warning(built):
    found = _layer_warnings(built)
    assert set(found) == {"/Functions/Events/Bare", "/Functions/Jobs/Worker"}
    assert all(LAYER_WARNING in text and "PipelineFunction.add_pipeline_layers(fn)" in text
               for text in found.values())


def test_given_functions_with_the_layers_get_no_warning(built):
    found = _layer_warnings(built)
    assert "/Functions/Events/Layered" not in found and "/Functions/Events/Audit" not in found


def test_imported_functions_are_not_checked_for_layers():
    stack = cdk.Stack(new_app(), "Imported")
    imported = lambda_.Function.from_function_attributes(
        stack, "Legacy", function_arn="arn:aws:lambda:us-east-1:111122223333:function:legacy",
        role=iam.Role.from_role_arn(stack, "LegacyRole", "arn:aws:iam::111122223333:role/legacy"))
    EventStream(stack, "Events").add_consumer("C", function=imported)
    assert assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("lacks the Powertools")) == []
