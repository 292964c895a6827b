"""PipelineMonitoring: every alarm's metric, dimensions, statistic, threshold and action; topic,
dashboard, naming, opt-outs. One app, one small stack per configuration, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, assertions
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from cdk_event_pipeline import (
    EventStream,
    PipelineFunction,
    PipelineMonitoring,
    PipelineValidationError,
    WorkQueue,
    bundled_code,
)
from tests._cdk import Stacks, cfn_lint, get_att_arn, logical_id, new_app

GTE = "GreaterThanOrEqualToThreshold"
IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CLOUDWATCH_STATEMENT = {
    "Sid": "AllowCloudWatchAlarmsToUseTheKey", "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
}
ABSENT = assertions.Match.absent()


def audit() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


class Built(Stacks):
    def __init__(self) -> None:
        super().__init__()
        self._templates: dict[str, assertions.Template] = {}
        self.assembly: cdk.cx_api.CloudAssembly | None = None

    def template(self, name: str) -> assertions.Template:
        if name not in self._templates:
            self._templates[name] = assertions.Template.from_stack(self.stacks[name])
        return self._templates[name]


@pytest.fixture(scope="module")
def built() -> Built:
    b = Built()

    s = b.stack("Defaults")
    b.things["stream"] = stream = EventStream(s, "Events", retention=Duration.hours(48))
    b.things["audit"] = stream.add_consumer("Audit", **audit())
    b.things["bucket"] = bucket = s3.Bucket(s, "Failures", enforce_ssl=True)
    b.things["to_bucket"] = stream.add_consumer(
        "ToBucket", **audit(), failure_bucket=bucket, max_record_age=Duration.hours(2))
    # Not about monitoring: a test bucket without access logs, and the S3 destination's object grant.
    cdk.Validations.of(bucket).acknowledge(cdk.Acknowledgment(
        id="AwsSolutions::AwsSolutions-S1", reason="Test bucket of on-failure records; access logs are out of scope here."))
    cdk.Validations.of(b.things["to_bucket"]).acknowledge(cdk.Acknowledgment(
        id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/*]",
        reason="Lambda writes on-failure records under keys it chooses: PutObject on the bucket's objects."))
    b.things["quiet"] = stream.add_consumer("Quiet", **audit(), alarms=False)
    b.things["queue"] = queue = WorkQueue(s, "Jobs", max_receive_count=4)
    b.things["worker"] = queue.add_worker("Worker", **audit())

    s = b.stack("Prefixed")
    b.things["own_topic"] = topic = sns.Topic.from_topic_arn(s, "Ops", "arn:aws:sns:eu-west-1:111122223333:ops")
    b.things["extra"] = extra = sns.Topic.from_topic_arn(s, "Pager", "arn:aws:sns:eu-west-1:111122223333:pager")
    b.things["pm"] = PipelineMonitoring.configure(
        s, topic=topic, alarm_actions=[cw_actions.SnsAction(extra)], alarm_name_prefix="orders-prod")
    b.things["p.stream"] = stream = EventStream(s, "Events", alarms=False)
    b.things["p.consumer"] = stream.add_consumer("Audit", **audit())

    s = b.stack("Disabled")
    PipelineMonitoring.configure(s, enabled=False, dashboard=False)
    b.things["d.stream"] = stream = EventStream(s, "Events")
    stream.add_consumer("Audit", **audit())

    s = b.stack("OwnTopicKey")
    b.things["otk.key"] = key = kms.Key(s, "OpsKey", enable_key_rotation=True)
    PipelineMonitoring.configure(s, topic=sns.Topic(s, "Ops", master_key=key, enforce_ssl=True))
    EventStream(s, "Events")

    s = b.stack("ImportedTopicKey")
    b.things["itk.key"] = imported = kms.Key.from_key_arn(s, "OpsKey", IMPORTED_KEY_ARN)
    PipelineMonitoring.configure(s, topic=sns.Topic(s, "Ops", master_key=imported, enforce_ssl=True))
    EventStream(s, "Events")

    s = b.stack("Producers")
    b.things["pr.stream"] = stream = EventStream(s, "Events", retention=Duration.days(2))
    b.things["pr.fast_efo"] = stream.add_consumer(
        "FastEfo", **audit(), enhanced_fan_out=True, max_record_age=Duration.hours(1))
    b.things["pr.reader"] = stream.add_consumer("Reader", **audit(), max_record_age=Duration.hours(6))
    b.things["pr.queue"] = queue = WorkQueue(s, "Jobs")
    b.things["pr.api"] = api = PipelineFunction(s, "Api", **audit())
    stream.connect_producer(api)
    queue.connect_producer(api)                       # one Errors alarm per function
    queue.connect_producer(b.things["pr.reader"])     # a consumer's function: its own alarm only
    b.things["pr.quiet_stream"] = quiet = EventStream(s, "Quiet", alarms=False)
    b.things["pr.unalarmed"] = unalarmed = PipelineFunction(s, "Unalarmed", **audit())
    quiet.connect_producer(unalarmed)

    b.assembly = b.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    return b


def alarm(template: assertions.Template, props: dict[str, Any]) -> None:
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"TreatMissingData": "notBreaching", **props})


def topic_ref(built: Built) -> dict[str, Any]:
    return {"Ref": logical_id(PipelineMonitoring.of(built.stacks["Defaults"]).topic)}


# --- stream ------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
                                    "PutRecords.FailedRecords"])
def test_stream_throttle_and_failure_alarms(built, metric):
    alarm(built.template("Defaults"), {
        "Namespace": "AWS/Kinesis", "MetricName": metric,
        "Dimensions": [{"Name": "StreamName", "Value": {"Ref": logical_id(built.things["stream"].stream)}}],
        "Statistic": "Sum", "Period": 60, "Threshold": 1, "ComparisonOperator": GTE,
        "EvaluationPeriods": 5, "DatapointsToAlarm": 3, "AlarmActions": [topic_ref(built)],
    })


def test_stream_iterator_age_alarm_fires_before_the_fastest_consumer_gives_up(built):
    # consumers: Audit (max_record_age 24 h), ToBucket (2 h), Quiet (24 h): half of the smallest;
    # before, half the 48 h retention (24 h), long after ToBucket had sent records to its bucket.
    alarm(built.template("Defaults"), {
        "Namespace": "AWS/Kinesis", "MetricName": "GetRecords.IteratorAgeMilliseconds",
        "Dimensions": [{"Name": "StreamName", "Value": {"Ref": logical_id(built.things["stream"].stream)}}],
        "Statistic": "Maximum", "Period": 300, "Threshold": 3600 * 1000, "ComparisonOperator": GTE,
        "EvaluationPeriods": 1, "AlarmActions": [topic_ref(built)],
    })
    assert set(built.things["stream"].alarms) == {
        "WriteThroughputExceeded", "ReadThroughputExceeded", "PutRecordsFailedRecords", "GetRecordsIteratorAge"}


# --- consumers ---------------------------------------------------------------------------------

def test_consumer_lambda_alarms(built):
    t, consumer = built.template("Defaults"), built.things["audit"]
    fn = [{"Name": "FunctionName", "Value": {"Ref": logical_id(consumer.function)}}]
    common = {"Namespace": "AWS/Lambda", "Dimensions": fn, "Period": 300, "ComparisonOperator": GTE,
              "EvaluationPeriods": 1, "AlarmActions": [topic_ref(built)]}
    # max_record_age = half the 48 h retention = 24 h; alarm at half of that
    alarm(t, {**common, "MetricName": "IteratorAge", "Statistic": "Maximum", "Threshold": 12 * 3600 * 1000})
    alarm(t, {**common, "MetricName": "Errors", "Statistic": "Sum", "Threshold": 1})
    alarm(t, {**common, "MetricName": "Throttles", "Statistic": "Sum", "Threshold": 1})


def test_consumer_dlq_depth_alarm(built):
    consumer = built.things["audit"]
    alarm(built.template("Defaults"), {
        "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName",
                        "Value": {"Fn::GetAtt": [logical_id(consumer.dead_letter_queue), "QueueName"]}}],
        "Statistic": "Maximum", "Period": 300, "Threshold": 1, "ComparisonOperator": GTE,
        "EvaluationPeriods": 1, "AlarmActions": [topic_ref(built)],
    })


@pytest.mark.parametrize("name", ["audit", "to_bucket"])
@pytest.mark.parametrize("metric", ["DroppedEventCount", "OnFailureDestinationDeliveredEventCount"])
def test_consumer_event_source_mapping_alarms(built, name, metric):
    consumer = built.things[name]
    alarm(built.template("Defaults"), {
        "Namespace": "AWS/Lambda", "MetricName": metric,
        "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": {"Ref": logical_id(consumer.event_source_mapping)}}],
        "Statistic": "Sum", "Period": 300, "Threshold": 1, "ComparisonOperator": GTE,
        "EvaluationPeriods": 1, "AlarmActions": [topic_ref(built)],
    })


def test_event_count_metrics_are_enabled_on_every_stream_mapping(built):
    for name in ("audit", "to_bucket", "quiet"):
        built.template("Defaults").has_resource_properties("AWS::Lambda::EventSourceMapping", {
            "FunctionName": {"Ref": logical_id(built.things[name].function)},
            "MetricsConfig": {"Metrics": ["EventCount"]},
        })


def test_s3_destination_consumer_has_no_dlq_alarm_and_its_own_age_threshold(built):
    consumer = built.things["to_bucket"]
    assert set(consumer.alarms) == {"IteratorAge", "Errors", "Throttles", "DroppedEvents", "OnFailureDelivered"}
    alarm(built.template("Defaults"), {
        "MetricName": "IteratorAge", "Threshold": 3600 * 1000,
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": logical_id(consumer.function)}}],
    })
    assert set(built.things["audit"].alarms) == {
        "IteratorAge", "Errors", "Throttles", "DlqDepth", "DroppedEvents", "OnFailureDelivered"}


def test_opt_out_makes_no_alarm_for_that_consumer(built):
    quiet = built.things["quiet"]
    assert quiet.alarms == {}
    ref = {"Ref": logical_id(quiet.function)}
    for props in built.template("Defaults").find_resources("AWS::CloudWatch::Alarm").values():
        assert ref not in [dim["Value"] for dim in props["Properties"].get("Dimensions", [])]
    assert not [c for c in quiet.node.find_all() if isinstance(c, cloudwatch.Alarm)]


def test_alarm_count_of_the_default_stack(built):
    # stream 4 + Audit 6 + ToBucket 5 + Quiet 0 + work queue 2 + worker 3 (Errors, FailedInvokeEvents, DroppedEvents)
    built.template("Defaults").resource_count_is("AWS::CloudWatch::Alarm", 20)


# --- work queue --------------------------------------------------------------------------------

def test_work_queue_alarms(built):
    t, queue = built.template("Defaults"), built.things["queue"]
    alarm(t, {
        "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName",
                        "Value": {"Fn::GetAtt": [logical_id(queue.dead_letter_queue), "QueueName"]}}],
        "Statistic": "Maximum", "Period": 300, "Threshold": 1, "ComparisonOperator": GTE,
        "EvaluationPeriods": 1, "AlarmActions": [topic_ref(built)],
    })
    visibility = 6 * 30  # 6 x the worker's 30-second timeout
    alarm(t, {
        "Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(queue.queue), "QueueName"]}}],
        "Statistic": "Maximum", "Period": 300, "Threshold": visibility * 4, "ComparisonOperator": GTE,
        "EvaluationPeriods": 1, "AlarmActions": [topic_ref(built)],
    })
    assert set(queue.alarms) == {"DlqDepth", "OldestMessageAge"}


# --- topic -------------------------------------------------------------------------------------

def test_topic_is_encrypted_with_a_customer_key_cloudwatch_may_use(built):
    t, pm = built.template("Defaults"), PipelineMonitoring.of(built.stacks["Defaults"])
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": get_att_arn(pm.master_key)})
    t.has_resource_properties("AWS::KMS::Key", {
        "EnableKeyRotation": True,
        "KeyPolicy": {"Statement": assertions.Match.array_with([{
            "Sid": "AllowCloudWatchAlarmsToUseTheKey", "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
            # the confused-deputy guard (issue 17 item 14): only this account's alarms
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [
                    "arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":",
                    {"Ref": "AWS::AccountId"}, ":alarm:*"]]}},
            },
        }])},
    })


def test_topic_policy_denies_plain_http_and_lets_cloudwatch_publish(built):
    t, ref = built.template("Defaults"), topic_ref(built)
    t.has_resource_properties("AWS::SNS::TopicPolicy", {
        "Topics": [ref],
        "PolicyDocument": {"Statement": assertions.Match.array_with([
            {"Sid": "AllowPublishThroughSSLOnly", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": ref, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "AllowCloudWatchAlarmsToPublish", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": ref,
             "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}},
        ])},
    })


def test_users_topic_and_extra_actions_and_prefixed_names(built):
    t = built.template("Prefixed")
    t.resource_count_is("AWS::SNS::Topic", 0)
    t.resource_count_is("AWS::KMS::Key", 0)
    consumer = built.things["p.consumer"]
    alarm(t, {
        "AlarmName": "orders-prod-Events-Audit-Errors", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": logical_id(consumer.function)}}],
        "AlarmActions": ["arn:aws:sns:eu-west-1:111122223333:ops", "arn:aws:sns:eu-west-1:111122223333:pager"],
    })
    names = sorted(a["Properties"]["AlarmName"] for a in t.find_resources("AWS::CloudWatch::Alarm").values())
    assert names == [f"orders-prod-Events-Audit-{k}" for k in sorted(
        ["DlqDepth", "DroppedEvents", "Errors", "IteratorAge", "OnFailureDelivered", "Throttles"])]
    assert built.things["p.stream"].alarms == {}  # the stream opted out
    t.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "orders-prod"})


def test_default_names_are_left_to_cloudformation(built):
    for props in built.template("Defaults").find_resources("AWS::CloudWatch::Alarm").values():
        assert "AlarmName" not in props["Properties"]
    built.template("Defaults").has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": ABSENT})


def test_disabled_stack_has_no_alarm_topic_or_dashboard(built):
    t = built.template("Disabled")
    for kind in ("AWS::CloudWatch::Alarm", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::CloudWatch::Dashboard"):
        t.resource_count_is(kind, 0)
    # the mapping metrics stay on: they cost nothing to read later and feed the console
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {"MetricsConfig": {"Metrics": ["EventCount"]}})


def test_configure_after_first_use_and_bad_prefix_raise(built):
    with pytest.raises(PipelineValidationError, match="before any EventStream"):
        PipelineMonitoring.configure(built.stacks["Defaults"])
    stack = cdk.Stack(new_app(), "Bad")
    with pytest.raises(PipelineValidationError, match="alarm_name_prefix"):
        PipelineMonitoring.configure(stack, alarm_name_prefix="has space")
    with pytest.raises(PipelineValidationError, match="mutually exclusive"):
        PipelineMonitoring.configure(
            stack, topic=built.things["own_topic"], master_key=PipelineMonitoring.of(built.stacks["Defaults"]).master_key)


def test_users_topic_with_a_key_of_the_stack_gets_the_cloudwatch_statement(built):
    # finding 3: the library's own topic got it, a user's topic did not (alarms never notify)
    t = built.template("OwnTopicKey")
    t.resource_count_is("AWS::SNS::Topic", 1)
    t.has_resource_properties("AWS::KMS::Key", {
        "KeyPolicy": {"Statement": assertions.Match.array_with([
            {**CLOUDWATCH_STATEMENT, "Condition": assertions.Match.object_like({"StringEquals": {
                "aws:SourceAccount": {"Ref": "AWS::AccountId"}}})}])}})
    assert built.things["otk.key"].node.path == "OwnTopicKey/OpsKey"
    assert assertions.Annotations.from_stack(built.stacks["OwnTopicKey"]).find_warning(
        "*", assertions.Match.string_like_regexp("AlarmTopicKeyPolicy")) == []


def test_users_topic_with_an_imported_key_gets_a_warning_with_the_statement(built):
    found = assertions.Annotations.from_stack(built.stacks["ImportedTopicKey"]).find_warning(
        "*", assertions.Match.string_like_regexp("is not managed by this app"))
    assert len(found) == 1
    text = found[0].entry.data
    assert "cdk-event-pipeline:AlarmTopicKeyPolicy" in text and IMPORTED_KEY_ARN in text
    statement = json.loads(text[text.index("{"):text.rindex("}") + 1])
    condition = statement.pop("Condition")
    assert statement == CLOUDWATCH_STATEMENT
    assert set(condition) == {"StringEquals", "ArnLike"} and "aws:SourceAccount" in condition["StringEquals"]


def test_stream_threshold_ignores_enhanced_fan_out_consumers(built):
    # FastEfo (1 h) reads through its own pipe; Reader (6 h) is the fastest GetRecords reader
    alarm(built.template("Producers"), {
        "MetricName": "GetRecords.IteratorAgeMilliseconds", "Threshold": 3 * 3600 * 1000,
        "Dimensions": [{"Name": "StreamName", "Value": {"Ref": logical_id(built.things["pr.stream"].stream)}}],
    })
    assert built.things["pr.stream"].iterator_age_threshold_ms() == 3 * 3600 * 1000


def _errors_alarms(built: Built, function: Any) -> list[dict[str, Any]]:
    ref = {"Name": "FunctionName", "Value": {"Ref": logical_id(function)}}
    return [a["Properties"] for a in built.template("Producers").find_resources("AWS::CloudWatch::Alarm").values()
            if a["Properties"]["MetricName"] == "Errors" and ref in a["Properties"]["Dimensions"]]


def test_producer_functions_get_one_errors_alarm(built):
    (api,) = _errors_alarms(built, built.things["pr.api"])
    assert api["Threshold"] == 1 and api["Statistic"] == "Sum" and api["Period"] == 300
    assert api["ComparisonOperator"] == GTE and api["TreatMissingData"] == "notBreaching"
    assert built.things["pr.api"].node.find_child("ErrorsAlarm") is not None
    assert len(_errors_alarms(built, built.things["pr.reader"].function)) == 1  # the consumer's own
    assert _errors_alarms(built, built.things["pr.unalarmed"]) == []            # its stream: alarms=False


def test_worker_errors_alarm(built):
    worker = built.things["worker"]
    assert set(worker.alarms) == {"Errors", "FailedInvokeEvents", "DroppedEvents"}
    alarm(built.template("Defaults"), {
        "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": 300, "Threshold": 1,
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": logical_id(worker.function)}}],
        "AlarmActions": [topic_ref(built)],
    })


def test_worker_event_source_mapping_metrics_and_alarms(built):
    # issue 17 item 9: the worker's mapping emits EventCount metrics and alarms on failed-invoke and dropped events
    worker, t = built.things["worker"], built.template("Defaults")
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(worker.function)}, "MetricsConfig": {"Metrics": ["EventCount"]}})
    for name in ("FailedInvokeEventCount", "DroppedEventCount"):
        alarm(t, {
            "Namespace": "AWS/Lambda", "MetricName": name, "Statistic": "Sum", "Period": 300, "Threshold": 1,
            "ComparisonOperator": GTE, "EvaluationPeriods": 1,
            "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": {"Ref": logical_id(worker.event_source_mapping)}}],
            "AlarmActions": [topic_ref(built)],
        })


# --- dashboard ---------------------------------------------------------------------------------

def _dashboard_widgets(built: Built, stack: str) -> list[dict[str, Any]]:
    """The dashboard body (an ``Fn::Join``) parsed, each token put back as its intrinsic."""
    (props,) = built.template(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    tokens: dict[str, Any] = {}
    text = ""
    for part in props["Properties"]["DashboardBody"]["Fn::Join"][1]:
        if isinstance(part, str):
            text += part
        else:
            key = f"@token{len(tokens)}@"
            tokens[key] = part
            text += key

    def restore(node: Any) -> Any:
        if isinstance(node, str):
            return tokens.get(node, node)
        if isinstance(node, list):
            return [restore(n) for n in node]
        if isinstance(node, dict):
            return {k: restore(v) for k, v in node.items()}
        return node

    return restore(json.loads(text))["widgets"]


def _token(ref: dict[str, Any]) -> dict[str, Any]:
    return ref


def test_dashboard_rows_reference_the_right_metrics(built):
    widgets = {w["properties"]["title"]: w["properties"]["metrics"] for w in _dashboard_widgets(built, "Defaults")}
    assert list(widgets) == [
        "Producers: records and bytes put", "Producers: put failures and throttles",
        "Consumer lag: iterator age (max)",
        "Consumers: function errors and throttles", "Consumers: dropped and on-failure events",
        "Dead-letter queues: messages visible (max)", "Work queues: age of oldest message (max)",
    ]
    stream = _token({"Ref": logical_id(built.things["stream"].stream)})
    assert [m[:4] for m in widgets["Producers: records and bytes put"]] == [
        ["AWS/Kinesis", "IncomingRecords", "StreamName", stream],
        ["AWS/Kinesis", "IncomingBytes", "StreamName", stream],
    ]
    assert [m[1] for m in widgets["Producers: put failures and throttles"]] == [
        "PutRecords.FailedRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"]
    lag = widgets["Consumer lag: iterator age (max)"]
    assert lag[0][:4] == ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", stream]
    fns = [_token({"Ref": logical_id(built.things[n].function)}) for n in ("audit", "to_bucket", "quiet")]
    assert [m[:4] for m in lag[1:]] == [["AWS/Lambda", "IteratorAge", "FunctionName", f] for f in fns]
    assert all(m[-1]["stat"] == "Maximum" for m in lag)
    errors = widgets["Consumers: function errors and throttles"]
    worker = _token({"Ref": logical_id(built.things["worker"].function)})
    assert [(m[1], m[3]) for m in errors] == [
        *((k, f) for f in fns for k in ("Errors", "Throttles")), ("Errors", worker)]
    dropped = widgets["Consumers: dropped and on-failure events"]
    esms = [_token({"Ref": logical_id(built.things[n].event_source_mapping)}) for n in ("audit", "to_bucket", "quiet")]
    worker_esm = _token({"Ref": logical_id(built.things["worker"].event_source_mapping)})
    assert [m[:4] for m in dropped] == [
        *(["AWS/Lambda", k, "EventSourceMappingUUID", e]
          for e in esms for k in ("DroppedEventCount", "OnFailureDestinationDeliveredEventCount")),
        *(["AWS/Lambda", k, "EventSourceMappingUUID", worker_esm]
          for k in ("FailedInvokeEventCount", "DroppedEventCount"))]
    dlq = widgets["Dead-letter queues: messages visible (max)"]
    queues = [built.things["audit"].dead_letter_queue, built.things["quiet"].dead_letter_queue,
              built.things["queue"].dead_letter_queue]
    assert [m[:4] for m in dlq] == [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
         _token({"Fn::GetAtt": [logical_id(q), "QueueName"]})] for q in queues]
    age = widgets["Work queues: age of oldest message (max)"]
    assert age[0][:4] == ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName",
                          _token({"Fn::GetAtt": [logical_id(built.things["queue"].queue), "QueueName"]})]


# --- rule packs --------------------------------------------------------------------------------

def test_cdk_nag_passes_with_sns2_and_sns3_checked(built):
    report = json.loads((Path(built.assembly.directory) / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["conclusion"] == "success" and nag[0]["violations"] == []
    sns_findings = [s for s in nag[0]["suppressedViolations"] if "SNS" in s["ruleName"]]
    assert sns_findings == []  # SNS2 (encryption) and SNS3 (TLS) pass, not acknowledged


@pytest.mark.parametrize("stack", ["Defaults", "Prefixed", "Disabled", "OwnTopicKey", "ImportedTopicKey", "Producers"])
def test_cfn_lint_reports_no_error(built, stack):
    errors, _ = cfn_lint((Path(built.assembly.directory) / f"{stack}.template.json").read_text())
    assert errors == []
