"""Platform features of issue 12 in one account: large records, warm throughput, provisioned pollers,
SnapStart, and the synth-time recursion check.

One app (cdk.json's context, cdk-nag's AwsSolutions pack registered) with one small stack per
feature, synthesized once for the module: ``app.synth()`` raises on any unacknowledged cdk-nag error;
every test reads the cached templates and annotations. Validation tests use the ``stack`` fixture
(never synthesized).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Size, assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import (
    EntityTable,
    EventStream,
    PipelineFunction,
    PipelineValidationError,
    StreamConsumer,
    WorkQueue,
    bundled_code,
)
from tests._cdk import Stacks, cfn_lint, logical_id, new_app

MIB = 1024 * 1024
STACKS = ("Large", "SnapStart", "Pollers", "Loops")


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


class Built(Stacks):
    def __init__(self) -> None:
        super().__init__()
        self.templates: dict[str, dict[str, Any]] = {}
        self.warnings: dict[str, dict[str, list[str]]] = {}
        self.outdir = Path()

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    def env(self, stack: str, function: Any) -> dict[str, Any]:
        props = self.templates[stack]["Resources"][logical_id(function)]["Properties"]
        return props.get("Environment", {}).get("Variables", {})


@pytest.fixture(scope="module")
def built() -> Built:
    b = Built()

    # --- large records and warm throughput -------------------------------------------------
    s = b.stack("Large")
    b.things["large"] = large = EventStream(s, "Events", max_record_size=Size.mebibytes(4), warm_throughput=100)
    b.things["large.batch100"] = large.add_consumer("Wide", **code())                  # 100 x 4 MiB: warning
    b.things["large.batch1"] = large.add_consumer("Narrow", **code(), batch_size=1)   # fits
    b.things["huge"] = huge = EventStream(s, "Huge", max_record_size=Size.mebibytes(10))
    b.things["huge.reader"] = huge.add_consumer("Reader", **code(), batch_size=1)     # never fits
    b.things["plain"] = plain = EventStream(s, "Plain")                                # 1 MiB, no setting
    b.things["plain.reader"] = plain.add_consumer("Reader", **code())
    b.things["large.producer"] = producer = PipelineFunction(s, "Producer", **code())
    large.connect_producer(producer)
    b.things["both.producer"] = both = PipelineFunction(s, "BothProducer", **code())
    large.connect_producer(both)
    plain.connect_producer(both)                                                      # the smaller limit wins
    b.things["plain.producer"] = plain_producer = PipelineFunction(s, "PlainProducer", **code())
    plain.connect_producer(plain_producer)
    raw = kinesis.Stream(s, "Raw", encryption=kinesis.StreamEncryption.MANAGED)
    raw_cfn = raw.node.default_child
    assert isinstance(raw_cfn, kinesis.CfnStream)
    raw_cfn.max_record_size_in_kib = 8192                                              # set on the L1 by a user
    b.things["raw.reader"] = StreamConsumer(s, "RawReader", stream=raw, **code(), batch_size=1)

    # --- SnapStart ---------------------------------------------------------------------------
    s = b.stack("SnapStart")
    b.things["snap.fn"] = snap = PipelineFunction(s, "Api", **code(), snap_start=True)
    b.things["snap.events"] = events = EventStream(s, "Events")
    b.things["snap.consumer"] = events.add_consumer("Reader", **code(), snap_start=True)
    b.things["snap.given"] = events.add_consumer("Given", function=snap)              # a given SnapStart function
    b.things["snap.worker"] = WorkQueue(s, "Jobs").add_worker("Worker", **code(), snap_start=True)
    role = iam.Role(s, "LatestRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))  # no managed policy
    b.things["snap.latest"] = latest = lambda_.Function(
        s, "Latest", runtime=lambda_.Runtime.PYTHON_3_14, handler="audit_handler.handler", role=role,
        code=bundled_code("audit"), snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS)
    latest.add_alias("live")  # published, but the consumer below is given the unqualified function
    PipelineFunction.add_pipeline_layers(latest)
    b.things["snap.unqualified"] = events.add_consumer("Unqualified", function=latest)

    # --- provisioned pollers ---------------------------------------------------------------
    s = b.stack("Pollers")
    b.things["pollers.queue"] = queue = WorkQueue(s, "Jobs")
    b.things["pollers.worker"] = queue.add_worker("Provisioned", **code(), provisioned_pollers=(5, 50))
    b.things["pollers.standard"] = WorkQueue(s, "Twin").add_worker("Standard", **code())

    # --- loops -------------------------------------------------------------------------------
    s = b.stack("Loops")
    b.things["loops.events"] = events = EventStream(s, "Events")
    echo = events.add_consumer("Echo", **code())
    events.connect_producer(echo)                                       # reads and writes one stream
    b.things["loops.echo"] = echo
    b.things["loops.orders"] = orders = EventStream(s, "Orders")
    b.things["loops.invoices"] = invoices = EventStream(s, "Invoices")
    writer = PipelineFunction(s, "Billing", **code())
    invoices.grant_put(writer)                                           # the producer edge first ...
    b.things["loops.billing"] = orders.add_consumer("Billing", function=writer)  # ... then the consumer
    b.things["loops.reconcile"] = reconcile = invoices.add_consumer("Reconcile", **code(), max_hops=3)
    orders.connect_producer(reconcile)                                   # Orders -> Billing -> Invoices -> back
    b.things["loops.items"] = items = EntityTable(s, "Items")
    touch = items.add_change_consumer("Touch", **code())
    items.connect_writer(touch)                                          # writes the table it reads
    b.things["loops.touch"] = touch
    jobs = WorkQueue(s, "Jobs")
    retry = jobs.add_worker("Retry", **code())
    jobs.connect_producer(retry)                                         # SQS only: AWS detects it
    b.things["loops.retry"] = retry
    b.things["loops.audit"] = events.add_consumer("Audit", **code())     # reads only: no loop
    sink = EventStream(s, "Sink")
    forward = orders.add_consumer("Forward", **code())
    sink.connect_producer(forward)                                       # writes elsewhere: no loop
    b.things["loops.forward"] = forward

    assembly = b.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    b.outdir = Path(assembly.directory)
    for name, stack in b.stacks.items():
        b.templates[name] = assertions.Template.from_stack(stack).to_json()
        found: dict[str, list[str]] = {}
        for warning in assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.any_value()):
            found.setdefault(warning.id, []).append(str(warning.entry.data))
        b.warnings[name] = found
    return b


def warnings_with(built: Built, stack: str, ack_id: str) -> dict[str, list[str]]:
    """Warnings of one id, by construct path, without the ``[ack: ...]`` suffix."""
    suffix = f" [ack: {ack_id}]"
    return {path: [w.removesuffix(suffix) for w in found if w.endswith(suffix)]
            for path, found in built.warnings[stack].items() if any(w.endswith(suffix) for w in found)}


# --- cdk-nag and cfn-lint ------------------------------------------------------------------------


def test_cdk_nag_reports_no_unacknowledged_finding(built):
    report = json.loads((built.outdir / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["conclusion"] == "success" and nag[0]["violations"] == []


@pytest.mark.parametrize("name", STACKS)
def test_cfn_lint_reports_no_error(built, name):
    errors, warnings = cfn_lint(built.templates[name], regions=["us-east-1", "eu-west-1"])
    assert errors == []
    assert warnings <= {"W3005"}  # aws-cdk-lib's own redundant DependsOn on function roles


# --- large records -------------------------------------------------------------------------------


def test_max_record_size_and_warm_throughput_are_set_on_the_stream(built):
    streams = built.resources("Large", "AWS::Kinesis::Stream")
    large = streams[logical_id(built.things["large"].stream)]["Properties"]
    assert large["MaxRecordSizeInKiB"] == 4096
    assert large["WarmThroughputMiBps"] == 100
    assert large["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert streams[logical_id(built.things["huge"].stream)]["Properties"]["MaxRecordSizeInKiB"] == 10240
    plain = streams[logical_id(built.things["plain"].stream)]["Properties"]
    assert "MaxRecordSizeInKiB" not in plain and "WarmThroughputMiBps" not in plain
    assert built.things["large"].max_record_size_bytes == 4 * MIB


def test_producers_get_the_smallest_record_limit_of_their_streams(built):
    assert built.env("Large", built.things["large.producer"])["EVENT_PIPELINE_MAX_RECORD_BYTES"] == str(4 * MIB)
    # connected to a 4 MiB and a 1 MiB stream: one variable serves both, so the smaller
    assert built.env("Large", built.things["both.producer"])["EVENT_PIPELINE_MAX_RECORD_BYTES"] == str(MIB)
    assert "EVENT_PIPELINE_MAX_RECORD_BYTES" not in built.env("Large", built.things["plain.producer"])


def test_a_batch_that_cannot_fit_lambdas_payload_gets_a_warning_saying_what_to_set(built):
    found = warnings_with(built, "Large", "cdk-event-pipeline:BatchLargerThanLambdaPayload")
    assert found == {"/Large/Events/Wide": [
        "batch_size 100 records of up to 4096 KiB (max_record_size; 5593432 bytes each in a Lambda event: base64 "
        "adds a third, plus ~1 KiB of event fields) do not fit Lambda's 6 MB (6291456-byte) invocation payload: "
        "Lambda stops filling a batch at that limit, so a batch of records that large holds only 1. Set batch_size "
        "to 1 or lower to make the function's timeout and memory hold for the largest batch, or lower "
        "max_record_size."]}


def test_a_record_that_can_never_reach_lambda_gets_a_warning(built):
    found = warnings_with(built, "Large", "cdk-event-pipeline:RecordTooLargeForLambda")
    assert set(found) == {"/Large/Huge/Reader", "/Large/RawReader"}
    assert found["/Large/Huge/Reader"] == [
        "The stream accepts records of up to 10240 KiB (max_record_size); in a Lambda event such a record takes "
        "13982040 bytes (base64 adds a third, plus ~1 KiB of event fields), over Lambda's 6 MB (6291456-byte) "
        "invocation payload limit. Lambda cannot invoke the function with it: it retries until the record is older "
        "than max_record_age (43200 seconds), then sends only its metadata (shard and sequence numbers, not the "
        "data) to the on-failure queue, unprocessed: the data stays in the stream until it expires. Fix: set the "
        "stream's max_record_size to at most 4607 KiB, or keep large payloads in S3 and put a reference on the "
        "stream."]
    assert "records of up to 8192 KiB" in found["/Large/RawReader"][0]  # read from the kinesis.Stream's L1


def test_the_warning_says_an_s3_destination_receives_the_whole_record():
    """An S3 on-failure destination gets the invocation record with the data, not only metadata
    (issue 17 item 8)."""
    from aws_cdk import aws_s3 as s3

    stack = cdk.Stack(new_app(), "Bucketed")
    huge = EventStream(stack, "Huge", max_record_size=Size.mebibytes(10))
    bucket = s3.Bucket(stack, "Failures", enforce_ssl=True)
    huge.add_consumer("Keeper", **code(), batch_size=1, failure_bucket=bucket)
    found = [str(w.entry.data) for w in assertions.Annotations.from_stack(stack).find_warning(
        "/Bucketed/Huge/Keeper", assertions.Match.string_like_regexp("RecordTooLargeForLambda"))]
    assert found == [
        "The stream accepts records of up to 10240 KiB (max_record_size); in a Lambda event such a record takes "
        "13982040 bytes (base64 adds a third, plus ~1 KiB of event fields), over Lambda's 6 MB (6291456-byte) "
        "invocation payload limit. Lambda cannot invoke the function with it: it retries until the record is older "
        "than max_record_age (43200 seconds), then writes the whole invocation record, the record's data included, "
        "to the on-failure bucket (failure_bucket), unprocessed. Fix: set the stream's max_record_size to at most "
        "4607 KiB, or keep large payloads in S3 and put a reference on the stream. "
        "[ack: cdk-event-pipeline:RecordTooLargeForLambda]"]


def test_the_largest_record_named_in_the_fix_fits_one_invocation():
    from cdk_event_pipeline.consumers.kinesis import largest_record_for_lambda_kib, records_per_lambda_payload

    kib = largest_record_for_lambda_kib()
    assert kib == 4607
    assert records_per_lambda_payload(kib * 1024) == 1
    assert records_per_lambda_payload((kib + 1) * 1024) == 0


def test_consumers_of_streams_without_a_known_record_size_are_not_checked(built):
    assert "/Large/Plain/Reader" not in built.warnings["Large"]
    assert "/Large/Events/Narrow" not in built.warnings["Large"]


@pytest.mark.parametrize(("props", "message"), [
    ({"max_record_size": Size.kibibytes(512)},
     "max_record_size must be between 1024 KiB (1 MiB) and 10240 KiB (10 MiB) inclusive (given 512 KiB)"),
    ({"max_record_size": Size.mebibytes(11)},
     "max_record_size must be between 1024 KiB (1 MiB) and 10240 KiB (10 MiB) inclusive (given 11264 KiB)"),
    ({"max_record_size": Size.bytes(2 * MIB + 100)},
     "max_record_size must be a whole number of KiB (given 2097252 bytes): Kinesis sets it in KiB"),
    ({"max_record_size": 4096}, "max_record_size must be a Size, e.g. Size.mebibytes(4) (given 4096)"),
    ({"warm_throughput": -1}, "warm_throughput must be between 0 MiB/s and 10240 MiB/s inclusive (given -1 MiB/s)"),
    ({"warm_throughput": 10241},
     "warm_throughput must be between 0 MiB/s and 10240 MiB/s inclusive (given 10241 MiB/s)"),
    ({"warm_throughput": 50, "shard_count": 2},
     "warm_throughput is only valid for an on-demand stream (given warm_throughput 50 MiB/s and shard_count 2): a "
     "provisioned stream's capacity is its shards. Drop shard_count for an on-demand stream, or drop warm_throughput "
     "and size the shards"),
])
def test_stream_capacity_props_are_validated(stack, props, message):
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S", **props)
    assert str(error.value) == f"{stack.node.path}/S: {message}"


def test_an_existing_stream_takes_neither_setting(stack):
    existing = kinesis.Stream.from_stream_arn(stack, "Old", "arn:aws:kinesis:us-east-1:111122223333:stream/old")
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S", stream=existing, max_record_size=Size.mebibytes(2), warm_throughput=10)
    assert error.value.reason == (
        "stream and max_record_size, warm_throughput are mutually exclusive: pass an existing stream or the props of "
        "a new one, not both")


def test_a_token_record_size_is_left_to_cloudformation(stack):
    size = cdk.CfnParameter(stack, "Size", type="Number").value_as_number
    events = EventStream(stack, "S", max_record_size=Size.kibibytes(size))
    assert events.max_record_size_bytes is None  # unknown: no producer limit, no consumer check


# --- SnapStart -----------------------------------------------------------------------------------


def test_snap_start_publishes_a_version_with_an_alias(built):
    fn = built.things["snap.fn"]
    t = built.templates["SnapStart"]
    props = t["Resources"][logical_id(fn)]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert props["Runtime"] == "python3.14"
    assert fn.alias is not None
    alias = t["Resources"][logical_id(fn.alias)]["Properties"]
    assert alias["Name"] == "live"
    assert alias["FunctionName"] == {"Ref": logical_id(fn)}
    version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
    assert t["Resources"][version_id]["Type"] == "AWS::Lambda::Version"
    assert t["Resources"][version_id]["Properties"]["FunctionName"] == {"Ref": logical_id(fn)}


def _mapping_of(built: Built, stack: str, owner: Any) -> dict[str, Any]:
    return built.templates[stack]["Resources"][logical_id(owner.event_source_mapping)]["Properties"]


def _alias_target(fn: PipelineFunction) -> dict[str, Any]:
    assert fn.alias is not None
    return {"Fn::Join": ["", [{"Fn::Select": [6, {"Fn::Split": [":", {"Ref": logical_id(fn.alias)}]}]}, ":live"]]}


@pytest.mark.parametrize("owner", ["snap.consumer", "snap.worker", "snap.given"])
def test_the_mapping_invokes_the_alias(built, owner):
    thing = built.things[owner]
    assert isinstance(thing.function, PipelineFunction) and thing.function.alias is not None
    assert thing.target is thing.function.alias
    assert _mapping_of(built, "SnapStart", thing)["FunctionName"] == _alias_target(thing.function)


def test_without_snap_start_the_mapping_invokes_the_function(built):
    reader = built.things["plain.reader"]
    assert reader.target is reader.function
    assert built.templates["Large"]["Resources"][logical_id(reader.event_source_mapping)]["Properties"][
        "FunctionName"] == {"Ref": logical_id(reader.function)}
    assert "SnapStart" not in built.templates["Large"]["Resources"][logical_id(reader.function)]["Properties"]


def test_alarms_of_a_snap_start_consumer_watch_the_function(built):
    consumer = built.things["snap.consumer"]
    alarms = built.resources("SnapStart", "AWS::CloudWatch::Alarm")
    errors = alarms[logical_id(consumer.alarms["Errors"])]["Properties"]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id(consumer.function)}}]


def test_a_given_snap_start_function_invoked_unqualified_gets_a_warning(built):
    found = warnings_with(built, "SnapStart", "cdk-event-pipeline:SnapStartOnLatest")
    assert found == {"/SnapStart/Events/Unqualified": [
        "The function SnapStart/Latest has SnapStart, which applies only to published versions, but the mapping "
        "invokes it unqualified ($LATEST): every new environment initializes from scratch. Pass an alias or version "
        "of it (fn.add_alias('live') / fn.current_version) as function=, or a PipelineFunction(snap_start=True)."]}


def test_the_library_acknowledges_aws_cdks_publish_reminder_for_its_own_functions(built):
    reminders = warnings_with(built, "SnapStart", "@aws-cdk/aws-lambda:snapStartRequirePublish")
    assert set(reminders) == {"/SnapStart/Latest"}  # the user's own function still gets it


@pytest.mark.parametrize("region", ["ap-southeast-6", "ap-east-2"])
def test_snap_start_in_a_region_without_it_gets_a_warning(region):
    """Lambda's SnapStart page: all commercial Regions except Asia Pacific (New Zealand) and (Taipei)."""
    stack = cdk.Stack(new_app(), "Far", env=cdk.Environment(region=region))
    fast = PipelineFunction(stack, "Fast", **code(), snap_start=True)
    plain = PipelineFunction(stack, "Plain", **code())
    assert snap_start_region_warnings(plain) == []
    assert snap_start_region_warnings(fast) == [(
        f"snap_start=True, but Lambda SnapStart is not available in {region} (Lambda developer guide, 'Improving "
        "startup performance with Lambda SnapStart', Supported Regions: all commercial Regions except ap-east-2, "
        "ap-southeast-6): the function's SnapStart setting would fail to deploy. Drop snap_start for this stack's "
        "functions, or deploy the stack to another region. [ack: cdk-event-pipeline:SnapStartUnsupportedRegion]")]
    # aws-cdk-lib's own template validation (cfn-lint's E2530, an allow-list) refuses the synth as well
    with pytest.raises(RuntimeError, match=f"E2530|SnapStart is not supported in region '{region}'"):
        assertions.Template.from_stack(stack)


