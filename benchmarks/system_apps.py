"""The like-for-like system of the synth benchmark, built three ways.

One producer function writing to a Kinesis stream, an SQS work queue and a DynamoDB table; two
stream consumers; one queue worker:

- ``system-library``: this library's constructs with their defaults.
- ``system-sc``: AWS Solutions Constructs (``LambdaToKinesisStreams``, ``LambdaToSqs``,
  ``LambdaToDynamoDB``, two ``KinesisStreamsToLambda``, ``SqsToLambda``) as their READMEs show
  them: ``existing_*_obj`` to share the function, stream and queue, defaults otherwise. Solutions
  Constructs are a benchmark-only dependency (``make bench-synth`` installs them, pinned, in a venv
  of their own).
- ``system-l1``: the floor. The library-built template, synthesized once beforehand
  (:func:`write_floor_template`), read back as plain L1 resources with ``CfnInclude``: what
  aws-cdk-lib pays to synthesize the same template without the library's constructs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "lambdas" / "worker"
HANDLER = "worker_handler.handler"
FLOOR_TEMPLATE = "SystemFloor.source.template.json"


def build(kind: str, context: dict[str, Any], floor_template: str | None = None) -> Any:
    """The app of ``kind`` (``system-library``, ``system-sc`` or ``system-l1``), built, not synthesized."""
    import aws_cdk as cdk

    app = cdk.App(context=context)
    stack = cdk.Stack(app, "System")
    if kind == "system-library":
        _library(stack)
    elif kind == "system-sc":
        _solutions_constructs(stack)
    elif kind == "system-l1":
        from aws_cdk import cloudformation_include as cfn_inc

        if floor_template is None:
            raise SystemExit("system-l1 needs the floor template (write_floor_template)")
        cfn_inc.CfnInclude(stack, "Floor", template_file=floor_template)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return app


def _library(stack: Any) -> None:
    from cdk_event_pipeline import EntityTable, EventStream, PipelineFunction, WorkQueue, code_from_dir

    code = code_from_dir(str(CODE))
    events = EventStream(stack, "Events")
    jobs = WorkQueue(stack, "Jobs")
    items = EntityTable(stack, "Items")
    producer = PipelineFunction(stack, "Producer", code=code, handler=HANDLER)
    events.connect_producer(producer)
    jobs.connect_producer(producer)
    items.connect_writer(producer)
    events.add_consumer("First", code=code, handler=HANDLER)
    events.add_consumer("Second", code=code, handler=HANDLER)
    jobs.add_worker("Worker", code=code, handler=HANDLER)


def _solutions_constructs(stack: Any) -> None:
    from aws_cdk import aws_lambda as lambda_
    from aws_solutions_constructs.aws_kinesis_streams_lambda import KinesisStreamsToLambda
    from aws_solutions_constructs.aws_lambda_dynamodb import LambdaToDynamoDB
    from aws_solutions_constructs.aws_lambda_kinesis_streams import LambdaToKinesisStreams
    from aws_solutions_constructs.aws_lambda_sqs import LambdaToSqs
    from aws_solutions_constructs.aws_sqs_lambda import SqsToLambda

    def props() -> lambda_.FunctionProps:
        return lambda_.FunctionProps(
            runtime=lambda_.Runtime.PYTHON_3_13, handler=HANDLER, code=lambda_.Code.from_asset(str(CODE)),
        )

    producer = LambdaToKinesisStreams(stack, "Producer", lambda_function_props=props())
    queue = LambdaToSqs(stack, "ProducerToQueue", existing_lambda_obj=producer.lambda_function).sqs_queue
    LambdaToDynamoDB(stack, "ProducerToTable", existing_lambda_obj=producer.lambda_function)
    KinesisStreamsToLambda(stack, "First", existing_stream_obj=producer.kinesis_stream,
                           lambda_function_props=props())
    KinesisStreamsToLambda(stack, "Second", existing_stream_obj=producer.kinesis_stream,
                           lambda_function_props=props())
    SqsToLambda(stack, "Worker", existing_queue_obj=queue, lambda_function_props=props())


def write_floor_template(context: dict[str, Any], directory: Path) -> Path:
    """Synthesize ``system-library`` once and write its template where ``system-l1`` reads it."""
    app = build("system-library", context)
    assembly = app.synth()
    template = dict(assembly.get_stack_by_name("System").template)
    # What the including stack adds itself: the bootstrap-version check and the CDK metadata.
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    template.get("Resources", {}).pop("CDKMetadata", None)
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    template = {section: body for section, body in template.items() if body != {}}
    path = directory / FLOOR_TEMPLATE
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


def resource_count(template: dict[str, Any]) -> int:
    """Resources in a template, the CDK metadata resource not counted."""
    return sum(1 for r in template.get("Resources", {}).values() if r.get("Type") != "AWS::CDK::Metadata")
