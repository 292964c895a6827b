"""The fidelity findings of issue 11, one scenario each (numbered as in the issue), through the
``local_pipeline_factory`` fixture on small apps. Each asserts what AWS's documentation says
happens; docs/local-runner.md links every behaviour to its test here."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime

import pytest

from cdk_event_pipeline.local import RECORD_AGE_EXCEEDED, UnsupportedPatternError

from .assembly_builder import TemplateBuilder, stream_consumer_app
from .conftest import keyed

PAYLOAD_LIMIT = 6 * 1024 * 1024



def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- 1. every mapping, shard and lane has its own time -----------------------------------------


def test_1_a_consumer_backing_off_does_not_age_another_consumers_records(deploy) -> None:
    builder = TemplateBuilder()
    stream = builder.stream()
    dlq = builder.queue("DeadLetterQueue")
    healthy = builder.function("Healthy", "scenario_handler.process_all")
    stuck = builder.function("Stuck", "scenario_handler.raise_on_poison")
    builder.mapping("HealthyMapping", healthy, stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
                    MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": dlq}})
    builder.mapping("StuckMapping", stuck, stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
                    MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=3600)
    pipeline = deploy(builder)
    sequences = pipeline.put_records("Stream", [{"n": 0, "poison": True}, *({"n": i} for i in range(1, 300))])

    pipeline.run(max_invocations=300)  # the stuck consumer retries its first batch for an hour of its own time

    healthy_module = pipeline.function("Healthy").module
    # the healthy consumer processed all 300 (the poison record is not poison to it): none aged out
    assert sorted(healthy_module.PROCESSED, key=int) == sequences
    assert pipeline.failures("HealthyMapping") == []
    stuck_times = [inv.detail["at"] for inv in pipeline.invocations("StuckMapping")]
    healthy_times = [inv.detail["at"] for inv in pipeline.invocations("HealthyMapping")]
    assert stuck_times[-1] - stuck_times[0] > 600  # its own clock moved by its backoff
    assert healthy_times[-1] - healthy_times[0] < 60  # the other's did not


def test_1_a_failing_sqs_message_does_not_age_a_stream_consumers_records(deploy) -> None:
    builder = TemplateBuilder()
    stream = builder.stream()
    stream_dlq = builder.queue("StreamDeadLetterQueue")
    work_dlq = builder.queue("WorkDeadLetterQueue")
    queue = builder.queue("WorkQueue", VisibilityTimeout=300,
                          RedrivePolicy={"deadLetterTargetArn": work_dlq, "maxReceiveCount": 20})
    consumer = builder.function("Consumer", "scenario_handler.process_all")
    worker = builder.function("Worker", "scenario_handler.raise_on_poison")
    builder.mapping("StreamMapping", consumer, stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
                    MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": stream_dlq}})
    builder.mapping("QueueMapping", worker, queue, BatchSize=1)
    pipeline = deploy(builder)
    pipeline.send_messages("WorkQueue", [{"poison": True}])
    sequences = pipeline.put_records("Stream", [{"n": i} for i in range(300)])

    pipeline.run_until_idle()

    assert sorted(pipeline.function("Consumer").module.PROCESSED, key=int) == sequences
    assert pipeline.failures("StreamMapping") == []
    assert len(pipeline.dead_letters("WorkQueue")) == 1  # 20 receives x 300 s of visibility on its own clock


def test_1_a_stuck_shard_does_not_age_the_records_of_another_shard(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.raise_on_poison", shards=2, BatchSize=10,
                                          MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=60))
    keys = [f"key-{i}" for i in range(40)]
    client = pipeline.client("kinesis")
    name = pipeline.resource("Stream", "stream").ref
    shard_of = {k: client.put_record(StreamName=name, Data=b'{"probe": true}', PartitionKey=k)["ShardId"] for k in keys}
    stuck_key = keys[0]
    healthy_key = next(k for k in keys if shard_of[k] != shard_of[stuck_key])
    pipeline.put_records("Stream", [{"poison": True}], partition_key=stuck_key)
    healthy = pipeline.put_records("Stream", [{"n": i} for i in range(200)], partition_key=healthy_key)

    pipeline.run_until_idle(max_invocations=2000)

    processed = set(pipeline.function("Consumer").module.PROCESSED)
    assert set(healthy) <= processed  # every record of the healthy shard, none aged out
    (failure,) = pipeline.failures("Mapping")  # only the stuck shard's batch aged out
    assert failure["KinesisBatchInfo"]["shardId"] == shard_of[stuck_key]
    assert failure["requestContext"]["condition"] == RECORD_AGE_EXCEEDED


# --- 2. anything a handler raises is a function error; Ctrl-C still stops the runner ------------


def test_2_sys_exit_in_a_handler_is_a_function_error(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.exit_on_poison", BatchSize=10, MaximumRetryAttempts=1,
                                          BisectBatchOnFunctionError=True))
    sequences = pipeline.put_records("Stream", [{"n": i, "poison": i == 3} for i in range(10)])

    pipeline.run_until_idle()  # the runner survives sys.exit(3)

    errors = [inv for inv in pipeline.invocations("Mapping") if inv.outcome == "error"]
    assert errors and all("Runtime.ExitError" in inv.error and "exit status 3" in inv.error for inv in errors)
    (failure,) = pipeline.failures("Mapping")
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == sequences[3]
    assert failure["responseContext"]["functionError"] == "Unhandled"
    processed = pipeline.function("Consumer").module.PROCESSED
    assert sorted(processed, key=int) == [s for i, s in enumerate(sequences) if i != 3]


def test_2_keyboard_interrupt_raised_by_handler_code_is_a_function_error(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.keyboard_interrupt_on_poison", BatchSize=10,
                                          MaximumRetryAttempts=0))
    pipeline.put_records("Stream", [{"poison": True}])

    pipeline.run_until_idle()

    (invocation,) = pipeline.invocations("Mapping")
    assert invocation.outcome == "error" and invocation.error.startswith("KeyboardInterrupt")
    assert len(pipeline.failures("Mapping")) == 1


def test_2_ctrl_c_while_a_handler_runs_stops_the_runner(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.interrupt_runner", BatchSize=10))
    pipeline.put_records("Stream", [{"n": 1}])

    # Ctrl-C reaches Python through its SIGINT handler; a shell starts a background job (`make test &`)
    # with SIGINT ignored, and then `_thread.interrupt_main` does nothing: install Python's own here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            pipeline.run_until_idle()
    finally:
        signal.signal(signal.SIGINT, previous)

    assert pipeline.function("Consumer").module.FINISHED == []  # the handler's thread was stopped too


# --- 3. the function's timeout is enforced ------------------------------------------------------


def test_3_an_invocation_longer_than_the_timeout_fails_as_lambdas_does(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.slow_on_poison", timeout=1, BatchSize=1,
                                          MaximumRetryAttempts=0))
    sequences = pipeline.put_records("Stream", [{"poison": True}])
    after = pipeline.put_records("Stream", [{"n": 1}])

    pipeline.run_until_idle()

    first = pipeline.invocations("Mapping")[0]
    assert first.outcome == "error" and first.timed_out
    assert "Sandbox.Timedout" in first.error and "Task timed out after 1.00 seconds" in first.error
    (failure,) = pipeline.failures("Mapping")
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == sequences[0]
    assert failure["responseContext"]["functionError"] == "Unhandled"
    module = pipeline.function("Consumer").module
    assert module.FINISHED == []  # the timed-out handler was stopped before it finished
    assert module.PROCESSED == after  # and the runner went on
    # in the same thread: like a Lambda execution environment, the function's thread runs its
    # invocations one after another (a timed-out invocation is stopped, the thread goes on)
    assert len(module.THREADS) == 2 and len(set(module.THREADS)) == 1
    assert threading.get_ident() not in module.THREADS


# --- 4. tumbling windows ------------------------------------------------------------------------


def test_4_tumbling_window_state_is_carried_and_the_final_invocation_gets_it(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.count_per_key", BatchSize=2, TumblingWindowInSeconds=900))
    sequences = pipeline.put_records("Stream", [{"n": i, "key": "ab"[i % 2]} for i in range(5)], partition_key=keyed)

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    events = module.WINDOW_EVENTS
    aggregation, final = events[:-1], events[-1]
    assert [e["count"] for e in aggregation] == [2, 2, 1]
    assert [e["state"] for e in aggregation] == [{}, {"a": 1, "b": 1}, {"a": 2, "b": 2}]  # each response's state
    assert all(not e["isFinalInvokeForWindow"] and not e["isWindowTerminatedEarly"] for e in aggregation)
    assert final["isFinalInvokeForWindow"] and final["count"] == 0 and final["state"] == {"a": 3, "b": 2}
    assert {e["shardId"] for e in events} == {"shardId-000000000000"}
    assert {e["eventSourceARN"] for e in events} == {pipeline.resource("Stream", "stream").attributes["Arn"]}
    # windows are aligned intervals of the records' arrival times
    start, end = _epoch(final["window"]["start"]), _epoch(final["window"]["end"])
    assert end - start == 900 and start % 900 == 0
    arrivals = [record.arrival.timestamp() for record in pipeline.runner.mapping("Mapping").index.values()]
    assert len(arrivals) == 5 and all(start <= a < end for a in arrivals)
    assert sorted(module.PROCESSED, key=int) == sequences


def test_4_a_window_response_without_state_is_a_failed_invocation(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.no_state", BatchSize=10, TumblingWindowInSeconds=60,
                                          MaximumRetryAttempts=1))
    pipeline.put_records("Stream", [{"n": 1}])

    pipeline.run_until_idle()

    aggregation = [inv for inv in pipeline.invocations("Mapping") if not inv.final_window]
    assert [inv.outcome for inv in aggregation] == ["error", "error"]
    assert "no 'state'" in aggregation[0].error
    assert len(pipeline.failures("Mapping")) == 1


def test_4_a_state_over_1_mb_ends_the_window_early(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.huge_state_once", BatchSize=2, TumblingWindowInSeconds=900))
    pipeline.put_records("Stream", [{"n": i} for i in range(4)])

    pipeline.run_until_idle()

    events = pipeline.function("Consumer").module.WINDOW_EVENTS
    flags = [(e["count"], e["isFinalInvokeForWindow"], e["isWindowTerminatedEarly"]) for e in events]
    assert flags == [(2, False, False), (0, True, True), (2, False, False), (0, True, False)]
    assert events[2]["state"] == {}  # the window continued with a fresh state
    assert events[3]["state"] == {"n": 2}


# --- 5. record age is checked on every invocation -----------------------------------------------


def test_5_bisected_halves_are_not_sent_once_their_records_are_too_old(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=4,
                                          BisectBatchOnFunctionError=True,
                                          MaximumRetryAttempts=20, MaximumRecordAgeInSeconds=60))
    sequences = pipeline.put_records("Stream", [{"n": 0}, {"n": 1}, {"poison": True}, {"n": 3}])

    pipeline.run_until_idle()

    processed = pipeline.function("Consumer").module.PROCESSED
    assert processed == sequences[:2]  # the first half, before anything was old
    failures = pipeline.failures("Mapping")
    assert [f["requestContext"]["condition"] for f in failures] == [RECORD_AGE_EXCEEDED, RECORD_AGE_EXCEEDED]
    poison, last = (f["KinesisBatchInfo"]["startSequenceNumber"] for f in failures)
    assert (poison, last) == (sequences[2], sequences[3])
    # the last record's half was never invoked: it expired while the poison retried (it was sent only
    # with the whole batch and with the poison, before the splits)
    assert failures[1]["requestContext"]["approximateInvokeCount"] == 0
    assert [inv.ids for inv in pipeline.invocations("Mapping") if sequences[3] in inv.ids] == [sequences, sequences[2:]]


# --- 6. AT_TIMESTAMP holds for records that arrive after the mapping starts ---------------------


def test_6_at_timestamp_in_the_future_skips_records_that_arrive_before_it(deploy) -> None:
    future = datetime.now().timestamp() + 3600
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10,
                                          StartingPosition="AT_TIMESTAMP",
                                          StartingPositionTimestamp=future))
    pipeline.put_records("Stream", [{"n": i} for i in range(20)])

    report = pipeline.run_until_idle()

    assert report.stats.invocations == 0
    assert pipeline.function("Consumer").module.PROCESSED == []


def test_6_at_timestamp_in_the_past_reads_every_later_record(deploy) -> None:
    past = datetime.now().timestamp() - 3600
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10,
                                          StartingPosition="AT_TIMESTAMP",
                                          StartingPositionTimestamp=past))
    sequences = pipeline.put_records("Stream", [{"n": i} for i in range(20)])

    pipeline.run_until_idle()

    assert pipeline.function("Consumer").module.PROCESSED == sequences


# --- 7. the 6 MB invocation payload limit -------------------------------------------------------


def test_7_batches_are_trimmed_to_the_6_mb_payload_limit(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=100))
    blob = "x" * (900 * 1024)
    sequences = [pipeline.put_record("Stream", {"n": i, "blob": blob}) for i in range(20)]

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert max(module.EVENT_SIZES) <= PAYLOAD_LIMIT
    assert len(module.INVOCATIONS) == 4  # 1.2 MB per record in the event: 5 per invocation
    assert [s for batch in module.INVOCATIONS for s in batch] == sequences  # every record once, in order


def test_7_sqs_batches_are_trimmed_to_the_6_mb_payload_limit(deploy) -> None:
    builder = TemplateBuilder()
    queue = builder.queue("WorkQueue", VisibilityTimeout=30)
    worker = builder.function("Worker", "scenario_handler.report_poison")
    builder.mapping("Mapping", worker, queue, BatchSize=100, MaximumBatchingWindowInSeconds=5)
    pipeline = deploy(builder)
    ids = pipeline.send_messages("WorkQueue", [json.dumps({"n": i, "blob": "y" * (250 * 1024)}) for i in range(30)])

    pipeline.run_until_idle()

    module = pipeline.function("Worker").module
    assert max(module.EVENT_SIZES) <= PAYLOAD_LIMIT
    assert len(module.INVOCATIONS) >= 2
    assert sorted(m for batch in module.INVOCATIONS for m in batch) == sorted(ids)  # each message once


# --- 8. filters: per record, and on the one key each source allows ------------------------------


def test_8_records_that_match_no_filter_do_not_break_batches(deploy) -> None:
    pattern = json.dumps({"data": {"kind": ["order"]}})
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10,
                                          FilterCriteria={"Filters": [{"Pattern": pattern}]}))
    payloads = [{"n": i, "kind": "order" if i % 2 else "ping"} for i in range(100)]
    sequences = pipeline.put_records("Stream", payloads)

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert [len(batch) for batch in module.INVOCATIONS] == [10] * 5
    assert module.PROCESSED == [s for s, p in zip(sequences, payloads, strict=True) if p["kind"] == "order"]
    assert pipeline.runner.mapping("Mapping").checkpoints() == {"shardId-000000000000": int(sequences[-1])}


@pytest.mark.parametrize("pattern", [{"partitionKey": ["k"]}, {"kinesis": {"partitionKey": ["k"]}},
                                     {"data": ["plain text"]}])
def test_8_kinesis_filters_only_use_the_data_key(deploy, pattern) -> None:
    with pytest.raises(UnsupportedPatternError, match="data"):
        deploy(stream_consumer_app("scenario_handler.report_poison",
                                   FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]}))


def test_8_kinesis_data_that_is_not_json_matches_no_data_filter(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10,
                                          FilterCriteria={"Filters": [
                                          {"Pattern": json.dumps({"data": {"kind": [{"exists": False}]}})}]}))
    pipeline.put_records("Stream", ["not json", b"\xff\xfe", {"n": 1}])

    pipeline.run_until_idle()

    (invocation,) = pipeline.invocations("Mapping")
    assert invocation.records == [{"n": 1}]


def test_8_sqs_filters_use_the_body_key_only_and_compare_json_with_json(deploy) -> None:
    builder = TemplateBuilder()
    queue = builder.queue("WorkQueue", VisibilityTimeout=30)
    worker = builder.function("Worker", "scenario_handler.report_poison")
    patterns = [{"body": {"kind": ["order"]}}, {"body": ["plain"]}]
    builder.mapping("Mapping", worker, queue, BatchSize=10,
                    FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})
    pipeline = deploy(builder)
    pipeline.send_messages("WorkQueue", [{"kind": "order"}, {"kind": "ping"}, "plain", '"plain"', "other"])

    pipeline.run_until_idle()

    (invocation,) = pipeline.invocations("Mapping")
    # '"plain"' is valid JSON: a plain-string pattern does not match it (AWS drops the message)
    assert invocation.records == [{"kind": "order"}, "plain"]
    assert pipeline.queue_messages("WorkQueue") == []  # the filtered-out messages were deleted

    with pytest.raises(UnsupportedPatternError, match="body"):
        rejected = TemplateBuilder("Rejected")
        other = rejected.queue("WorkQueue")
        rejected.mapping("Mapping", rejected.function("Worker", "scenario_handler.report_poison"), other,
                         FilterCriteria={"Filters": [{"Pattern": json.dumps({"attributes": {"SenderId": ["x"]}})}]})
        deploy(rejected)


def test_8_dynamodb_filters_use_the_dynamodb_key(deploy) -> None:
    builder = TemplateBuilder()
    builder.table("Items", stream="NEW_AND_OLD_IMAGES")
    function = builder.function("Consumer", "scenario_handler.report_poison")
    pattern = {"dynamodb": {"NewImage": {"kind": {"S": ["order"]}}}}
    builder.mapping("Mapping", function, {"Fn::GetAtt": ["Items", "StreamArn"]}, StartingPosition="TRIM_HORIZON",
                    FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    pipeline = deploy(builder)
    pipeline.write_items("Items", [{"id": "1", "kind": "order"}, {"id": "2", "kind": "ping"}])

    pipeline.run_until_idle()

    (invocation,) = pipeline.invocations("Mapping")
    assert [r["Keys"]["id"]["S"] for r in invocation.records] == ["1"]

    with pytest.raises(UnsupportedPatternError, match="dynamodb"):
        rejected = TemplateBuilder("Rejected")
        rejected.table("Items", stream="NEW_AND_OLD_IMAGES")
        rejected.mapping("Mapping", rejected.function("Consumer", "scenario_handler.report_poison"),
                         {"Fn::GetAtt": ["Items", "StreamArn"]}, StartingPosition="TRIM_HORIZON",
                         FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]})
        deploy(rejected)