def snap_start_region_warnings(function: PipelineFunction) -> list[str]:
    """The construct's SnapStartUnsupportedRegion warnings, read before any synth."""
    return [str(entry.data) for entry in function.node.metadata
            if entry.type == "aws:cdk:warning" and "SnapStartUnsupportedRegion" in str(entry.data)]


@pytest.mark.parametrize("region", [None, "eu-west-1", "us-east-1"])
def test_snap_start_where_lambda_has_it_or_the_region_is_unknown_is_not_warned(region):
    env = cdk.Environment(region=region) if region else None
    stack = cdk.Stack(new_app(), "Near", env=env)
    assert snap_start_region_warnings(PipelineFunction(stack, "Fast", **code(), snap_start=True)) == []


def test_snap_start_needs_a_function_the_construct_builds(stack):
    fn = PipelineFunction(stack, "Mine", **code())
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S").add_consumer("C", function=fn, snap_start=True)
    assert error.value.reason == (
        "snap_start applies to the function the construct builds (given function=): build your function with "
        "SnapStart (PipelineFunction(..., snap_start=True), whose alias the mapping then invokes) and pass it")
    with pytest.raises(PipelineValidationError, match="snap_start applies to the function the construct builds"):
        WorkQueue(stack, "Q").add_worker("W", function=fn, snap_start=True)


