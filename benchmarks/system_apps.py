"""The like-for-like system of the synth benchmark, built three ways, and the reference app's floor.

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
- ``reference-l1``: the same floor for the reference app (``app.py``): its template as plain L1s in a
  stack of the same name, with the same three rule packs registered and each finding the app
  acknowledges acknowledged once on the stack (the app's own acknowledgements sit on constructs the
  floor does not have). No assets are staged: the floor is the template alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "lambdas" / "worker"
HANDLER = "worker_handler.handler"
#: Each floor kind, the kind whose template it reads back, and that template's stack.
FLOORS = {"system-l1": ("system-library", "System"), "reference-l1": ("reference", "EventPipelineReference")}


def build(kind: str, context: dict[str, Any], floor_template: str | None = None) -> Any:
    """The app of ``kind`` (``system-library``, ``system-sc``, ``system-l1``, ``reference-l1``), not synthesized."""
    import aws_cdk as cdk

    app = cdk.App(context=context)
    if kind in FLOORS:
        if floor_template is None:
            raise SystemExit(f"{kind} needs the floor template (write_floor_template)")
        _floor(app, kind, Path(floor_template))
        return app
    stack = cdk.Stack(app, "System")
    if kind == "system-library":
        _library(stack)
    elif kind == "system-sc":
        _solutions_constructs(stack)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return app


def _floor(app: Any, kind: str, template: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import cloudformation_include as cfn_inc

    stack = cdk.Stack(app, FLOORS[kind][1])
    cfn_inc.CfnInclude(stack, "Floor", template_file=str(template))
    if kind == "reference-l1":
        import app as reference

        acknowledged = json.loads(template.with_suffix(".acknowledged.json").read_text(encoding="utf-8"))
        for finding, reason in acknowledged.items():
            cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
        reference.add_rule_packs(app)


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


def write_floor_template(kind: str, context: dict[str, Any], directory: Path) -> Path:
    """Synthesize the kind ``kind`` (a floor) reads back, once, and write its template where ``kind`` reads it.

    For ``reference-l1`` the findings the reference app acknowledges are written beside it
    (``<name>.acknowledged.json``: acknowledgement id -> reason, from ``validation-report.json``).
    """
    source, stack_name = FLOORS[kind]
    if source == "reference":
        import aws_cdk as cdk

        import app as reference

        assembly = reference.build_app(cdk.App(context=context)).synth()
    else:
        assembly = build(source, context).synth()
    template = dict(assembly.get_stack_by_name(stack_name).template)
    # What the including stack adds itself: the bootstrap-version check and the CDK metadata.
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    template.get("Resources", {}).pop("CDKMetadata", None)
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    template = {section: body for section, body in template.items() if body != {}}
    path = directory / f"{kind}.template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    report = Path(assembly.directory, "validation-report.json")
    if source == "reference" and report.exists():
        acknowledged = {
            finding["acknowledgedId"]: finding["reason"]
            for plugin in json.loads(report.read_text(encoding="utf-8"))["pluginReports"]
            for finding in plugin.get("suppressedViolations", [])
        }
        path.with_suffix(".acknowledged.json").write_text(json.dumps(acknowledged), encoding="utf-8")
    return path


def resource_count(template: dict[str, Any]) -> int:
    """Resources in a template, the CDK metadata resource not counted."""
    return sum(1 for r in template.get("Resources", {}).values() if r.get("Type") != "AWS::CDK::Metadata")
