"""``cdk_event_pipeline.nag.EventPipelineChecks``: the rule pack for every event source mapping.

Three apps, each synthesized once for the module: plain aws-cdk-lib wirings (bad ones, each firing
its rules, and fixed ones firing none; the pack runs beside cdk-nag's ServerlessChecks there), the
library's constructs with defaults (the reference app: tests/test_nag_clean.py).
Findings are read from ``validation-report.json`` (an unacknowledged error makes synthesis raise
``ValidationFailed``, which is the point of a pack; the tests catch it and read the report).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import EntityTable, EventStream, PipelineFunction, WorkQueue, bundled_code
from cdk_event_pipeline.nag import ALL_RULES, EventPipelineChecks
from tests._cdk import ROOT, new_app

STREAM_ERRORS = {
    "EventPipeline-StreamBisectOnError",
    "EventPipeline-StreamFiniteRetries",
    "EventPipeline-StreamFiniteRecordAge",
    "EventPipeline-StreamOnFailureDestination",
}
STREAM_WARNINGS = {"EventPipeline-StreamReportBatchItemFailures"}
ACKNOWLEDGED = "EventPipeline-StreamOnFailureDestination"
IMPORTED_QUEUE_ARN = "arn:aws:sqs:eu-west-1:111111111111:imported"
IMPORTED_STREAM_ARN = "arn:aws:kinesis:eu-west-1:111111111111:stream/imported"


# --- helpers ------------------------------------------------------------------------------------


def _function(scope: cdk.Stack, id: str, **props: Any) -> lambda_.Function:
    return lambda_.Function(
        scope, id, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"), **props,
    )


def _synth_report(app: cdk.App) -> dict[str, Any]:
    """Synthesize (tolerating the failure an error finding causes) and return the report."""
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces ValidationFailed as a RuntimeError
        assert "ValidationFailed" in str(error), error
    return json.loads((Path(app.outdir) / "validation-report.json").read_text())


def _findings(report: dict[str, Any], key: str = "violations") -> dict[str, dict[str, str]]:
    """``{construct path: {rule id: severity}}`` of the EventPipeline plugin's findings."""
    found: dict[str, dict[str, str]] = {}
    for plugin in report["pluginReports"]:
        if plugin["pluginName"] != "EventPipeline":
            continue
        assert "error" not in plugin.get("metadata", {}), plugin["metadata"]
        for violation in plugin.get(key, []):
            for construct in violation["violatingConstructs"]:
                found.setdefault(construct["constructPath"], {})[violation["ruleName"]] = violation["severity"]
    return found


def _of(findings: dict[str, dict[str, str]], path_prefix: str) -> dict[str, str]:
    """The findings on the mappings under one construct path."""
    merged: dict[str, str] = {}
    for path, rules in findings.items():
        if path == path_prefix or path.startswith(path_prefix + "/"):
            merged.update(rules)
    return merged


# --- plain aws-cdk-lib wirings --------------------------------------------------------------------


def _kinesis_defaults(s: cdk.Stack) -> None:
    stream = kinesis.Stream(s, "Stream")
    _function(s, "Defaults").add_event_source(
        sources.KinesisEventSource(stream, starting_position=lambda_.StartingPosition.LATEST))
    acknowledged = _function(s, "Acknowledged")
    acknowledged.add_event_source(
        sources.KinesisEventSource(stream, starting_position=lambda_.StartingPosition.LATEST))
    Validations.of(acknowledged).acknowledge(
        Acknowledgment(id=f"EventPipeline::{ACKNOWLEDGED}", reason="replayed from the archive instead"))
    table = dynamodb.Table(s, "Table", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
                           stream=dynamodb.StreamViewType.NEW_IMAGE)
    _function(s, "Dynamo").add_event_source(
        sources.DynamoEventSource(table, starting_position=lambda_.StartingPosition.LATEST))
    efo = kinesis.StreamConsumer(s, "EfoConsumer", stream=stream, stream_consumer_name="efo")
    _function(s, "Efo").add_event_source(
        sources.KinesisConsumerEventSource(efo, starting_position=lambda_.StartingPosition.LATEST))
    lambda_.CfnEventSourceMapping(s, "ImportedStreamL1", function_name=_function(s, "L1").function_name,
                                  event_source_arn=IMPORTED_STREAM_ARN, starting_position="LATEST")
    # A plain CfnResource of the mapping's type (no L1 class): the pack reads its type from the resource.
    cdk.CfnResource(s, "RawMapping", type="AWS::Lambda::EventSourceMapping", properties={
        "FunctionName": _function(s, "Raw").function_name, "EventSourceArn": IMPORTED_STREAM_ARN,
        "StartingPosition": "LATEST"})