# --- provisioned pollers ---------------------------------------------------------------------------


def test_provisioned_pollers_are_set_on_the_mapping(built):
    mapping = _mapping_of(built, "Pollers", built.things["pollers.worker"])
    assert mapping["ProvisionedPollerConfig"] == {"MinimumPollers": 5, "MaximumPollers": 50}
    assert "ScalingConfig" not in mapping
    assert "ProvisionedPollerConfig" not in _mapping_of(built, "Pollers", built.things["pollers.standard"])


def test_alarms_and_dashboard_are_the_same_with_provisioned_pollers(built):
    provisioned, standard = built.things["pollers.worker"], built.things["pollers.standard"]
    assert set(provisioned.alarms) == set(standard.alarms) == {"Errors", "FailedInvokeEvents", "DroppedEvents"}
    alarms = built.resources("Pollers", "AWS::CloudWatch::Alarm")

    def shape(alarm: Any, function: Any) -> dict[str, Any]:
        props = dict(alarms[logical_id(alarm)]["Properties"])
        assert props.pop("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": logical_id(function)}}]
        props.pop("AlarmDescription")
        props.pop("AlarmName", None)
        return props

    assert shape(provisioned.alarms["Errors"], provisioned.function) == shape(
        standard.alarms["Errors"], standard.function)
    dashboard = json.dumps(built.resources("Pollers", "AWS::CloudWatch::Dashboard"))
    assert dashboard.count("Jobs-Provisioned errors") == 1 and dashboard.count("Twin-Standard errors") == 1


