"""The library's own objects handed to aws-cdk-lib and to each other, one mix per function.

These are the calls a CDK user makes without thinking: a ``PipelineFunction`` wherever
aws-cdk-lib takes a function or a grantee, an ``EventStream`` wherever a stream is taken. Each
function builds one mix on ``scope`` and returns what its test inspects.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from cdk_event_pipeline import EventStream, PipelineFunction, StreamConsumer, code_from_dir
from constructs import Construct

from shipments_infra.stack import LAMBDAS
from shipments_infra.streams import ShipmentStream


def reprinter(scope: Construct) -> PipelineFunction:
    """A function built by the library: reprints labels on demand."""
    return PipelineFunction(
        scope, "Reprinter", code=code_from_dir(LAMBDAS / "label_printer"), handler="label_handler.handler"
    )


def bucket_grant_read_to_pipeline_function(scope: Construct) -> tuple[s3.Bucket, PipelineFunction]:
    archive = s3.Bucket(scope, "LabelArchive", enforce_ssl=True)
    function = reprinter(scope)
    archive.grant_read(function)
    return archive, function


def stream_grant_put_to_pipeline_function(scope: Construct) -> tuple[EventStream, PipelineFunction]:
    stream = ShipmentStream(scope, "Events")
    function = reprinter(scope)
    stream.grant_put(function)
    return stream, function


def pipeline_function_as_producer(scope: Construct) -> tuple[EventStream, PipelineFunction]:
    stream = ShipmentStream(scope, "Events")
    function = reprinter(scope)
    stream.connect_producer(function)
    return stream, function


def pipeline_function_as_consumer(scope: Construct) -> tuple[StreamConsumer, PipelineFunction]:
    stream = ShipmentStream(scope, "Events")
    function = reprinter(scope)
    return stream.add_consumer("Reprint", function=function), function


def consumer_of_an_event_stream(scope: Construct) -> tuple[EventStream, StreamConsumer]:
    stream = ShipmentStream(scope, "Events")
    consumer = StreamConsumer(
        scope, "Direct", stream=stream,
        code=code_from_dir(LAMBDAS / "label_printer"), handler="label_handler.handler",
    )
    return stream, consumer


def pipeline_function_as_rule_target(scope: Construct) -> tuple[events.Rule, PipelineFunction]:
    function = reprinter(scope)
    rule = events.Rule(
        scope, "NightlyReprint",
        schedule=events.Schedule.rate(Duration.days(1)),
        targets=[targets.LambdaFunction(function)],
    )
    return rule, function
