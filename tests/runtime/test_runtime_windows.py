"""window_handler on AWS's own tumbling-window sample events (tests/runtime/window_events.py, verbatim):
state carried, the final invocation's emit, early termination, partial failures, the 1 MB limit."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from window_events import DYNAMODB_TIME_WINDOW_EVENT, KINESIS_TIME_WINDOW_EVENT, TIME_WINDOW_EVENT_RESPONSE, load

from event_pipeline_runtime import (
    ConsumerRecord,
    WindowEventError,
    WindowIncompleteError,
    WindowInfo,
    aggregate_records,
    current_hops,
    make_envelope,
    pipeline_handler,
    window_handler,
)
from event_pipeline_runtime.batch_response import read_batch_response
from event_pipeline_runtime.contract import WINDOW_STATE_LIMIT_BYTES
from event_pipeline_runtime.windows import HOPS_STATE_KEY

KINESIS_SEQUENCE = "49590338271490256608559692538361571095921575989136588898"


@pytest.fixture
def log() -> logging.Logger:
    logger = logging.getLogger("tests.runtime.windows")
    logger.setLevel(logging.DEBUG)
    return logger


def count_by_key(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
    key = record.partition_key or record.event_name or "?"
    state[key] = state.get(key, 0) + 1  # in place: the handler gives every event record a fresh copy
    return state


def kinesis_event(payloads: list[Any], *, state: dict[str, Any] | None = None, final: bool = False,
                  early: bool = False, partition_key: str = "1") -> dict[str, Any]:
    """AWS's Kinesis sample with its one record repeated for ``payloads`` (JSON data, sequence numbers
    counting up from the sample's), and the given state and flags."""
    event = load(KINESIS_TIME_WINDOW_EVENT)
    template = event["Records"][0]
    records = []
    for index, payload in enumerate(payloads):
        record = json.loads(json.dumps(template))
        sequence = str(int(KINESIS_SEQUENCE) + index)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        record["kinesis"].update(sequenceNumber=sequence, partitionKey=partition_key,
                                 data=base64.b64encode(data).decode())
        record["eventID"] = f"shardId-000000000006:{sequence}"
        records.append(record)
    event.update(Records=records, state=state if state is not None else {}, isFinalInvokeForWindow=final,
                 isWindowTerminatedEarly=early)
    return event


def test_the_dynamodb_sample_is_folded_onto_its_state(log: logging.Logger) -> None:
    handler = window_handler(count_by_key, source="dynamodb", logger=log)

    response = handler(load(DYNAMODB_TIME_WINDOW_EVENT))

    assert response == {"state": {"1": "state1", "INSERT": 1, "MODIFY": 1, "REMOVE": 1}, "batchItemFailures": []}
    verdict = read_batch_response(response, ["111", "222", "333"], window=True)
    assert verdict.ok and verdict.state == response["state"]


def test_the_kinesis_sample_record_is_not_json_so_it_fails_and_the_state_is_the_one_before(log: logging.Logger) -> None:
    seen: list[ConsumerRecord] = []
    handler = window_handler(lambda s, r, w: seen.append(r) or s, source="kinesis", logger=log)

    response = handler(load(KINESIS_TIME_WINDOW_EVENT))  # data is "Hello, this is a test." (not JSON)

    assert response == {"state": {"1": 282, "2": 715}, "batchItemFailures": [{"itemIdentifier": KINESIS_SEQUENCE}]}
    assert seen == []