@pytest.mark.parametrize(("props", "message"), [
    ({"provisioned_pollers": (1, 10)},
     "provisioned_pollers minimum must be between 2 and 200 inclusive (given 1)"),
    ({"provisioned_pollers": (201, 300)},
     "provisioned_pollers minimum must be between 2 and 200 inclusive (given 201)"),
    ({"provisioned_pollers": (2, 1)}, "provisioned_pollers maximum must be between 2 and 10000 inclusive (given 1)"),
    # issue 17 item 4: SQS allows up to 10,000 maximum pollers (2,000 is Kafka's limit)
    ({"provisioned_pollers": (2, 10_001)},
     "provisioned_pollers maximum must be between 2 and 10000 inclusive (given 10001)"),
    ({"provisioned_pollers": (20, 10)},
     "provisioned_pollers minimum must not exceed its maximum (given (20, 10)): pass (10, 20) or raise the maximum"),
    ({"provisioned_pollers": (5,)}, "provisioned_pollers must be a (minimum, maximum) pair of pollers (given (5,))"),
    ({"provisioned_pollers": (2, 20), "max_concurrency": 10},
     "provisioned_pollers and max_concurrency are mutually exclusive (given provisioned_pollers (2, 20) and "
     "max_concurrency 10): Lambda accepts either provisioned mode or a maximum concurrency on an SQS event source "
     "mapping; bound concurrency with the maximum pollers (each runs up to 10 concurrent invocations) or drop "
     "provisioned_pollers"),
])
def test_provisioned_pollers_are_validated(stack, props, message):
    with pytest.raises(PipelineValidationError) as error:
        WorkQueue(stack, "Q").add_worker("W", **code(), **props)
    assert str(error.value) == f"{stack.node.path}/Q/W: {message}"


