"""``Fn::GetStackOutput`` (aws-cdk-lib's cross-account and cross-region references) on the runner.

The runner deploys one stack: an output of that stack resolves; another stack's output does not,
and the runner says so in one note (a mapping whose source is such an output is skipped, with a
note), instead of failing or guessing.
"""

from __future__ import annotations

from .assembly_builder import TemplateBuilder


def _app(source: dict) -> TemplateBuilder:
    builder = TemplateBuilder("Reader")
    stream = builder.stream()
    builder.outputs["StreamArnOutput"] = {"Value": stream}
    consumer = builder.function("Consumer", "scenario_handler.process_all", environment={
        "OWN_STREAM_ARN": {"Fn::GetStackOutput": {"StackName": "Reader", "OutputName": "StreamArnOutput"}}})
    builder.mapping("Mapping", consumer, source, StartingPosition="TRIM_HORIZON")
    return builder


def test_an_output_of_the_deployed_stack_resolves(deploy) -> None:
    pipeline = deploy(_app({"Fn::GetStackOutput": {"StackName": "Reader", "OutputName": "StreamArnOutput"}}))
    stream_arn = pipeline.resource("Stream", "stream").attributes["Arn"]

    assert pipeline.function("Consumer").environment["OWN_STREAM_ARN"] == stream_arn
    sequences = pipeline.put_records("Stream", [{"n": 1}])
    pipeline.run_until_idle()
    assert pipeline.function("Consumer").module.PROCESSED == sequences


def test_another_stacks_output_is_reported_not_supported_and_its_mapping_skipped(deploy) -> None:
    reference = {"StackName": "Owner", "OutputName": "ExportsOutputFnGetAttStreamArn", "Region": "eu-west-1",
                 "RoleArn": "arn:aws:iam::111111111111:role/cdk-lookup"}
    pipeline = deploy(_app({"Fn::GetStackOutput": reference}))

    notes = pipeline.notes()
    assert ("Fn::GetStackOutput Owner.ExportsOutputFnGetAttStreamArn: another stack's output is not resolved locally "
            "(the runner deploys one stack; cross-account references are not supported) (resolved to a placeholder)"
            in notes)
    assert any(note.startswith("Mapping: event source <unresolved Fn::GetStackOutput Owner.") and
               note.endswith("is not supported locally: mapping skipped") for note in notes)
    assert pipeline.runner.pollers == {}
