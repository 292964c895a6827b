"""Interop both ways (issue 10, findings 1 and 7): every library method that takes a function,
a grantee, a stream, a queue or a table is called with every library construct of that kind and
with the aws-cdk-lib resource, and the template shows the wiring (grant, environment, mapping).

The matrix is built in one app (a stack per group of methods, alarms off to keep it small) and
synthesized once for the module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_event_pipeline import (
    EntityTable,
    EventStream,
    ExactSqsDestination,
    PipelineFunction,
    PipelineMonitoring,
    QueueWorker,
    StreamArchive,
    StreamConsumer,
    StreamConsumerBase,
    TableChangeConsumer,
    WorkQueue,
    bundled_code,
)
from tests._cdk import actions_of, get_att_arn, logical_id, new_app, role_statements

Check = Callable[[assertions.Template], None]


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


# --- the variants of each kind ------------------------------------------------------------------

def _plain_function(scope: Construct, id: str) -> lambda_.Function:
    return lambda_.Function(scope, id, runtime=lambda_.Runtime.PYTHON_3_14, handler="audit_handler.handler",
                            code=bundled_code("audit"))


FUNCTIONS: dict[str, Callable[[Construct, str], Any]] = {
    "PipelineFunction": lambda s, id: PipelineFunction(s, id, **code()),
    "lambda.Function": _plain_function,
    "StreamConsumer": lambda s, id: EventStream(s, f"{id}Source").add_consumer(id, **code()),
    "QueueWorker": lambda s, id: WorkQueue(s, f"{id}Source").add_worker(id, **code()),
}
GRANTEES: dict[str, Callable[[Construct, str], Any]] = {
    **FUNCTIONS,
    "iam.Role": lambda s, id: iam.Role(s, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")),
}
STREAMS: dict[str, Callable[[Construct, str], Any]] = {
    "EventStream": lambda s, id: EventStream(s, id, retention=Duration.days(3)),
    "kinesis.Stream": lambda s, id: kinesis.Stream(s, id, retention_period=Duration.days(3),
                                                   encryption=kinesis.StreamEncryption.MANAGED),
}
QUEUES: dict[str, Callable[[Construct, str], Any]] = {
    "WorkQueue": lambda s, id: WorkQueue(s, id),
    "sqs.Queue": lambda s, id: sqs.Queue(s, id, enforce_ssl=True),
}
TABLES: dict[str, Callable[[Construct, str], Any]] = {
    "EntityTable": lambda s, id: EntityTable(s, id, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES),
    "dynamodb.TableV2": lambda s, id: dynamodb.TableV2(
        s, id, partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES),
}


def role_of(grantee: Any) -> iam.IRole:
    if isinstance(grantee, iam.Role):
        return grantee
    function = grantee.function if isinstance(grantee, (StreamConsumerBase, QueueWorker)) else grantee
    role = function.role
    assert role is not None
    return role


def function_of(thing: Any) -> lambda_.IFunction:
    return thing.function if isinstance(thing, (StreamConsumerBase, QueueWorker)) else thing


def arn_of(resource: Any) -> dict[str, Any]:
    inner = {EventStream: "stream", WorkQueue: "queue", EntityTable: "table"}.get(type(resource))
    return get_att_arn(getattr(resource, inner) if inner else resource)


def assert_granted(template: assertions.Template, grantee: Any, actions: list[str], resource: Any) -> None:
    """Every action is allowed on the resource by some statement of the grantee's role (the IAM
    minimizePolicies flag merges statements, so actions and resources are checked one by one)."""
    statements = role_statements(template, role_of(grantee))
    for action in actions:
        if not any(action in actions_of(s) and resource in (s["Resource"] if isinstance(s["Resource"], list)
                                                            else [s["Resource"]]) for s in statements):
            raise AssertionError(f"{action} on {resource} not granted: {statements}")


def env_of(template: assertions.Template, function: lambda_.IFunction) -> dict[str, Any]:
    props = template.to_json()["Resources"][logical_id(function)]["Properties"]
    return props.get("Environment", {}).get("Variables", {})


def mapping_of(template: assertions.Template, owner: Any) -> dict[str, Any]:
    return template.to_json()["Resources"][logical_id(owner.event_source_mapping)]["Properties"]


# --- the cases: (group, method, variant) -> build(stack) -> check(template) ----------------------

KINESIS_READ = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards"]
PUT = ["kinesis:PutRecord", "kinesis:PutRecords"]
WORKER = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
READER = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]
WRITER = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]


def _grant_case(make_target: Callable[[Construct], Any], call: Callable[[Any, Any], Any], actions: list[str],
                resource: Callable[[Any], Any] = arn_of) -> Callable[[Construct, str], Check]:
    def build(stack: Construct, variant: str) -> Check:
        target = make_target(stack)
        grantee = GRANTEES[variant](stack, "Grantee")
        call(target, grantee)
        return lambda t: assert_granted(t, grantee, actions, resource(target))
    return build


def _table_stream_arn(table: EntityTable) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(table.table), "StreamArn"]}


GRANT_METHODS: dict[str, Callable[[Construct, str], Check]] = {
    "EventStream.grant_put": _grant_case(lambda s: EventStream(s, "T"), lambda t, g: t.grant_put(g), PUT),
    "EventStream.grant_write": _grant_case(lambda s: EventStream(s, "T"), lambda t, g: t.grant_write(g), PUT),
    "EventStream.grant_read": _grant_case(lambda s: EventStream(s, "T"), lambda t, g: t.grant_read(g), KINESIS_READ),
    "EventStream.grant_read_write": _grant_case(
        lambda s: EventStream(s, "T"), lambda t, g: t.grant_read_write(g), KINESIS_READ + PUT),
    "EventStream.grant": _grant_case(
        lambda s: EventStream(s, "T"), lambda t, g: t.grant(g, "kinesis:ListShards"), ["kinesis:ListShards"]),
    "WorkQueue.grant_send": _grant_case(lambda s: WorkQueue(s, "T"), lambda t, g: t.grant_send(g), ["sqs:SendMessage"]),
    "WorkQueue.grant_send_messages": _grant_case(
        lambda s: WorkQueue(s, "T"), lambda t, g: t.grant_send_messages(g), ["sqs:SendMessage"]),
    "WorkQueue.grant_consume_messages": _grant_case(
        lambda s: WorkQueue(s, "T"), lambda t, g: t.grant_consume_messages(g), WORKER),
    "WorkQueue.grant": _grant_case(
        lambda s: WorkQueue(s, "T"), lambda t, g: t.grant(g, "sqs:PurgeQueue"), ["sqs:PurgeQueue"]),
    "EntityTable.grant_actions": _grant_case(
        lambda s: EntityTable(s, "T"), lambda t, g: t.grant_actions(g, "dynamodb:Scan"), ["dynamodb:Scan"]),
    "EntityTable.grant_read_data": _grant_case(lambda s: EntityTable(s, "T"), lambda t, g: t.grant_read_data(g), READER),
    "EntityTable.grant_write_data": _grant_case(lambda s: EntityTable(s, "T"), lambda t, g: t.grant_write_data(g), WRITER),
    "EntityTable.grant_read_write_data": _grant_case(
        lambda s: EntityTable(s, "T"), lambda t, g: t.grant_read_write_data(g), READER + WRITER),
    "EntityTable.grant_stream_read": _grant_case(
        lambda s: EntityTable(s, "T", stream=dynamodb.StreamViewType.NEW_IMAGE),
        lambda t, g: t.grant_stream_read(g), STREAM_READ, _table_stream_arn),
}


def _connect_case(make_target: Callable[[Construct], Any], call: Callable[[Any, Any], Any], env_var: str,
                  actions: list[str]) -> Callable[[Construct, str], Check]:
    def build(stack: Construct, variant: str) -> Check:
        target = make_target(stack)
        thing = FUNCTIONS[variant](stack, "Fn")
        call(target, thing)

        def check(t: assertions.Template) -> None:
            assert env_var in env_of(t, function_of(thing))
            assert_granted(t, thing, actions, arn_of(target))
        return check
    return build


def _mapped_case(make: Callable[[Construct, Any], Any]) -> Callable[[Construct, str], Check]:
    def build(stack: Construct, variant: str) -> Check:
        thing = FUNCTIONS[variant](stack, "Fn")
        owner = make(stack, thing)

        def check(t: assertions.Template) -> None:
            assert owner.function is function_of(thing)
            assert mapping_of(t, owner)["FunctionName"] == {"Ref": logical_id(function_of(thing))}
        return check
    return build


FUNCTION_METHODS: dict[str, Callable[[Construct, str], Check]] = {
    "EventStream.connect_producer": _connect_case(
        lambda s: EventStream(s, "T"), lambda t, f: t.connect_producer(f), "STREAM_NAME", PUT),
    "WorkQueue.connect_producer": _connect_case(
        lambda s: WorkQueue(s, "T"), lambda t, f: t.connect_producer(f), "QUEUE_URL", ["sqs:SendMessage"]),
    "EntityTable.connect": _connect_case(
        lambda s: EntityTable(s, "T"), lambda t, f: t.connect(f, "dynamodb:GetItem"), "TABLE_NAME", ["dynamodb:GetItem"]),
    "EntityTable.connect_reader": _connect_case(
        lambda s: EntityTable(s, "T"), lambda t, f: t.connect_reader(f), "TABLE_NAME", READER),
    "EntityTable.connect_writer": _connect_case(
        lambda s: EntityTable(s, "T"), lambda t, f: t.connect_writer(f), "TABLE_NAME", WRITER),
    "EventStream.add_consumer(function=)": _mapped_case(
        lambda s, f: EventStream(s, "T").add_consumer("C", function=f)),
    "StreamConsumer(function=)": _mapped_case(
        lambda s, f: StreamConsumer(s, "C", stream=EventStream(s, "T"), function=f)),
    "WorkQueue.add_worker(function=)": _mapped_case(lambda s, f: WorkQueue(s, "T").add_worker("W", function=f)),
    "QueueWorker(function=)": _mapped_case(lambda s, f: QueueWorker(s, "W", work_queue=WorkQueue(s, "T"), function=f)),
    "EntityTable.add_change_consumer(function=)": _mapped_case(
        lambda s, f: EntityTable(s, "T").add_change_consumer("C", function=f)),
    "TableChangeConsumer(function=)": _mapped_case(
        lambda s, f: TableChangeConsumer(
            s, "C", table=EntityTable(s, "T", stream=dynamodb.StreamViewType.KEYS_ONLY), function=f)),
}


def _stream_case(make: Callable[[Construct, Any], Check]) -> Callable[[Construct, str], Check]:
    return lambda stack, variant: make(stack, STREAMS[variant](stack, "Source"))


def _wrapped_stream(stack: Construct, source: Any) -> Check:
    wrapper = EventStream(stack, "Wrapper", stream=source)
    consumer = wrapper.add_consumer("C", **code())

    def check(t: assertions.Template) -> None:
        assert mapping_of(t, consumer)["EventSourceArn"] == arn_of(source)
        assert wrapper.stream is (source.stream if isinstance(source, EventStream) else source)
        if isinstance(source, EventStream):  # the wrapped EventStream's retention is known
            assert mapping_of(t, consumer)["MaximumRecordAgeInSeconds"] == 36 * 3600
    return check


def _direct_consumer(stack: Construct, source: Any) -> Check:
    consumer = StreamConsumer(stack, "C", stream=source, **code())

    def check(t: assertions.Template) -> None:
        mapping = mapping_of(t, consumer)
        assert mapping["EventSourceArn"] == arn_of(source)
        # finding 7: half the 3-day retention, as add_consumer gives (was 12 h, from 24 h)
        assert mapping["MaximumRecordAgeInSeconds"] == 36 * 3600
        assert_granted(t, consumer, KINESIS_READ, arn_of(source))
    return check


def _archive(stack: Construct, source: Any) -> Check:
    archive = StreamArchive(stack, "Archive", stream=source)

    def check(t: assertions.Template) -> None:
        t.has_resource_properties("AWS::KinesisFirehose::DeliveryStream", {
            "KinesisStreamSourceConfiguration": assertions.Match.object_like({"KinesisStreamARN": arn_of(source)})})
        assert archive.stream is (source.stream if isinstance(source, EventStream) else source)
    return check


STREAM_METHODS: dict[str, Callable[[Construct, str], Check]] = {
    "EventStream(stream=)": _stream_case(_wrapped_stream),
    "StreamConsumer(stream=)": _stream_case(_direct_consumer),
    "StreamArchive(stream=)": _stream_case(_archive),
}


def _queue_case(make: Callable[[Construct, Any], Check]) -> Callable[[Construct, str], Check]:
    return lambda stack, variant: make(stack, QUEUES[variant](stack, "Given"))


def _wrapped_queue(stack: Construct, given: Any) -> Check:
    wrapper = WorkQueue(stack, "Wrapper", queue=given)
    worker = wrapper.add_worker("W", **code())
    return lambda t: assert_granted(t, worker, WORKER, arn_of(given))


def _worker_on(stack: Construct, given: Any) -> Check:
    worker = QueueWorker(stack, "W", work_queue=given, **code())

    def check(t: assertions.Template) -> None:
        assert mapping_of(t, worker)["EventSourceArn"] == arn_of(given)
        assert_granted(t, worker, WORKER, arn_of(given))
    return check


def _on_failure_queue(add: Callable[[Construct, Any], Any]) -> Callable[[Construct, Any], Check]:
    def make(stack: Construct, given: Any) -> Check:
        consumer = add(stack, given)

        def check(t: assertions.Template) -> None:
            assert mapping_of(t, consumer)["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(given)}}
            assert_granted(t, consumer, ["sqs:SendMessage"], arn_of(given))
        return check
    return make


def _monitored(stack: Construct, given: Any) -> Check:
    alarms = PipelineMonitoring.of(stack).monitor_queue(given, alarms=True)
    queue = given.queue if isinstance(given, WorkQueue) else given

    def check(t: assertions.Template) -> None:
        # the stack's monitoring is disabled: dashboard entries only, and no alarm
        assert alarms == {}
        body = t.find_resources("AWS::CloudWatch::Dashboard")
        assert body and logical_id(queue) in str(body)
    return check


def _exact_destination(stack: Construct, given: Any) -> Check:
    destination = ExactSqsDestination(given)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    destination.grant(role)
    return lambda t: assert_granted(t, role, ["sqs:SendMessage"], arn_of(given))


QUEUE_METHODS: dict[str, Callable[[Construct, str], Check]] = {
    "ExactSqsDestination(queue)": _queue_case(_exact_destination),
    "WorkQueue(queue=)": _queue_case(_wrapped_queue),
    "QueueWorker(work_queue=)": _queue_case(_worker_on),
    "EventStream.add_consumer(dead_letter_queue=)": _queue_case(_on_failure_queue(
        lambda s, q: EventStream(s, "T").add_consumer("C", **code(), dead_letter_queue=q))),
    "EntityTable.add_change_consumer(dead_letter_queue=)": _queue_case(_on_failure_queue(
        lambda s, q: EntityTable(s, "T").add_change_consumer("C", **code(), dead_letter_queue=q))),
    "PipelineMonitoring.monitor_queue": _queue_case(_monitored),
}


def _table_case(make: Callable[[Construct, Any], Check]) -> Callable[[Construct, str], Check]:
    return lambda stack, variant: make(stack, TABLES[variant](stack, "Given"))


def _wrapped_table(stack: Construct, given: Any) -> Check:
    wrapper = EntityTable(stack, "Wrapper", table=given)
    reader = PipelineFunction(stack, "Reader", **code())
    wrapper.connect_reader(reader)
    return lambda t: assert_granted(t, reader, READER, arn_of(given))


def _change_consumer_on(stack: Construct, given: Any) -> Check:
    consumer = TableChangeConsumer(stack, "C", table=given, **code())
    arn = {"Fn::GetAtt": [logical_id(given.table if isinstance(given, EntityTable) else given), "StreamArn"]}

    def check(t: assertions.Template) -> None:
        assert mapping_of(t, consumer)["EventSourceArn"] == arn
        assert_granted(t, consumer, STREAM_READ, arn)
    return check


def _idempotency_table(stack: Construct, given: Any) -> Check:
    consumer = EventStream(stack, "T").add_consumer("C", **code(), idempotency=given)

    def check(t: assertions.Template) -> None:
        assert env_of(t, consumer.function)["IDEMPOTENCY_TABLE_NAME"] == {"Ref": logical_id(consumer.idempotency_table)}
        assert_granted(t, consumer, ["dynamodb:GetItem", "dynamodb:PutItem"], arn_of(given))
    return check


TABLE_METHODS: dict[str, Callable[[Construct, str], Check]] = {
    "EntityTable(table=)": _table_case(_wrapped_table),
    "TableChangeConsumer(table=)": _table_case(_change_consumer_on),
    "EventStream.add_consumer(idempotency=)": _table_case(_idempotency_table),
}

MATRIX: list[tuple[str, str, Callable[[Construct, str], Check]]] = [
    *((method, variant, build) for method, build in GRANT_METHODS.items() for variant in GRANTEES),
    *((method, variant, build) for method, build in FUNCTION_METHODS.items() for variant in FUNCTIONS),
    *((method, variant, build) for method, build in STREAM_METHODS.items() for variant in STREAMS),
    *((method, variant, build) for method, build in QUEUE_METHODS.items() for variant in QUEUES),
    *((method, variant, build) for method, build in TABLE_METHODS.items() for variant in TABLES),
]


@pytest.fixture(scope="module")
def built() -> dict[tuple[str, str], tuple[cdk.Stack, Check]]:
    """A stack per method, a scope per variant in it (each case has its own grantee)."""
    app = new_app()
    stacks: dict[str, cdk.Stack] = {}
    cases: dict[tuple[str, str], tuple[cdk.Stack, Check]] = {}
    for method, variant, build in MATRIX:
        if method not in stacks:
            stacks[method] = cdk.Stack(app, f"Method{len(stacks)}")
            PipelineMonitoring.configure(stacks[method], enabled=False)
        scope = Construct(stacks[method], variant.replace(".", ""))
        cases[(method, variant)] = (stacks[method], build(scope, variant))
    app.synth()
    return cases


@pytest.mark.parametrize(("method", "variant"), [(m, v) for m, v, _ in MATRIX])
def test_every_method_takes_every_construct_of_its_kind(built, method, variant):
    stack, check = built[(method, variant)]
    check(assertions.Template.from_stack(stack))


def test_the_matrix_covers_every_kind():
    assert len(MATRIX) == 14 * 5 + 11 * 4 + 3 * 2 + 6 * 2 + 3 * 2


def test_consumers_and_workers_are_grantees_for_aws_cdk_lib():
    stack = cdk.Stack(new_app(), "Grantees")
    consumer = EventStream(stack, "Events").add_consumer("C", **code())
    worker = WorkQueue(stack, "Jobs").add_worker("W", **code())
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True)
    bucket.grant_put(consumer)
    bucket.grant_read(worker)
    t = assertions.Template.from_stack(stack)
    assert_granted(t, consumer, ["s3:PutObject"], {"Fn::Join": ["", [get_att_arn(bucket), "/*"]]})
    assert_granted(t, worker, ["s3:GetObject*"], {"Fn::Join": ["", [get_att_arn(bucket), "/*"]]})