def test_the_window_fields_reach_the_fold(log: logging.Logger) -> None:
    windows: list[WindowInfo] = []

    def fold(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
        windows.append(window)
        return count_by_key(state, record, window)

    response = window_handler(fold, source="kinesis", logger=log)(kinesis_event([{"n": 1}], state={"1": 282}))

    assert response["state"] == {"1": 283}
    (window,) = windows
    assert (window.start.isoformat(), window.end.isoformat()) == ("2020-12-09T07:04:00+00:00", "2020-12-09T07:06:00+00:00")
    assert window.shard_id == "shardId-000000000006"
    assert window.event_source_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream"
    assert not window.is_final and not window.terminated_early
    assert window.key == ("arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream|shardId-000000000006|"
                          "2020-12-09T07:04:00+00:00|2020-12-09T07:06:00+00:00")


def test_state_is_carried_across_invocations_and_the_final_one_emits_the_aggregate(log: logging.Logger) -> None:
    emitted: list[tuple[dict[str, Any], WindowInfo]] = []
    handler = window_handler(count_by_key, source="kinesis", logger=log,
                             on_window_end=lambda state, window: emitted.append((state, window)))
    state: dict[str, Any] = {}
    for batch in ([{"n": 1}, {"n": 2}], [{"n": 3}], [{"n": 4}, {"n": 5}]):
        state = handler(kinesis_event(batch, state=state))["state"]
        assert emitted == []
    final = kinesis_event([], state=state, final=True)

    response = handler(final)

    assert response == {"state": {"1": 5}, "batchItemFailures": []}
    ((aggregate, window),) = emitted
    assert aggregate == {"1": 5} and window.is_final and not window.terminated_early


def test_an_early_terminated_window_says_so_to_the_emit(log: logging.Logger) -> None:
    emitted: list[WindowInfo] = []
    handler = window_handler(count_by_key, source="kinesis", logger=log,
                             on_window_end=lambda state, window: emitted.append(window))

    handler(kinesis_event([], state={"1": 7}, final=True, early=True))

    (window,) = emitted
    assert window.is_final and window.terminated_early


def test_a_failed_record_leaves_no_trace_in_the_state_and_the_rest_of_the_shard_comes_back(log: logging.Logger) -> None:
    def fold(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
        state["sum"] = state.get("sum", 0) + record.body["n"]  # changed in place before raising
        if record.body["n"] == 2:
            raise RuntimeError("poison")
        return state

    response = window_handler(fold, source="kinesis", logger=log)(kinesis_event([{"n": 1}, {"n": 2}, {"n": 4}]))

    second, third = str(int(KINESIS_SEQUENCE) + 1), str(int(KINESIS_SEQUENCE) + 2)
    assert response == {"state": {"sum": 1},
                        "batchItemFailures": [{"itemIdentifier": second}, {"itemIdentifier": third}]}
    verdict = read_batch_response(response, [KINESIS_SEQUENCE, second, third], window=True)
    assert verdict.status == "partial" and verdict.first_failed_index == 1 and verdict.state == {"sum": 1}


def test_a_kpl_aggregate_that_fails_half_way_leaves_no_trace(log: logging.Logger) -> None:
    def fold(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
        if record.body["n"] == 2:
            raise RuntimeError("poison")
        return {**state, "n": state.get("n", 0) + record.body["n"]}

    aggregate = aggregate_records([("1", json.dumps({"n": 1}).encode()), ("1", json.dumps({"n": 2}).encode())])

    response = window_handler(fold, source="kinesis", logger=log)(kinesis_event([aggregate], state={"n": 10}))

    assert response == {"state": {"n": 10}, "batchItemFailures": [{"itemIdentifier": KINESIS_SEQUENCE}]}


def test_a_state_over_1_mb_fails_the_record_that_made_it(log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    def fold(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
        return {**state, str(record.body["n"]): "x" * record.body["size"]}

    events = [{"n": 1, "size": 10}, {"n": 2, "size": WINDOW_STATE_LIMIT_BYTES}, {"n": 3, "size": 10}]
    with caplog.at_level(logging.ERROR, logger=log.name):
        response = window_handler(fold, source="kinesis", logger=log)(kinesis_event(events))

    assert response["state"] == {"1": "x" * 10}
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        str(int(KINESIS_SEQUENCE) + 1), str(int(KINESIS_SEQUENCE) + 2)]
    assert f"over Lambda's tumbling-window state limit of {WINDOW_STATE_LIMIT_BYTES} bytes" in caplog.text


def test_a_state_that_is_not_a_json_object_fails_the_record(log: logging.Logger) -> None:
    response = window_handler(lambda s, r, w: [1], source="kinesis", logger=log)(  # type: ignore[arg-type, return-value]
        kinesis_event([{"n": 1}], state={"a": 1}))

    assert response == {"state": {"a": 1}, "batchItemFailures": [{"itemIdentifier": KINESIS_SEQUENCE}]}


def test_a_final_invocation_whose_record_fails_does_not_emit(log: logging.Logger) -> None:
    emitted: list[Any] = []

    def fold(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
        raise RuntimeError("poison")

    handler = window_handler(fold, source="kinesis", logger=log, on_window_end=lambda s, w: emitted.append(s))

    with pytest.raises(WindowIncompleteError, match="1 record\\(s\\) failed"):
        handler(kinesis_event([{"n": 1}], final=True))
    assert emitted == []


def test_the_emit_runs_with_the_most_hops_of_the_window(log: logging.Logger) -> None:
    hops_seen: list[int | None] = []
    handler = window_handler(count_by_key, source="kinesis", logger=log,
                             on_window_end=lambda state, window: hops_seen.append(current_hops()))
    envelopes = [make_envelope("t", {}, hops=3), make_envelope("t", {}, hops=1)]

    state = handler(kinesis_event(envelopes))["state"]
    assert state == {"1": 2, HOPS_STATE_KEY: 3}  # travels with the state, to Lambda and back
    handler(kinesis_event([], state=state, final=True))

    assert hops_seen == [3]


def test_the_fold_never_sees_the_hops(log: logging.Logger) -> None:
    seen: list[dict[str, Any]] = []
    handler = window_handler(lambda s, r, w: seen.append(dict(s)) or s, source="kinesis", logger=log)

    handler(kinesis_event([{"n": 1}], state={"a": 1, HOPS_STATE_KEY: 2}))

    assert seen == [{"a": 1}]


def test_an_event_without_a_window_fails_the_invocation(log: logging.Logger) -> None:
    event = load(KINESIS_TIME_WINDOW_EVENT)
    del event["window"]

    with pytest.raises(WindowEventError, match="'window' is missing"):
        window_handler(count_by_key, source="kinesis", logger=log)(event)


def test_sqs_has_no_tumbling_windows() -> None:
    with pytest.raises(ValueError, match="source must be 'kinesis' or 'dynamodb' for tumbling windows"):
        window_handler(count_by_key, source="sqs")


def test_the_batch_response_reader_wants_a_state_on_window_invocations() -> None:
    assert read_batch_response({"batchItemFailures": []}, ["1"], window=True).reason == (
        "tumbling window: the response has no 'state' property (Lambda treats it as a failed invocation)")
    assert read_batch_response(None, ["1"], window=True, report_failures=False).status == "failed"
    sample = read_batch_response(json.loads(TIME_WINDOW_EVENT_RESPONSE), ["1"], window=True)
    assert sample.ok and sample.state == {"1": 282, "2": 715}
    assert read_batch_response({"state": {}}, ["1"]).state is None  # not a window invocation: no state read


def test_pipeline_handler_refuses_a_window_event_and_names_window_handler(log: logging.Logger) -> None:
    with pytest.raises(ValueError, match="build the handler with window_handler"):
        pipeline_handler(lambda record: None, source="dynamodb", logger=log)(load(DYNAMODB_TIME_WINDOW_EVENT))