def test_provisioned_pollers_work_on_a_fifo_queue_and_an_imported_queue(stack):
    fifo = WorkQueue(stack, "F", fifo=True).add_worker("W", **code(), provisioned_pollers=(2, 2))
    assert fifo.provisioned_pollers == (2, 2)
    imported = sqs.Queue.from_queue_arn(stack, "Imp", "arn:aws:sqs:us-east-1:111122223333:q")
    WorkQueue(stack, "I", queue=imported).add_worker("W", **code(), provisioned_pollers=(10, 2000))


def test_provisioned_pollers_up_to_ten_thousand_are_accepted_and_lint_clean():
    # issue 17 item 4: ProvisionedPollerConfig allows 2-10,000 maximum pollers for SQS (was refused above 2,000)
    b = Stacks(nag=False)
    s = b.stack("S", region="us-east-1")
    WorkQueue(s, "Q").add_worker("W", **code(), provisioned_pollers=(200, 10_000))
    template = assertions.Template.from_stack(s)
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "ProvisionedPollerConfig": {"MinimumPollers": 200, "MaximumPollers": 10_000}})
    errors, _ = cfn_lint(template.to_json(), regions=["us-east-1"])
    assert errors == []


# --- the recursion check -----------------------------------------------------------------------------


def _loop_warnings(built: Built) -> dict[str, list[str]]:
    return warnings_with(built, "Loops", "cdk-event-pipeline:RecursiveLoop")


