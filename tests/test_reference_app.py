"""The reference app: snapshot, the acceptance contract of every mapping, IAM, cdk-nag, cfn-lint.

The app is synthesized once for the module, with cdk.json's context and cdk-nag's AwsSolutions
pack registered exactly as ``app.py`` registers it (synthesis raises on an unacknowledged error).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions
from syrupy.extensions.json import JSONSnapshotExtension

import app as reference
from tests._cdk import actions_of, all_statements, get_att_arn, logical_id, new_app, normalize, role_statements


@pytest.fixture(scope="module")
def synthesized():
    cdk_app = reference.build_app(new_app())
    assembly = cdk_app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    stack = cdk_app.node.find_child("EventPipelineReference")
    template = assertions.Template.from_stack(stack)
    return stack, template, template.to_json(), Path(assembly.directory)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_template_snapshot(synthesized, snapshot_json):
    _, _, template_json, _ = synthesized
    assert normalize(template_json) == snapshot_json


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
        assert suppressed["acknowledgedAt"].count("/") >= 2, suppressed["acknowledgedAt"]


def test_cfn_lint_reports_no_error(synthesized):
    from cfnlint.api import lint_all

    _, _, _, out = synthesized
    matches = lint_all((out / "EventPipelineReference.template.json").read_text())
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches
              if m.rule.severity.lower() == "error" or m.rule.id.startswith("E")]
    assert errors == []
    # The only warnings allowed are aws-cdk-lib's own redundant DependsOn on Function roles.
    assert {m.rule.id for m in matches if m.rule.id.startswith("W")} <= {"W3005"}
