"""Feature flags (issue 10, finding 8): every construct's main configuration and the reference
app synthesize and pass cdk-nag both with cdk.json's context and with none (a bare ``cdk.App()``,
as ``python app.py`` runs without the CDK CLI, or an older project's flag set).

One app per flag set holds a stack per construct module plus the reference app; each app is
synthesized once (cdk-nag registered: an unacknowledged error raises).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

import app as reference
from cdk_event_pipeline import (
    EntityTable,
    EventStream,
    PipelineFunction,
    PipelineMonitoring,
    WorkQueue,
    acknowledge,
    bundled_code,
)
from tests._cdk import CONTEXT, cfn_lint

FLAG_SETS = {"cdk.json": CONTEXT, "none": {}}
STACKS = ("Stream", "Queue", "Table", "Archive", "Monitoring", "Function", "EventPipelineReference")
ORDER_FILTER = lambda_.FilterCriteria.filter({"data": {"type": ["order.placed"]}})


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


def _fixture_function(scope: cdk.Stack, id: str) -> PipelineFunction:
    """A PipelineFunction that nothing invokes asynchronously: the library cannot know a standalone
    function's callers, so the Serverless pack's DLQ rule is the app's to acknowledge (app.py does it
    for its API)."""
    fn = PipelineFunction(scope, id, **code())
    resource = fn.node.default_child
    assert resource is not None
    acknowledge(resource, "Serverless::Serverless-LambdaDLQ",
                "Test fixture: a producer or a worker's given function, never invoked asynchronously.")
    return fn


def build(app: cdk.App) -> None:
    """The main configuration of each construct module, a stack each."""
    s = cdk.Stack(app, "Stream")
    events = EventStream(s, "Events", retention=Duration.days(3))
    events.add_consumer("Orders", **code(), filters=[ORDER_FILTER], idempotency=True)
    events.add_consumer("Fast", **code(), enhanced_fan_out=True)
    events.connect_producer(_fixture_function(s, "Producer"))

    s = cdk.Stack(app, "Queue")
    jobs = WorkQueue(s, "Jobs")
    jobs.add_worker("Worker", **code())
    jobs.connect_producer(_fixture_function(s, "Producer"))
    WorkQueue(s, "Exports", queue_name="exports.fifo").add_worker("Worker", **code())

    s = cdk.Stack(app, "Table")
    items = EntityTable(s, "Items", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    items.add_index("byStatus", partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING))
    items.connect_writer(_fixture_function(s, "Writer"))
    items.add_change_consumer("Changes", **code())

    s = cdk.Stack(app, "Archive")
    logs_bucket = s3.Bucket(s, "AccessLogs", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                            object_ownership=access_log_ownership(s))
    acknowledge(logs_bucket, "AwsSolutions::AwsSolutions-S1",
                "Test fixture: the access-log bucket itself; logging it into itself would loop.")
    EventStream(s, "Events").add_archive(access_logs_bucket=logs_bucket)

    s = cdk.Stack(app, "Monitoring")
    PipelineMonitoring.configure(s, alarm_name_prefix="flags")
    EventStream(s, "Events").add_consumer("Audit", **code())

    s = cdk.Stack(app, "Function")
    mine = lambda_.Function(s, "Mine", runtime=lambda_.Runtime.PYTHON_3_13, handler="audit_handler.handler",
                            code=bundled_code("audit"))
    PipelineFunction.add_pipeline_layers(mine)
    acknowledge(mine, "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]", "Test fixture: a plain aws-cdk-lib function with its default role.")
    acknowledge(mine, "AwsSolutions::AwsSolutions-L1", "Test fixture: an older runtime on purpose.")
    for rule in ("LambdaDLQ", "LambdaLatestVersion", "LambdaDefaultMemorySize", "LambdaDefaultTimeout",
                 "LambdaTracing"):
        acknowledge(mine, f"Serverless::Serverless-{rule}", "Test fixture: a plain aws-cdk-lib function with its "
                    "defaults, to show the layers work on any function.")
    WorkQueue(s, "Jobs").add_worker("Worker", function=_fixture_function(s, "Handler"))


def access_log_ownership(scope: cdk.Stack) -> s3.ObjectOwnership:
    """What a server-access-log target needs: bucket policy (flag on) or the ACL (flag off)."""
    uses_policy = cdk.FeatureFlags.of(scope).is_enabled("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy")
    return s3.ObjectOwnership.BUCKET_OWNER_ENFORCED if uses_policy else s3.ObjectOwnership.OBJECT_WRITER


@pytest.fixture(scope="module", params=list(FLAG_SETS))
def synthesized(request: pytest.FixtureRequest) -> tuple[str, Path]:
    saved = os.environ.pop("CDK_CONTEXT_JSON", None)  # a bare App would read it: keep "none" bare
    try:
        app = cdk.App(context=FLAG_SETS[request.param], outdir=tempfile.mkdtemp(prefix="cdk-flags-"))
    finally:
        if saved is not None:
            os.environ["CDK_CONTEXT_JSON"] = saved
    build(app)
    reference.build_app(app)  # the reference app's stack, and cdk-nag for the whole app
    assembly = app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    return request.param, Path(assembly.directory)


def test_cdk_nag_passes(synthesized):
    _, out = synthesized
    report = json.loads((out / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_synthesizes_and_lints(synthesized, stack):
    _, out = synthesized
    template = (out / f"{stack}.template.json").read_text()
    assert json.loads(template)["Resources"]
    errors, _ = cfn_lint(template, regions=["us-east-1"])
    assert errors == []


def test_the_flag_sets_differ_where_it_matters():
    # the "none" set really lacks the flag that broke `python app.py` (finding 8)
    assert CONTEXT["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] is True
    stack = cdk.Stack(cdk.App(context={}), "Bare")
    assert access_log_ownership(stack) == s3.ObjectOwnership.OBJECT_WRITER
    assertions.Template.from_stack(stack)  # an empty stack of a bare app is fine