def _stream_safe_props(dlq: sqs.IQueue, **overrides: Any) -> dict[str, Any]:
    return {"starting_position": lambda_.StartingPosition.LATEST, "bisect_batch_on_error": True,
            "retry_attempts": 3, "max_record_age": Duration.hours(1), "report_batch_item_failures": True,
            "on_failure": sources.SqsDlq(dlq), **overrides}


def _stream_retention_and_filter(s: cdk.Stack) -> None:
    stream = kinesis.Stream(s, "Stream")
    dlq = sqs.Queue(s, "Dlq", retention_period=Duration.days(14))
    _function(s, "TooOld").add_event_source(
        sources.KinesisEventSource(stream, **_stream_safe_props(dlq, max_record_age=Duration.days(2))))
    producer = _function(s, "Producer", environment={"EVENT_PIPELINE_COMPRESS": "true"})
    stream.grant_write(producer)
    data_filter = lambda_.FilterCriteria.filter({"data": {"type": lambda_.FilterRule.is_equal("order.placed")}})
    _function(s, "Filtered").add_event_source(
        sources.KinesisEventSource(stream, **_stream_safe_props(dlq, filters=[data_filter])))


def _bad_sqs(s: cdk.Stack) -> None:
    _function(s, "NoRedrive", timeout=Duration.seconds(10)).add_event_source(
        sources.SqsEventSource(sqs.Queue(s, "Plain")))  # 30 s < 6 x 10 s
    short_dlq = sqs.Queue(s, "ShortDlq", retention_period=Duration.days(1))
    queue = sqs.Queue(s, "Redriven", visibility_timeout=Duration.seconds(60),
                      dead_letter_queue=sqs.DeadLetterQueue(queue=short_dlq, max_receive_count=5))
    _function(s, "ShortRetention").add_event_source(sources.SqsEventSource(queue))
    standard_dlq = sqs.CfnQueue(s, "StandardDlq", message_retention_period=1209600)
    fifo = sqs.CfnQueue(s, "Fifo", fifo_queue=True, visibility_timeout=60, redrive_policy={
        "deadLetterTargetArn": standard_dlq.attr_arn, "maxReceiveCount": 5})
    lambda_.CfnEventSourceMapping(s, "FifoL1", function_name=_function(s, "FifoWorker").function_name,
                                  event_source_arn=fifo.attr_arn)
    imported = sqs.Queue.from_queue_arn(s, "Imported", IMPORTED_QUEUE_ARN)
    _function(s, "ImportedWorker", timeout=Duration.minutes(5)).add_event_source(sources.SqsEventSource(imported))


def _fixed(s: cdk.Stack) -> None:
    stream = kinesis.Stream(s, "Stream", retention_period=Duration.hours(48))
    dlq = sqs.Queue(s, "StreamDlq", retention_period=Duration.days(14))
    _function(s, "StreamConsumer").add_event_source(
        sources.KinesisEventSource(stream, **_stream_safe_props(dlq, max_record_age=Duration.hours(48))))
    producer = _function(s, "JsonProducer", environment={"EVENT_PIPELINE_COMPRESS": "false"})
    stream.grant_write(producer)
    data_filter = lambda_.FilterCriteria.filter({"data": {"type": lambda_.FilterRule.is_equal("order.placed")}})
    _function(s, "Filtered").add_event_source(
        sources.KinesisEventSource(stream, **_stream_safe_props(dlq, filters=[data_filter])))
    queue_dlq = sqs.Queue(s, "QueueDlq", retention_period=Duration.days(14))
    queue = sqs.Queue(s, "Queue", visibility_timeout=Duration.seconds(65),
                      dead_letter_queue=sqs.DeadLetterQueue(queue=queue_dlq, max_receive_count=5))
    _function(s, "Worker", timeout=Duration.seconds(10)).add_event_source(
        sources.SqsEventSource(queue, max_batching_window=Duration.seconds(5), report_batch_item_failures=True))