def test_a_consumer_writing_back_to_its_own_stream_gets_a_warning(built):
    assert _loop_warnings(built)["/Loops/Events/Echo"] == [
        "The function Loops/Events/Echo/Handler reads Loops/Events and what it writes comes back to it "
        "(Loops/Events/Echo/Handler writes to Loops/Events): a recursive loop. AWS Lambda's recursive loop detection "
        "covers SQS, SNS and S3, not Kinesis or DynamoDB Streams. At run time the consumer refuses a record that has "
        "taken more hops than the default 10 (EVENT_PIPELINE_MAX_HOPS) and sends it to the on-failure destination, "
        "which ends a loop of envelopes. Break the loop (write elsewhere, or filter out the records the function "
        "writes), or acknowledge this warning if the loop is intended and bounded."]


def test_a_loop_through_another_stream_is_found_whichever_edge_came_first(built):
    found = _loop_warnings(built)
    billing = found["/Loops/Orders/Billing"][0]
    assert ("(Loops/Billing writes to Loops/Invoices, which Loops/Invoices/Reconcile/Handler reads; "
            "Loops/Invoices/Reconcile/Handler writes to Loops/Orders)") in billing
    reconcile = found["/Loops/Invoices/Reconcile"][0]
    assert ("(Loops/Invoices/Reconcile/Handler writes to Loops/Orders, which Loops/Billing reads; Loops/Billing "
            "writes to Loops/Invoices)") in reconcile
    assert "more hops than max_hops 3 (EVENT_PIPELINE_MAX_HOPS)" in reconcile


