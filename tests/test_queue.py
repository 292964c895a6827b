"""WorkQueue and QueueWorker: one app (cdk-nag registered) with one small stack per configuration.

The app is synthesized once for the module: ``app.synth()`` raises on any unacknowledged cdk-nag
error, then every test reads the cached templates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import PipelineFunction, PipelineValidationError, WorkQueue, bundled_code
from tests._cdk import Stacks, cfn_lint, get_att_arn, logical_id, role_statements

STACKS = ("Defaults", "Fifo", "Batching", "Existing")
IMPORTED_QUEUE_ARN = "arn:aws:sqs:eu-west-1:111122223333:legacy-jobs"
WORKER_ACTIONS = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]


def code() -> dict[str, Any]:
    """Code + handler of a small function (a Code instance belongs to one stack)."""
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


class Built(Stacks):
    def __init__(self) -> None:
        super().__init__()
        self.templates: dict[str, assertions.Template] = {}
        self.outdir: Path | None = None


@pytest.fixture(scope="module")
def built() -> Built:
    b = Built()

    s = b.stack("Defaults")
    b.things["defaults"] = queue = WorkQueue(s, "Jobs")
    b.things["defaults.worker"] = queue.add_worker("Worker", **code())
    b.things["defaults.producer"] = producer = PipelineFunction(s, "Producer", **code())
    queue.connect_producer(producer)

    s = b.stack("Fifo")
    b.things["fifo.key"] = key = kms.Key(s, "Key", enable_key_rotation=True)
    b.things["fifo"] = queue = WorkQueue(
        s, "Jobs", fifo=True, content_based_deduplication=True, max_receive_count=3, encryption_key=key,
        retention=Duration.days(1), visibility_timeout=Duration.minutes(5),
    )
    b.things["fifo.worker"] = queue.add_worker(
        "Worker", **code(), timeout=Duration.seconds(45), batch_size=5, max_concurrency=5,
        report_batch_item_failures=False, enabled=False,
        filters=[lambda_.FilterCriteria.filter({"body": {"type": ["job.created"]}})],
    )
    b.things["fifo.producer"] = producer = PipelineFunction(s, "Producer", **code())
    queue.connect_producer(producer, env_var="JOBS_URL")

    s = b.stack("Batching")
    b.things["batching"] = queue = WorkQueue(s, "Jobs")
    b.things["batching.slow"] = queue.add_worker(
        "Slow", **code(), timeout=Duration.minutes(2), batch_size=1000, max_batching_window=Duration.seconds(5))
    b.things["batching.fast"] = queue.add_worker("Fast", **code(), timeout=Duration.seconds(10))

    s = b.stack("FifoByName")
    b.things["byname"] = queue = WorkQueue(s, "Exports", queue_name="exports.fifo")
    b.things["byname.worker"] = queue.add_worker("Worker", **code())
    b.things["suffixed"] = WorkQueue(s, "Named", fifo=True, queue_name="named")

    s = b.stack("Existing")
    imported = sqs.Queue.from_queue_arn(s, "Imported", IMPORTED_QUEUE_ARN)
    b.things["existing"] = queue = WorkQueue(s, "Jobs", queue=imported)
    role = iam.Role(s, "MyRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))  # no managed policy
    b.things["existing.fn"] = fn = lambda_.Function(
        s, "Mine", runtime=lambda_.Runtime.PYTHON_3_14, handler="audit_handler.handler",
        code=bundled_code("audit"), timeout=Duration.seconds(20), role=role)
    b.things["existing.worker"] = queue.add_worker("Worker", function=fn)

    assembly = b.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    b.outdir = Path(assembly.directory)
    for name, stack in b.stacks.items():
        b.templates[name] = assertions.Template.from_stack(stack)
    return b


# --- snapshots (one per configuration) -------------------------------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_snapshot(built, template_snapshot, name):
    assert built.templates[name] == template_snapshot


# --- defaults -------------------------------------------------------------------------------


def test_default_queue_encrypted_redrive_derived_visibility(built):
    t = built.templates["Defaults"]
    queue = built.things["defaults"]
    t.resource_count_is("AWS::SQS::Queue", 2)
    t.has_resource_properties("AWS::SQS::Queue", {
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": 4 * 24 * 3600,
        "VisibilityTimeout": 6 * 30,  # 6 x the worker's 30-second default timeout
        "RedrivePolicy": {"deadLetterTargetArn": get_att_arn(queue.dead_letter_queue), "maxReceiveCount": 5},
        "FifoQueue": assertions.Match.absent(),
        "KmsMasterKeyId": assertions.Match.absent(),
    })


def test_default_dead_letter_queue(built):
    t = built.templates["Defaults"]
    dlq = built.things["defaults"].dead_letter_queue
    props = t.to_json()["Resources"][logical_id(dlq)]["Properties"]
    assert props == {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}


def test_both_queues_are_tls_only(built):
    t = built.templates["Defaults"]
    queue = built.things["defaults"]
    for q in (queue.queue, queue.dead_letter_queue):
        t.has_resource_properties("AWS::SQS::QueuePolicy", {
            "Queues": [{"Ref": logical_id(q)}],
            "PolicyDocument": {"Statement": [assertions.Match.object_like({
                "Action": "sqs:*", "Effect": "Deny", "Principal": {"AWS": "*"},
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            })]},
        })


def test_default_worker_mapping(built):
    t = built.templates["Defaults"]
    worker = built.things["defaults.worker"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": get_att_arn(built.things["defaults"].queue),
        "FunctionName": {"Ref": logical_id(worker.function)},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumBatchingWindowInSeconds": assertions.Match.absent(),
        "ScalingConfig": assertions.Match.absent(),
        "FilterCriteria": assertions.Match.absent(),
        "Enabled": assertions.Match.absent(),
        # stream-only settings never appear on an SQS mapping
        "StartingPosition": assertions.Match.absent(),
        "DestinationConfig": assertions.Match.absent(),
    })
    t.has_resource_properties("AWS::Lambda::Function", {
        "Timeout": 30, "MemorySize": 256, "Runtime": "python3.14",
        "Environment": {"Variables": assertions.Match.object_like({"POWERTOOLS_SERVICE_NAME": "Worker"})},
    })


def test_default_worker_role_exact(built):
    t = built.templates["Defaults"]
    worker = built.things["defaults.worker"]
    assert role_statements(t, worker.role) == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(worker.log_group)},
        {"Action": WORKER_ACTIONS, "Effect": "Allow", "Resource": get_att_arn(built.things["defaults"].queue)},
    ]


def test_producer_gets_send_message_only_and_the_url(built):
    t = built.templates["Defaults"]
    producer = built.things["defaults.producer"]
    queue = built.things["defaults"].queue
    assert role_statements(t, producer.role) == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(producer.log_group)},
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(queue)},
    ]
    t.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like({"QUEUE_URL": {"Ref": logical_id(queue)}})},
    })


# --- every option -----------------------------------------------------------------------------


def test_fifo_queue_and_dlq_with_customer_key(built):
    t = built.templates["Fifo"]
    queue = built.things["fifo"]
    key_arn = get_att_arn(built.things["fifo.key"])
    t.has_resource_properties("AWS::SQS::Queue", {
        "FifoQueue": True,
        "ContentBasedDeduplication": True,
        "MessageRetentionPeriod": 24 * 3600,
        "VisibilityTimeout": 300,  # explicit, and >= 6 x 45 s
        "KmsMasterKeyId": key_arn,
        "RedrivePolicy": {"deadLetterTargetArn": get_att_arn(queue.dead_letter_queue), "maxReceiveCount": 3},
        "SqsManagedSseEnabled": assertions.Match.absent(),
    })
    dlq = t.to_json()["Resources"][logical_id(queue.dead_letter_queue)]["Properties"]
    assert dlq == {"FifoQueue": True, "KmsMasterKeyId": key_arn, "MessageRetentionPeriod": 14 * 24 * 3600}


def test_fifo_worker_options(built):
    t = built.templates["Fifo"]
    worker = built.things["fifo.worker"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(worker.function)},
        "BatchSize": 5,
        "ScalingConfig": {"MaximumConcurrency": 5},
        "Enabled": False,
        "FilterCriteria": {"Filters": [{"Pattern": '{"body":{"type":["job.created"]}}'}]},
        "FunctionResponseTypes": assertions.Match.absent(),
    })
    t.has_resource_properties("AWS::Lambda::Function", {"Timeout": 45})


def test_customer_key_grants(built):
    t = built.templates["Fifo"]
    key_arn = get_att_arn(built.things["fifo.key"])
    queue_arn = get_att_arn(built.things["fifo"].queue)
    worker = built.things["fifo.worker"]
    producer = built.things["fifo.producer"]
    assert role_statements(t, worker.role)[1:] == [
        {"Action": WORKER_ACTIONS, "Effect": "Allow", "Resource": queue_arn},
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": key_arn},
    ]
    assert role_statements(t, producer.role)[1:] == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": queue_arn},
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": key_arn},
    ]
    t.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like(
            {"JOBS_URL": {"Ref": logical_id(built.things["fifo"].queue)}})},
    })


def test_large_batches_with_window_and_visibility_from_longest_worker(built):
    t = built.templates["Batching"]
    slow = built.things["batching.slow"]
    fast = built.things["batching.fast"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(slow.function)},
        "BatchSize": 1000, "MaximumBatchingWindowInSeconds": 5,
    })
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(fast.function)}, "BatchSize": 10,
    })
    # 6 x 120 s + the slow worker's 5-second window; the 10-second worker added later does not lower it
    t.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 725})


def test_wrap_existing_queue_and_function(built):
    t = built.templates["Existing"]
    worker = built.things["existing.worker"]
    t.resource_count_is("AWS::SQS::Queue", 0)
    assert built.things["existing"].dead_letter_queue is None
    assert worker.function is built.things["existing.fn"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": IMPORTED_QUEUE_ARN, "FunctionName": {"Ref": logical_id(worker.function)},
    })
    assert {"Action": WORKER_ACTIONS, "Effect": "Allow", "Resource": IMPORTED_QUEUE_ARN} in role_statements(
        t, worker.role)
    warnings = assertions.Annotations.from_stack(built.stacks["Existing"]).find_warning(
        "*", assertions.Match.string_like_regexp("visibility timeout"))
    assert len(warnings) == 1


# --- gates: cdk-nag, cfn-lint -------------------------------------------------------------------


def test_cdk_nag_clean_without_acknowledgments(built):
    # synth() already raised on any unacknowledged error; the report lists a pack only when it
    # has findings (acknowledged or not), and here there are none at all: a queue that is
    # another queue's redrive target satisfies SQS3, so nothing needs acknowledging.
    report = json.loads((built.outdir / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag == []


@pytest.mark.parametrize("name", STACKS)
def test_cfn_lint_no_errors(built, name):
    errors, warnings = cfn_lint(built.templates[name].to_json())
    assert errors == []
    assert warnings <= {"W3005"}


def test_a_fifo_name_makes_a_fifo_queue_with_a_fifo_dead_letter_queue(built):
    # finding 4: the name made the queue FIFO (CDK infers it) but the DLQ stayed standard
    t, queue = built.templates["FifoByName"], built.things["byname"]
    assert queue.fifo is True
    resources = t.to_json()["Resources"]
    assert resources[logical_id(queue.queue)]["Properties"]["QueueName"] == "exports.fifo"
    assert resources[logical_id(queue.queue)]["Properties"]["FifoQueue"] is True
    assert resources[logical_id(queue.dead_letter_queue)]["Properties"]["FifoQueue"] is True


def test_fifo_true_adds_the_suffix(built):
    t, queue = built.templates["FifoByName"], built.things["suffixed"]
    t.has_resource_properties("AWS::SQS::Queue", {"QueueName": "named.fifo", "FifoQueue": True})
    assert t.to_json()["Resources"][logical_id(queue.dead_letter_queue)]["Properties"]["FifoQueue"] is True


def test_fifo_worker_checks_apply_to_a_queue_made_fifo_by_its_name(stack):
    queue = WorkQueue(stack, "Q", queue_name="exports.fifo")
    with pytest.raises(PipelineValidationError, match="max_batching_window is not supported for FIFO queues"):
        queue.add_worker("W", **code(), max_batching_window=Duration.seconds(1))


# --- validation: one test per error -------------------------------------------------------------


@pytest.mark.parametrize(("props", "message"), [
    ({"max_receive_count": 0}, "max_receive_count must be between 1 and 1000 inclusive (given 0)"),
    ({"max_receive_count": 1001}, "max_receive_count must be between 1 and 1000 inclusive (given 1001)"),
    ({"retention": Duration.seconds(59)},
     "retention must be between 60 seconds (1 minutes) and 1209600 seconds (336 hours) inclusive (given 59 seconds)"),
    ({"retention": Duration.days(15)},
     "retention must be between 60 seconds (1 minutes) and 1209600 seconds (336 hours) inclusive "
     "(given 1296000 seconds (360 hours))"),
    ({"visibility_timeout": Duration.hours(13)},
     "visibility_timeout must be between 0 seconds and 43200 seconds (12 hours) inclusive "
     "(given 46800 seconds (13 hours))"),
    ({"content_based_deduplication": True},
     "content_based_deduplication is only valid for a FIFO queue (fifo=True): pass fifo=True or drop "
     "content_based_deduplication"),
    ({"queue_name": "exports.fifo", "fifo": False},
     "queue_name 'exports.fifo' ends in .fifo, which only a FIFO queue's name may: pass fifo=True (or leave "
     "fifo unset) for a FIFO queue, or drop the .fifo suffix for a standard one"),
    ({"queue_name": "has space"},
     "queue_name must be 1-80 characters of letters, digits, '-' or '_' (a FIFO queue's including its .fifo "
     "suffix) (given 'has space')"),
    ({"queue_name": "x" * 76, "fifo": True},
     "queue_name must be 1-80 characters of letters, digits, '-' or '_' (a FIFO queue's including its .fifo "
     f"suffix) (given '{'x' * 76}', '{'x' * 76}.fifo' with the suffix)"),
])
def test_queue_validation(stack, props, message):
    with pytest.raises(PipelineValidationError) as error:
        WorkQueue(stack, "Q", **props)
    assert str(error.value) == f"{stack.node.path}/Q: {message}"


def test_existing_queue_excludes_new_queue_props(stack):
    imported = sqs.Queue.from_queue_arn(stack, "I", IMPORTED_QUEUE_ARN)
    with pytest.raises(PipelineValidationError) as error:
        WorkQueue(stack, "Q", queue=imported, fifo=True, max_receive_count=3)
    assert str(error.value) == (
        f"{stack.node.path}/Q: queue and fifo, max_receive_count are mutually exclusive: pass an existing "
        "queue or the props of a new one, not both")


@pytest.mark.parametrize(("queue_props", "props", "message"), [
    ({}, {"batch_size": 0}, "batch_size must be between 1 and 10000 inclusive (given 0)"),
    ({}, {"batch_size": 10001, "max_batching_window": Duration.seconds(1)},
     "batch_size must be between 1 and 10000 inclusive (given 10001)"),
    ({}, {"batch_size": 11},
     "batch_size above 10 needs a max_batching_window of at least 1 second (given batch_size 11 and no "
     "max_batching_window)"),
    ({}, {"batch_size": 100, "max_batching_window": Duration.seconds(0)},
     "batch_size above 10 needs a max_batching_window of at least 1 second (given batch_size 100 and a "
     "0-second window)"),
    ({}, {"max_batching_window": Duration.minutes(6)},
     "max_batching_window must be between 0 seconds and 300 seconds (5 minutes) inclusive "
     "(given 360 seconds (6 minutes))"),
    ({}, {"max_concurrency": 1}, "max_concurrency must be between 2 and 1000 inclusive (given 1)"),
    ({}, {"max_concurrency": 1001}, "max_concurrency must be between 2 and 1000 inclusive (given 1001)"),
    ({"fifo": True}, {"batch_size": 11}, "batch_size must be between 1 and 10 inclusive (given 11)"),
    ({"fifo": True}, {"max_batching_window": Duration.seconds(1)},
     "max_batching_window is not supported for FIFO queues (Lambda rejects it)"),
    ({"visibility_timeout": Duration.seconds(60)}, {"timeout": Duration.seconds(30)},
     "visibility_timeout must be at least 6 times the timeout of every worker plus its max_batching_window "
     "(180 seconds for worker 'W': 6 x 30-second timeout + 0-second window; given 60 seconds): raise "
     "visibility_timeout, or leave it unset to follow the workers"),
    ({"visibility_timeout": Duration.seconds(170)}, {},
     "visibility_timeout must be at least 6 times the timeout of every worker plus its max_batching_window "
     "(180 seconds for worker 'W': 6 x 30-second timeout + 0-second window; given 170 seconds): raise "
     "visibility_timeout, or leave it unset to follow the workers"),
    # issue 17 item 3: the batching window counts too (6 x 30 s + 60 s = 240 s; 180 s used to pass)
    ({"visibility_timeout": Duration.seconds(180)},
     {"timeout": Duration.seconds(30), "max_batching_window": Duration.seconds(60)},
     "visibility_timeout must be at least 6 times the timeout of every worker plus its max_batching_window "
     "(240 seconds for worker 'W': 6 x 30-second timeout + 60-second window; given 180 seconds): raise "
     "visibility_timeout, or leave it unset to follow the workers"),
    ({"visibility_timeout": Duration.seconds(239)},
     {"timeout": Duration.seconds(30), "max_batching_window": Duration.seconds(60)},
     "visibility_timeout must be at least 6 times the timeout of every worker plus its max_batching_window "
     "(240 seconds for worker 'W': 6 x 30-second timeout + 60-second window; given 239 seconds): raise "
     "visibility_timeout, or leave it unset to follow the workers"),
])
def test_worker_validation(stack, queue_props, props, message):
    queue = WorkQueue(stack, "Q", **queue_props)
    with pytest.raises(PipelineValidationError) as error:
        queue.add_worker("W", **{**code(), **props})
    # the visibility timeout is the queue's prop: its error names the queue; the others, the worker
    where = "Q" if message.startswith("visibility_timeout must be at least") else "Q/W"
    assert str(error.value) == f"{stack.node.path}/{where}: {message}"


def test_worker_function_and_code_are_exclusive(stack):
    queue = WorkQueue(stack, "Q")
    fn = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_14, handler="a.b", **{"code": bundled_code("audit")})
    with pytest.raises(PipelineValidationError) as error:
        queue.add_worker("W", function=fn, **code())
    assert str(error.value) == (
        f"{stack.node.path}/Q/W: function and code/handler are mutually exclusive: pass an existing "
        "function or the code and handler of a new one, not both")


def test_worker_needs_code_and_handler(stack):
    queue = WorkQueue(stack, "Q")
    with pytest.raises(PipelineValidationError) as error:
        queue.add_worker("W", code=bundled_code("audit"))
    assert str(error.value) == (
        f"{stack.node.path}/Q/W: code and handler are required when no existing function is given: pass "
        "both, or function=")


def test_existing_function_timeout_is_checked(stack):
    queue = WorkQueue(stack, "Q", visibility_timeout=Duration.seconds(100))
    fn = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_14, handler="a.b",
                          code=bundled_code("audit"), timeout=Duration.seconds(20))
    with pytest.raises(PipelineValidationError) as error:
        queue.add_worker("W", function=fn)
    assert str(error.value) == (
        f"{stack.node.path}/Q: visibility_timeout must be at least 6 times the timeout of every worker plus its "
        "max_batching_window (120 seconds for worker 'W': 6 x 20-second timeout + 0-second window; given 100 "
        "seconds): raise visibility_timeout, or leave it unset to follow the workers")


def visibility_of(stack) -> object:
    queues = assertions.Template.from_stack(stack).find_resources("AWS::SQS::Queue")
    main = [r for r in queues.values() if r["Properties"].get("RedrivePolicy")]
    assert len(main) == 1
    return main[0]["Properties"].get("VisibilityTimeout")


def test_visibility_default_adds_the_batching_window():
    stack = Stacks(nag=False).stack("S")  # its own app: Template.from_stack synthesizes it
    # issue 17 item 3: 6 x 30 s + 60 s window = 240 s (6 x 30 s alone gave 180 s)
    queue = WorkQueue(stack, "Q")
    queue.add_worker("W", **code(), timeout=Duration.seconds(30), max_batching_window=Duration.seconds(60))
    assert visibility_of(stack) == 240


@pytest.mark.parametrize(("workers", "expected"), [
    # 6 x 30 + 60 = 240 beats 6 x 35 + 0 = 210 though the second worker's timeout is longer
    ([(30, 60), (35, None)], 240),
    ([(30, 60), (35, None), (40, 5)], 245),
])
def test_visibility_default_is_the_largest_timeout_plus_window_of_the_workers(workers, expected):
    stack = Stacks(nag=False).stack("S")  # its own app: Template.from_stack synthesizes it
    queue = WorkQueue(stack, "Q")
    for i, (timeout, window) in enumerate(workers):
        queue.add_worker(f"W{i}", **code(), timeout=Duration.seconds(timeout),
                         max_batching_window=Duration.seconds(window) if window is not None else None)
    assert visibility_of(stack) == expected


def test_explicit_visibility_at_the_minimum_is_accepted():
    stack = Stacks(nag=False).stack("S")  # its own app: Template.from_stack synthesizes it
    queue = WorkQueue(stack, "Q", visibility_timeout=Duration.seconds(240))
    queue.add_worker("W", **code(), timeout=Duration.seconds(30), max_batching_window=Duration.seconds(60))
    assert visibility_of(stack) == 240