#: ``(construct path, rule id)`` of every rule the pack handed to cdk-nag's ``applyRule`` in ``plain``.
_HANDED: list[tuple[str, str]] = []


class _RecordingChecks(EventPipelineChecks):
    """The pack, recording what it hands to cdk-nag."""

    def _apply_rule(self, params: cdk_nag.IApplyRule) -> None:
        _HANDED.append((params.node.node.path, f"EventPipeline-{params.rule_suffix_override}"))
        super()._apply_rule(params)


@pytest.fixture(scope="module")
def plain() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    app = new_app()
    Validations.of(app).add_plugins(_RecordingChecks(app), cdk_nag.ServerlessChecks(app))
    for name, build in (("KinesisDefaults", _kinesis_defaults), ("Retention", _stream_retention_and_filter),
                        ("BadSqs", _bad_sqs), ("Fixed", _fixed)):
        build(cdk.Stack(app, name))
    report = _synth_report(app)
    assert {"EventPipeline", "Serverless"} <= {plugin["pluginName"] for plugin in report["pluginReports"]}
    return _findings(report), _findings(report, "suppressedViolations")


def test_rule_ids_are_unique_and_each_names_its_aws_page():
    assert len({rule.rule_id for rule in ALL_RULES}) == len(ALL_RULES) == 11
    for rule in ALL_RULES:
        assert rule.rule_id.startswith("EventPipeline-"), rule
        assert "https://docs.aws.amazon.com/" in rule.explanation, rule
        assert "Fix:" in rule.info, rule


def test_kinesis_event_source_defaults_are_errors(plain):
    findings, _ = plain
    found = _of(findings, "KinesisDefaults/Defaults")
    assert found == {**{r: "error" for r in STREAM_ERRORS}, **{r: "warning" for r in STREAM_WARNINGS}}


def test_dynamo_efo_and_imported_stream_l1_defaults_are_errors(plain):
    findings, _ = plain
    for path in ("KinesisDefaults/Dynamo", "KinesisDefaults/Efo", "KinesisDefaults/ImportedStreamL1",
                 "KinesisDefaults/RawMapping"):
        assert {r for r, level in _of(findings, path).items() if level == "error"} == STREAM_ERRORS, path


def test_an_acknowledgment_hides_one_finding_and_stays_in_the_report(plain):
    findings, suppressed = plain
    assert ACKNOWLEDGED not in _of(findings, "KinesisDefaults/Acknowledged")
    assert STREAM_ERRORS - {ACKNOWLEDGED} <= set(_of(findings, "KinesisDefaults/Acknowledged"))
    assert _of(suppressed, "KinesisDefaults/Acknowledged") == {ACKNOWLEDGED: "error"}


def test_record_age_beyond_retention_and_a_data_filter_on_compressed_records(plain):
    findings, _ = plain
    assert _of(findings, "Retention/TooOld") == {"EventPipeline-StreamRecordAgeWithinRetention": "error"}
    assert _of(findings, "Retention/Filtered") == {"EventPipeline-KinesisDataFilterOnEncodedRecords": "error"}


def test_each_sqs_rule_fires_on_a_bad_wiring(plain):
    findings, _ = plain
    assert _of(findings, "BadSqs/NoRedrive") == {
        "EventPipeline-SqsRedrivePolicy": "error", "EventPipeline-SqsVisibilityTimeout": "error"}
    assert _of(findings, "BadSqs/ShortRetention") == {"EventPipeline-SqsDlqRetention": "error"}
    assert findings["BadSqs/FifoL1"] == {"EventPipeline-SqsDlqType": "error"}


def test_unresolvable_values_never_fire(plain):
    findings, _ = plain
    assert _of(findings, "BadSqs/ImportedWorker") == {}
    assert "EventPipeline-StreamRecordAgeWithinRetention" not in _of(findings, "KinesisDefaults/ImportedStreamL1")


def test_a_fixed_wiring_fires_none(plain):
    findings, _ = plain
    assert {path: rules for path, rules in findings.items() if path.startswith("Fixed/")} == {}


