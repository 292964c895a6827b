"""The reference app and the library's constructs with defaults pass all three rule packs.

One app, synthesized once, with the packs ``app.py`` registers (cdk-nag's AwsSolutionsChecks and
ServerlessChecks, the library's EventPipelineChecks): the reference stack, a stack of the library's
constructs with defaults, and a canary stack of wirings the library must *not* acknowledge (plain
aws-cdk-lib defaults, a function the user brings, a queue without a redrive policy). The canary's
errors make synthesis raise ``ValidationFailed`` and prove each pack ran: a pack with nothing to
report leaves no entry in ``validation-report.json`` at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

import app as reference
from cdk_event_pipeline import EntityTable, EventStream, WorkQueue, bundled_code
from tests._cdk import new_app

PACKS = {"AwsSolutions", "Serverless", "EventPipeline"}
CANARY = "Canary"


def _plain_function(scope: cdk.Stack, id: str) -> lambda_.Function:
    return lambda_.Function(scope, id, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"))


def _library_defaults(s: cdk.Stack) -> None:
    code = {"code": bundled_code("audit"), "handler": "audit_handler.handler"}
    events = EventStream(s, "Events")
    events.add_consumer("Consumer", **code)
    events.add_archive("Archive")
    EntityTable(s, "Items", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES).add_change_consumer("OnChange", **code)
    WorkQueue(s, "Work").add_worker("Worker", **code)


def _canary(s: cdk.Stack) -> None:
    stream = kinesis.Stream(s, "Stream")
    _plain_function(s, "Plain").add_event_source(
        sources.KinesisEventSource(stream, starting_position=lambda_.StartingPosition.LATEST))
    # The library's consumer on a function the user brings: that function may have asynchronous callers.
    EventStream(s, "Events").add_consumer("Given", function=_plain_function(s, "GivenFunction"))
    # A worker on a queue with no redrive policy: its mapping really has nowhere to put failures.
    WorkQueue(s, "NoRedrive", queue=sqs.Queue(s, "PlainQueue")).add_worker(
        "Worker", code=bundled_code("worker"), handler="worker_handler.handler")


@pytest.fixture(scope="module")
def report() -> dict[str, dict[str, Any]]:
    """``{plugin name: plugin report}`` of one synthesis."""
    app = reference.build_app(new_app())
    _library_defaults(cdk.Stack(app, "Library"))
    _canary(cdk.Stack(app, CANARY))
    with pytest.raises(RuntimeError, match="ValidationFailed"):  # the canary's errors
        app.synth()
    found = json.loads((Path(app.outdir) / "validation-report.json").read_text())
    # aws-cdk-lib adds a "Construct Annotations" report of the warnings; the packs are the rest
    return {plugin["pluginName"]: plugin for plugin in found["pluginReports"] if plugin["pluginName"] in PACKS}


def _entries(report: dict[str, dict[str, Any]], key: str) -> list[tuple[str, dict[str, Any], str]]:
    """(plugin, finding, construct path) for every violating construct of every finding."""
    return [(name, finding, construct["constructPath"]) for name, plugin in report.items()
            for finding in plugin.get(key, []) for construct in finding["violatingConstructs"]]


def test_the_app_registers_the_three_packs_and_each_ran(report):
    assert set(report) == PACKS  # each pack has findings (the canary's) so each has a report
    for name in PACKS:
        assert any(path.startswith(f"{CANARY}/") for plugin, _, path in _entries(report, "violations")
                   if plugin == name), f"{name} found nothing in the canary stack"


def test_no_unacknowledged_finding_outside_the_canary(report):
    outside = [(plugin, f["ruleName"], f["severity"], path) for plugin, f, path in _entries(report, "violations")
               if not path.startswith(f"{CANARY}/")]
    assert outside == []


def test_every_acknowledgment_is_on_one_resource_and_gives_its_reason(report):
    suppressed = [(p, f) for p in report.values() for f in p.get("suppressedViolations", [])]
    assert len(suppressed) >= 20
    for plugin, finding in suppressed:
        (construct,) = finding["violatingConstructs"]
        assert finding["acknowledgedAt"] == construct["constructPath"], finding  # the resource, not a parent
        assert construct["constructFqn"].rsplit(".", 1)[-1].startswith("Cfn"), construct
        assert finding["acknowledgedId"].startswith(f"{plugin['pluginName']}::"), finding  # kept in the report
        assert len(finding["reason"]) > 60, finding


def _acknowledged(report: dict[str, dict[str, Any]], rule: str) -> dict[str, str]:
    return {path: finding["reason"] for _, finding, path in _entries(report, "suppressedViolations")
            if finding["ruleName"] == rule}


def test_the_serverless_findings_are_acknowledged_for_the_wiring_they_misread(report):
    dlq = _acknowledged(report, "Serverless-LambdaDLQ")
    assert "Library/Events/Consumer/Handler/Resource" in dlq
    assert "invoked synchronously by an event source mapping" in dlq["Library/Events/Consumer/Handler/Resource"].lower()
    assert "on-failure destination" in dlq["Library/Events/Consumer/Handler/Resource"]
    assert "dead-letter queue after max_receive_count" in dlq["Library/Work/Worker/Handler/Resource"]
    assert "function URL" in dlq["EventPipelineReference/Api/Resource"]  # the app's own acknowledgment
    redrive = _acknowledged(report, "Serverless-SQSRedrivePolicy")
    assert redrive and all(path.endswith("/DeadLetterQueue/Resource") for path in redrive)
    assert {"Library/Events/Consumer/DeadLetterQueue/Resource", "Library/Work/DeadLetterQueue/Resource"} <= set(redrive)
    destination = _acknowledged(report, "Serverless-LambdaEventSourceMappingDestination")
    assert set(destination) == {"Library/Work/Worker/EventSourceMapping/Resource",
                                "EventPipelineReference/Jobs/Worker/EventSourceMapping/Resource"}
    assert all("redrive policy is the destination" in reason for reason in destination.values())
    tracing = _acknowledged(report, "Serverless-LambdaTracing")
    assert "Library/Items/OnChange/Handler/Resource" in tracing
    assert all("opt-in" in reason and "xray/pricing" in reason for reason in tracing.values())


def test_what_the_library_cannot_vouch_for_is_left_to_the_user(report):
    errors = {(f["ruleName"], path) for _, f, path in _entries(report, "violations")}
    assert ("Serverless-LambdaDLQ", f"{CANARY}/GivenFunction/Resource") in errors
    assert ("Serverless-LambdaDLQ", f"{CANARY}/Plain/Resource") in errors
    assert ("Serverless-LambdaEventSourceMappingDestination",
            f"{CANARY}/NoRedrive/Worker/EventSourceMapping/Resource") in errors
    stream_rules = {rule for rule, path in errors if path.startswith(f"{CANARY}/Plain/")
                    and rule.startswith("EventPipeline-Stream")}
    assert stream_rules >= {"EventPipeline-StreamBisectOnError", "EventPipeline-StreamFiniteRetries",
                            "EventPipeline-StreamFiniteRecordAge", "EventPipeline-StreamOnFailureDestination"}
