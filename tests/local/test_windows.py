"""Tumbling windows end to end: a consumer written with the runtime's ``window_handler`` on the
local runner (moto server). The runner carries the state between the invocations of a window,
invokes the final one at the window's end and starts the next window fresh; the handler folds the
records and, on the final invocation, writes the window's counts to a table."""

from __future__ import annotations

import json

import boto3

from event_pipeline_runtime import make_envelope

from .assembly_builder import TemplateBuilder

WINDOW = 900


def _app() -> TemplateBuilder:
    builder = TemplateBuilder()
    stream = builder.stream()
    builder.table("Aggregates")
    dlq = builder.queue("DeadLetterQueue")
    function = builder.function("Consumer", "windowed_counts.handler", runtime_layer=True,
                                environment={"TABLE_NAME": {"Ref": "Aggregates"}})
    builder.mapping("Mapping", function, stream, StartingPosition="TRIM_HORIZON", BatchSize=2,
                    TumblingWindowInSeconds=WINDOW, FunctionResponseTypes=["ReportBatchItemFailures"],
                    MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dlq}})
    return builder


def _events(keys: str, **extra: object) -> list[dict]:
    return [make_envelope("click", {"key": key, **extra}) for key in keys]


def test_a_window_is_counted_across_invocations_and_emitted_once_at_its_end(deploy) -> None:
    pipeline = deploy(_app())
    pipeline.put_records("Stream", _events("abaab"))

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    windowed = pipeline.invocations("Mapping")
    assert [(inv.final_window, len(inv.ids)) for inv in windowed] == [(False, 2), (False, 2), (False, 1), (True, 0)]
    assert [state for _, state in module.FOLDS] == [  # the state each record was folded onto
        {}, {"a": 1}, {"a": 1, "b": 1}, {"a": 2, "b": 1}, {"a": 3, "b": 1}]
    (emit,) = module.EMITS
    assert emit["state"] == {"a": 3, "b": 2} and not emit["early"]
    items = boto3.resource("dynamodb").Table(pipeline.resource("Aggregates", "table").ref).scan()["Items"]
    assert [(item["id"], json.loads(item["counts"])) for item in items] == [(emit["key"], {"a": 3, "b": 2})]
    stream_arn = pipeline.resource("Stream", "stream").attributes["Arn"]
    assert emit["key"].startswith(f"{stream_arn}|shardId-000000000000|{emit['start']}|")


def test_the_next_window_starts_with_a_fresh_state(deploy) -> None:
    pipeline = deploy(_app())
    pipeline.put_records("Stream", _events("aa"))
    pipeline.run_until_idle()
    pipeline.advance(WINDOW)
    pipeline.put_records("Stream", _events("b"))

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert [e["state"] for e in module.EMITS] == [{"a": 2}, {"b": 1}]
    assert module.EMITS[0]["start"] != module.EMITS[1]["start"]
    assert module.FOLDS[-1][1] == {}  # the first record of the second window saw an empty state


def test_a_failed_record_is_retried_onto_the_state_before_it_and_then_set_aside(deploy) -> None:
    pipeline = deploy(_app())
    sequences = pipeline.put_records("Stream", [*_events("a"), *_events("x", poison=True), *_events("b")])

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    poison = [state for seq, state in module.FOLDS if seq == sequences[1]]
    assert poison == [{"a": 1}, {"a": 1}]  # first attempt and its retry: each onto the state before it
    (failure,) = pipeline.failures("Mapping")
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == sequences[1]
    (emit,) = module.EMITS
    assert emit["state"] == {"a": 1, "b": 1}  # the poison record left no trace
