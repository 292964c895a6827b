"""The reference app: snapshot, the acceptance contract of every mapping, IAM, cdk-nag, cfn-lint.

The app is synthesized once for the module, with cdk.json's context and the rule packs registered
exactly as ``app.py`` registers them (synthesis raises on an unacknowledged error; the packs'
findings and acknowledgments: ``tests/test_nag_clean.py``).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

import app as reference
from tests._cdk import (
    CONTEXT,
    actions_of,
    all_statements,
    cfn_lint,
    get_att_arn,
    logical_id,
    new_app,
    role_statements,
)


@pytest.fixture(scope="module")
def synthesized():
    cdk_app = reference.build_app(new_app())
    assembly = cdk_app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    stack = cdk_app.node.find_child("EventPipelineReference")
    template = assertions.Template.from_stack(stack)
    return stack, template, template.to_json(), Path(assembly.directory)


def test_template_snapshot(synthesized, template_snapshot):
    _, template, _, _ = synthesized
    assert template == template_snapshot


def _mappings(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template_json["Resources"].items()
            if v["Type"] == "AWS::Lambda::EventSourceMapping"}


def test_every_stream_mapping_has_the_safe_failure_settings(synthesized):
    _, _, template_json, _ = synthesized
    mappings = _mappings(template_json)
    assert len(mappings) >= 3
    for name, props in mappings.items():
        if "StartingPosition" not in props:  # SQS mappings have none of these settings
            continue
        assert props["BisectBatchOnFunctionError"] is True, name
        assert 0 <= props["MaximumRetryAttempts"] <= 10000, name
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 604800, name
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert "Destination" in props["DestinationConfig"]["OnFailure"], name


def test_order_pipeline_batch_sizes(synthesized):
    stack, template, _, _ = synthesized
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(stack.inventory.function)},
        "BatchSize": 100,
    })
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(stack.fraud.function)},
        "BatchSize": 50,
    })


def test_no_wildcard_resources_and_no_lambda_log_wildcards(synthesized):
    _, _, template_json, _ = synthesized
    # In a KMS key policy "Resource": "*" means the key itself (the only form KMS accepts).
    without_keys = {**template_json, "Resources": {
        k: v for k, v in template_json["Resources"].items() if v["Type"] != "AWS::KMS::Key"}}
    for statement in all_statements(without_keys):
        text = json.dumps(statement.get("Resource"))
        actions = actions_of(statement) if "Action" in statement else []
        if all(a.startswith("xray:") for a in actions) and actions:
            continue  # X-Ray accepts no resource but "*" (only when tracing=True; documented)
        if actions == ["dynamodb:ListStreams"]:
            continue  # takes no resource either: a change consumer's own statement (docs/security.md)
        assert text != '"*"', statement
        assert '"*"' not in text, statement
        assert "/aws/lambda/*" not in text, statement


def test_no_managed_policies_on_function_roles(synthesized):
    _, template, _, _ = synthesized
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"], role


def test_audit_consumer_role_is_exact(synthesized):
    stack, template, _, _ = synthesized
    audit = stack.audit
    statements = role_statements(template, audit.role)
    assert statements == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(audit.log_group)},
        {"Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                    "kinesis:GetShardIterator", "kinesis:ListShards"], "Effect": "Allow",
         "Resource": get_att_arn(stack.events.stream)},
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(audit.dead_letter_queue)},
    ]


def test_cdk_nag_report_has_no_unacknowledged_finding(synthesized):
    _, _, _, out = synthesized
    report = json.loads((out / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["conclusion"] == "success"
    assert nag[0]["violations"] == []
    for suppressed in nag[0]["suppressedViolations"]:
        assert suppressed["acknowledgedId"].startswith("AwsSolutions::")
        assert len(suppressed["reason"]) > 40
        # scoped to one resource, never to the stack or the app
        assert suppressed["acknowledgedAt"].count("/") >= 1, suppressed["acknowledgedAt"]


def test_cfn_lint_reports_no_error(synthesized):
    _, _, _, out = synthesized
    # cfn-lint's own default region plus two others; the every-region sweep flags resource
    # types missing from the newest regions' spec data (Lambda::Url in ap-east-2).
    errors, warnings = cfn_lint((out / "EventPipelineReference.template.json").read_text(),
                                regions=["us-east-1", "eu-west-1", "ap-southeast-2"])
    assert errors == []
    # The only warnings allowed are aws-cdk-lib's own redundant DependsOn on Function roles.
    assert warnings <= {"W3005"}


LOGS = ["logs:CreateLogStream", "logs:PutLogEvents"]
KINESIS_READ = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards"]
IDEMPOTENCY = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


def _normalized(statements):
    return [{**s, "Action": actions_of(s)} for s in statements]


def _allow(actions, resource):
    return {"Action": sorted(actions), "Effect": "Allow", "Resource": resource}


def test_api_role_is_exact(synthesized):
    stack, template, _, _ = synthesized
    assert _normalized(role_statements(template, stack.api.role)) == [
        _allow(LOGS, get_att_arn(stack.api.log_group)),
        _allow(["s3:GetObject", "s3:PutObject"], {"Fn::Join": ["", [get_att_arn(stack.bodies), "/items/*"]]}),
        _allow(["dynamodb:GetItem", "dynamodb:PutItem"], get_att_arn(stack.items.table)),
        _allow(["sqs:SendMessage"], get_att_arn(stack.jobs.queue)),
        _allow(["kinesis:PutRecord", "kinesis:PutRecords"], get_att_arn(stack.events.stream)),
    ]


def test_api_function_url_needs_iam_auth_and_env_is_wired(synthesized):
    stack, template, _, _ = synthesized
    template.has_resource_properties("AWS::Lambda::Url", {
        "AuthType": "AWS_IAM", "TargetFunctionArn": get_att_arn(stack.api)})
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "api_handler.handler",
        "Environment": {"Variables": assertions.Match.object_like({
            "BUCKET_NAME": {"Ref": logical_id(stack.bodies)},
            "TABLE_NAME": {"Ref": logical_id(stack.items.table)},
            "QUEUE_URL": {"Ref": logical_id(stack.jobs.queue)},
            "STREAM_NAME": {"Ref": logical_id(stack.events.stream)},
        })},
    })


def test_worker_role_is_exact(synthesized):
    stack, template, _, _ = synthesized
    worker = stack.worker
    assert _normalized(role_statements(template, worker.role)) == [
        _allow(LOGS, get_att_arn(worker.log_group)),
        _allow(["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], get_att_arn(stack.jobs.queue)),
        _allow(["dynamodb:UpdateItem"], get_att_arn(stack.items.table)),
    ]
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(worker.function)},
        "EventSourceArn": get_att_arn(stack.jobs.queue),
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })


@pytest.mark.parametrize("name", ["inventory", "fraud"])
def test_order_consumers_are_idempotent_filtered_and_exact(synthesized, name):
    stack, template, _, _ = synthesized
    consumer = getattr(stack, name)
    expected = [
        _allow(LOGS, get_att_arn(consumer.log_group)),
        _allow(IDEMPOTENCY, get_att_arn(consumer.idempotency_table)),
        _allow(KINESIS_READ, get_att_arn(stack.events.stream)),
        _allow(["sqs:SendMessage"], get_att_arn(consumer.dead_letter_queue)),
    ]
    if name == "inventory":
        expected.append(_allow(["dynamodb:UpdateItem"], get_att_arn(stack.inventory_table.table)))
    assert _normalized(role_statements(template, consumer.role)) == expected
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(consumer.function)},
        "FilterCriteria": {"Filters": [{"Pattern": '{"data":{"type":["order.placed"]}}'}]},
    })


def test_change_consumer_role_is_exact(synthesized):
    stack, template, _, _ = synthesized
    changes = stack.changes
    assert _normalized(role_statements(template, changes.role)) == [
        _allow(LOGS, get_att_arn(changes.log_group)),
        _allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
               {"Fn::GetAtt": [logical_id(stack.items.table), "StreamArn"]}),
        _allow(["dynamodb:ListStreams"], "*"),
        _allow(["sqs:SendMessage"], get_att_arn(changes.dead_letter_queue)),
    ]
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(changes.function)},
        "EventSourceArn": {"Fn::GetAtt": [logical_id(stack.items.table), "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON", "BisectBatchOnFunctionError": True,
    })


def test_whole_reference_system_is_present(synthesized):
    _, template, _, _ = synthesized
    for resource_type, count in {
        "AWS::Kinesis::Stream": 1, "AWS::KinesisFirehose::DeliveryStream": 1, "AWS::Lambda::Url": 1,
        "AWS::Lambda::Function": 6, "AWS::Lambda::EventSourceMapping": 5, "AWS::S3::Bucket": 3,
        "AWS::CloudWatch::Dashboard": 1, "AWS::SNS::Topic": 1,
    }.items():
        template.resource_count_is(resource_type, count)
    template.has_resource_properties("AWS::Kinesis::Stream", {"RetentionPeriodHours": 168})


# --- the function URL: IAM by default; public only with a concurrency cap ------------------------


def _functions_with_reserved_concurrency(template_json: dict[str, Any]) -> dict[str, Any]:
    return {k: v["Properties"]["ReservedConcurrentExecutions"] for k, v in template_json["Resources"].items()
            if v["Type"] == "AWS::Lambda::Function" and "ReservedConcurrentExecutions" in v["Properties"]}


@pytest.fixture(scope="module")
def synthesized_public():
    """The app as ``cdk synth -c publicApiUrl=true`` builds it (the CLI passes the string "true")."""
    cdk_app = reference.build_app(cdk.App(context={**CONTEXT, "publicApiUrl": "true"},
                                          outdir=tempfile.mkdtemp(prefix="cdk-test-")))
    assembly = cdk_app.synth()  # cdk-nag runs here too
    stack = cdk_app.node.find_child("EventPipelineReference")
    template = assertions.Template.from_stack(stack)
    return stack, template, template.to_json(), Path(assembly.directory)


def test_iam_url_reserves_no_concurrency(synthesized):
    _, _, template_json, _ = synthesized
    assert _functions_with_reserved_concurrency(template_json) == {}


def test_public_url_has_no_auth_and_a_reserved_concurrency_on_the_api_only(synthesized_public):
    stack, template, template_json, _ = synthesized_public
    template.has_resource_properties("AWS::Lambda::Url", {
        "AuthType": "NONE", "TargetFunctionArn": get_att_arn(stack.api)})
    assert _functions_with_reserved_concurrency(template_json) == {
        logical_id(stack.api): reference.PUBLIC_URL_RESERVED_CONCURRENCY}
    assert reference.PUBLIC_URL_RESERVED_CONCURRENCY == 10


def test_public_url_template_passes_cdk_nag_and_cfn_lint(synthesized_public):
    _, _, _, out = synthesized_public
    report = json.loads((out / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["conclusion"] == "success" and nag[0]["violations"] == []
    errors, _ = cfn_lint((out / "EventPipelineReference.template.json").read_text(), regions=["us-east-1"])
    assert errors == []


def test_public_url_reserved_concurrency_is_a_prop():
    stack = reference.ReferenceStack(cdk.App(context=CONTEXT), "Custom", public_url=True,
                                     public_url_reserved_concurrency=25)
    assert stack.api.node.default_child.reserved_concurrent_executions == 25


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "10", None])
def test_public_url_reserved_concurrency_is_validated(value):
    with pytest.raises(ValueError, match=rf"Bad: public_url_reserved_concurrency must be an integer >= 1 \(given {re.escape(repr(value))}\)"):
        reference.ReferenceStack(cdk.App(context=CONTEXT), "Bad", public_url=True, public_url_reserved_concurrency=value)


def test_access_log_bucket_is_versioned_and_expires_old_versions(synthesized):
    stack, _, template_json, _ = synthesized
    props = template_json["Resources"][logical_id(stack.access_logs)]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LifecycleConfiguration"]["Rules"] == [
        {"ExpirationInDays": 90, "NoncurrentVersionExpiration": {"NoncurrentDays": 30}, "Status": "Enabled"},
        {"ExpiredObjectDeleteMarker": True, "Status": "Enabled"},
    ]