def test_a_change_consumer_writing_its_own_table_gets_a_warning(built):
    (touch,) = _loop_warnings(built)["/Loops/Items/Touch"]
    assert "(Loops/Items/Touch/Handler writes to Loops/Items)" in touch
    assert "a DynamoDB change record carries no hop count, so a loop through a table goes on until the function " \
           "stops writing" in touch


def test_no_warning_without_a_loop_or_for_queues_only(built):
    assert set(_loop_warnings(built)) == {
        "/Loops/Events/Echo", "/Loops/Orders/Billing", "/Loops/Invoices/Reconcile", "/Loops/Items/Touch"}


def test_max_hops_sets_the_runtime_limit(built):
    reconcile = built.things["loops.reconcile"]
    assert built.env("Loops", reconcile.function)["EVENT_PIPELINE_MAX_HOPS"] == "3"
    assert "EVENT_PIPELINE_MAX_HOPS" not in built.env("Loops", built.things["loops.echo"].function)


@pytest.mark.parametrize(("value", "message"), [
    (-1, "max_hops must be between 0 and 1000000 inclusive (given -1)"),
    (1_000_001, "max_hops must be between 0 and 1000000 inclusive (given 1000001)"),
])
def test_max_hops_is_validated(stack, value, message):
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S").add_consumer("C", **code(), max_hops=value)
    assert str(error.value) == f"{stack.node.path}/S/C: {message}"
    with pytest.raises(PipelineValidationError, match=message.replace("(", "\\(").replace(")", "\\)")):
        WorkQueue(stack, "Q").add_worker("W", **code(), max_hops=value)


def test_max_hops_needs_a_function_whose_environment_can_be_set(stack):
    imported = lambda_.Function.from_function_attributes(
        stack, "Legacy", function_arn=f"arn:aws:lambda:us-east-1:{cdk.Aws.ACCOUNT_ID}:function:legacy",
        same_environment=True)
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S").add_consumer("C", function=imported, max_hops=5)
    assert error.value.reason == (
        "max_hops needs a function whose environment can be set: pass code/handler, or set EVENT_PIPELINE_MAX_HOPS on "
        "your function yourself")


def test_a_worker_of_a_work_queue_records_its_source(built):
    retry = built.things["loops.retry"]
    assert retry.max_hops is None and retry.target is retry.function


def test_the_check_runs_once_per_synthesis(built):
    # a second synthesis of the same app (Template.from_stack again) adds no duplicate warning
    assertions.Template.from_stack(built.stacks["Loops"])
    assert len(assertions.Annotations.from_stack(built.stacks["Loops"]).find_warning(
        "/Loops/Events/Echo", assertions.Match.string_like_regexp("recursive loop"))) == 1