def test_only_rules_with_a_finding_are_handed_to_cdk_nag(plain):
    """Issue 19: the pack evaluates its rules in Python and calls cdk-nag's applyRule (a jsii
    round trip and four callbacks each) only for a non-compliant rule, which cdk-nag reports or,
    when acknowledged, suppresses; a compliant or not-applicable rule would leave no trace anyway."""
    findings, suppressed = plain
    reported = {(path, rule) for found in (findings, suppressed) for path, rules in found.items() for rule in rules}
    assert set(_HANDED) == reported
    assert len(_HANDED) == len(reported)  # each once
    assert not [path for path, _ in _HANDED if path.startswith("Fixed/")]


def test_a_rule_that_raises_is_handed_over_and_raises_in_cdk_nag():
    """A check that raises stays a finding: cdk-nag reports an exception in ``rule`` as a violation."""
    from cdk_event_pipeline.nag._rule import AppliedRule, NagRule, outcome_of, reports_finding

    def broken(mapping: Any) -> bool:
        raise KeyError("Properties")

    rule = NagRule("Broken", cdk_nag.NagMessageLevel.ERROR, "info", "why", broken)
    outcome = outcome_of(rule, mapping=object())  # type: ignore[arg-type]
    assert isinstance(outcome, KeyError) and reports_finding(outcome)
    with pytest.raises(KeyError):
        AppliedRule(rule, node=None, outcome=outcome).rule(None)  # type: ignore[arg-type]
    assert not reports_finding(outcome_of(rule, mapping=None))  # before synthesis: not applicable


# --- the library's constructs and the reference app -------------------------------------------------


@pytest.fixture(scope="module")
def library_findings() -> dict[str, dict[str, str]]:
    app = new_app()
    Validations.of(app).add_plugins(EventPipelineChecks(app))
    s = cdk.Stack(app, "Library")
    code = {"code": bundled_code("audit"), "handler": "audit_handler.handler"}
    events = EventStream(s, "Events")
    events.add_consumer("Consumer", **code)
    events.connect_producer(PipelineFunction(s, "Producer", **code), compress=True)
    json_events = EventStream(s, "JsonEvents")
    json_events.connect_producer(PipelineFunction(s, "JsonProducer", **code))
    json_events.add_consumer("Filtered", **code, filters=[
        lambda_.FilterCriteria.filter({"data": {"type": ["order.placed"]}})])
    EntityTable(s, "Items").add_change_consumer("OnChange", **code)
    WorkQueue(s, "Work").add_worker("Worker", **code)
    overridden = cdk.Stack(app, "Overridden")  # an escape hatch counts: the pack reads the template
    consumer = EventStream(overridden, "Events").add_consumer(
        "Consumer", code=bundled_code("audit"), handler="audit_handler.handler")
    mapping = consumer.event_source_mapping.node.default_child
    assert isinstance(mapping, cdk.CfnResource)
    mapping.add_property_override("BisectBatchOnFunctionError", False)
    return _findings(_synth_report(app))


def test_library_constructs_with_defaults_fire_none(library_findings):
    assert {path: rules for path, rules in library_findings.items() if path.startswith("Library/")} == {}


def test_a_property_override_on_a_library_mapping_is_seen(library_findings):
    assert _of(library_findings, "Overridden/Events/Consumer") == {"EventPipeline-StreamBisectOnError": "error"}


def test_before_synthesis_every_rule_is_not_applicable():
    app = new_app()
    s = cdk.Stack(app, "Unsynthesized")
    _function(s, "Defaults").add_event_source(
        sources.KinesisEventSource(kinesis.Stream(s, "Stream"), starting_position=lambda_.StartingPosition.LATEST))
    assert EventPipelineChecks(app).validate_scope(app).success is True


# The reference app with all three packs: tests/test_nag_clean.py (a clean pack leaves no report entry,
# so that module adds a canary stack to prove the pack ran).


# --- packaging: cdk-nag stays optional ------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_without_cdk_nag_the_import_fails_with_one_line_naming_pip_install():
    result = _python("import sys; sys.modules['cdk_nag'] = None\nimport cdk_event_pipeline.nag")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: cdk_event_pipeline.nag needs cdk-nag"), result.stderr
    assert "pip install cdk-nag" in last
    assert "During handling" not in result.stderr  # one error, not a chained pair


def test_the_package_does_not_import_cdk_nag():
    result = _python("import sys, cdk_event_pipeline as p\np.EventStream, p.WorkQueue, p.EntityTable, p.acknowledge\n"
                     "assert 'cdk_nag' not in sys.modules, 'cdk_nag imported'")
    assert result.returncode == 0, result.stderr
