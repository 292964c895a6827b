"""One test per validation error: raised at construction, starting with the construct's path
(issue 10, finding 9), naming the prop, value and range, and ending with the fix when there is one."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import EventStream, PipelineFunction, PipelineValidationError, StreamConsumer, bundled_code
from tests._cdk import new_app


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


def consumer(stack: cdk.Stack, **props: Any) -> StreamConsumer:
    stream = EventStream(stack, "S", retention=props.pop("retention", None))
    return stream.add_consumer("C", **{**code(), **props})


@pytest.mark.parametrize(("props", "message"), [
    ({"batch_size": 0}, "batch_size must be between 1 and 10000 inclusive (given 0)"),
    ({"batch_size": 20000}, "batch_size must be between 1 and 10000 inclusive (given 20000)"),
    ({"retry_attempts": -1}, "retry_attempts must be between 0 and 10000 inclusive (given -1)"),
    ({"retry_attempts": 10001}, "retry_attempts must be between 0 and 10000 inclusive (given 10001)"),
    ({"parallelization_factor": 0}, "parallelization_factor must be between 1 and 10 inclusive (given 0)"),
    ({"parallelization_factor": 11}, "parallelization_factor must be between 1 and 10 inclusive (given 11)"),
    ({"max_batching_window": Duration.minutes(6)},
     "max_batching_window must be between 0 seconds and 300 seconds (5 minutes) inclusive (given 360 seconds (6 minutes))"),
    ({"tumbling_window": Duration.minutes(16)},
     "tumbling_window must be between 0 seconds and 900 seconds (15 minutes) inclusive (given 960 seconds (16 minutes))"),
    ({"max_record_age": Duration.seconds(30)},
     "max_record_age must be between 60 seconds (1 minutes) and 86400 seconds (24 hours) inclusive (given 30 seconds)"),
    ({"max_record_age": Duration.hours(25)},
     "max_record_age must not exceed the source's retention of 86400 seconds (given 90000 seconds): "
     "records older than the retention are already gone"),
    ({"max_record_age": Duration.days(8), "retention": Duration.days(30)},
     "max_record_age must be between 60 seconds (1 minutes) and 604800 seconds (168 hours) inclusive (given 691200 seconds (192 hours))"),
    ({"starting_position": lambda_.StartingPosition.AT_TIMESTAMP},
     "starting_position AT_TIMESTAMP needs starting_position_timestamp: pass the Unix time (seconds) to start "
     "reading from"),
    ({"starting_position": lambda_.StartingPosition.AT_TIMESTAMP, "starting_position_timestamp": 1_700_000_000_000},
     "starting_position_timestamp must be a Unix time in seconds; 1700000000000 looks like milliseconds: "
     "pass 1.7e+09 (seconds)"),
    ({"starting_position": lambda_.StartingPosition.AT_TIMESTAMP, "starting_position_timestamp": -5},
     "starting_position_timestamp must be a Unix time in seconds between 0 and 32503680000 (year 3000) "
     "(given -5)"),
    ({"starting_position_timestamp": 1_700_000_000},
     "starting_position_timestamp is only valid with starting_position AT_TIMESTAMP (given starting_position LATEST)"),
])
def test_consumer_prop_out_of_range(stack, props, message):
    with pytest.raises(PipelineValidationError) as error:
        consumer(stack, **props)
    assert str(error.value) == f"{stack.node.path}/S/C: {message}"
    assert error.value.path == f"{stack.node.path}/S/C" and error.value.reason == message


def test_consumer_rejects_function_and_code(stack):
    fn = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_14, handler="a.b", code=lambda_.Code.from_inline("x"))
    with pytest.raises(PipelineValidationError, match="function and code/handler are mutually exclusive"):
        consumer(stack, function=fn)


def test_consumer_needs_code_and_handler(stack):
    stream = EventStream(stack, "S")
    with pytest.raises(PipelineValidationError, match="code and handler are required"):
        stream.add_consumer("C", handler="x.y")


def test_consumer_rejects_two_destinations(stack):
    bucket = s3.Bucket(stack, "B")
    queue = sqs.Queue(stack, "Q")
    with pytest.raises(PipelineValidationError,
                       match="dead_letter_queue and failure_bucket are mutually exclusive"):
        consumer(stack, dead_letter_queue=queue, failure_bucket=bucket)


@pytest.mark.parametrize(("props", "message"), [
    ({"shard_count": 0}, "shard_count must be between 1 and 100000 inclusive (given 0)"),
    ({"retention": Duration.hours(23)},
     "retention must be between 86400 seconds (24 hours) and 31536000 seconds (8760 hours) inclusive (given 82800 seconds (23 hours))"),
    ({"retention": Duration.hours(8761)},
     "retention must be between 86400 seconds (24 hours) and 31536000 seconds (8760 hours) inclusive (given 31539600 seconds (8761 hours))"),
    ({"retention_of_existing": Duration.hours(48)},
     "retention_of_existing is only valid together with stream: for a new stream, pass retention"),
])
def test_stream_prop_out_of_range(stack, props, message):
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S", **props)
    assert str(error.value) == f"{stack.node.path}/S: {message}"


def test_stream_rejects_existing_and_new_props(stack):
    existing = kinesis.Stream.from_stream_arn(stack, "I", "arn:aws:kinesis:us-east-1:111122223333:stream/x")
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S", stream=existing, shard_count=2, retention=Duration.hours(48))
    assert str(error.value) == (
        f"{stack.node.path}/S: stream and shard_count, retention are mutually exclusive: pass an existing stream "
        "or the props of a new one, not both; to tell consumers the existing stream's retention, pass "
        "retention_of_existing")


@pytest.mark.parametrize(("props", "message"), [
    ({"memory_size": 64}, "memory_size must be between 128 MB and 10240 MB inclusive (given 64 MB)"),
    ({"timeout": Duration.minutes(16)}, "timeout must be between 1 and 900 seconds inclusive (given 960 seconds)"),
    ({"handler": "nodot"}, "handler must be 'module.function' (given 'nodot')"),
])
def test_function_prop_out_of_range(stack, props, message):
    with pytest.raises(PipelineValidationError) as error:
        PipelineFunction(stack, "F", **{**code(), **props})
    assert str(error.value) == f"{stack.node.path}/F: {message}"


def test_method_errors_start_with_the_construct_path(stack):
    stream = EventStream(stack, "S")
    imported = lambda_.Function.from_function_arn(stack, "I", "arn:aws:lambda:us-east-1:111122223333:function:x")
    with pytest.raises(PipelineValidationError) as error:
        stream.connect_producer(imported)
    assert str(error.value).startswith(f"{stack.node.path}/S: connect_producer needs a function whose environment")


def test_a_nested_constructs_error_keeps_its_own_path(stack):
    # the consumer's error is raised inside add_consumer of the stream: the consumer's path wins
    with pytest.raises(PipelineValidationError) as error:
        EventStream(stack, "S").add_consumer("C", **code(), batch_size=0)
    assert error.value.path == f"{stack.node.path}/S/C"


def test_tokens_are_left_to_cloudformation(stack):
    batch = cdk.CfnParameter(stack, "Batch", type="Number").value_as_number
    created = consumer(stack, batch_size=batch)
    assert created.batch_size is batch


def test_validation_happens_before_any_resource(stack):
    with pytest.raises(PipelineValidationError):
        consumer(stack, batch_size=0)
    stream_scope = stack.node.find_child("S")
    assert stream_scope.node.try_find_child("C") is None or not stream_scope.node.find_child("C").node.children


def test_imported_function_without_role_gets_a_warning():
    stack = cdk.Stack(new_app(), "ImportedConsumer")  # synthesized: not the module's shared app
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:111122223333:function:legacy")
    created = EventStream(stack, "S").add_consumer("C", function=imported)
    assert created.function is imported and created.role is None and created.log_group is None
    warnings = cdk.assertions.Annotations.from_stack(stack).find_warning(
        "*", cdk.assertions.Match.string_like_regexp("no known role: grant it the read and on-failure permissions yourself"))
    assert len(warnings) == 1
    cdk.assertions.Template.from_stack(stack).resource_count_is("AWS::IAM::Policy", 0)


def test_imported_worker_function_without_role_gets_a_warning():
    stack = cdk.Stack(new_app(), "ImportedWorker")  # synthesized: not the module's shared app
    from cdk_event_pipeline import WorkQueue

    imported = lambda_.Function.from_function_arn(
        stack, "Imported", "arn:aws:lambda:us-east-1:111122223333:function:legacy")
    worker = WorkQueue(stack, "Q").add_worker("W", function=imported)
    assert worker.function is imported and worker.role is None
    warnings = cdk.assertions.Annotations.from_stack(stack).find_warning(
        "*", cdk.assertions.Match.string_like_regexp("no known role: grant it the queue permissions yourself"))
    assert len(warnings) == 1
    cdk.assertions.Template.from_stack(stack).resource_count_is("AWS::IAM::Policy", 0)
