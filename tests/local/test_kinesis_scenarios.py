"""Kinesis scenarios (AWS Lambda Developer Guide: Kinesis error handling, partial batch responses,
on-failure destinations), each run through the local runner on a small handler."""

from __future__ import annotations

import json

from cdk_event_pipeline.local import RECORD_AGE_EXCEEDED, RETRIES_EXHAUSTED

from .assembly_builder import stream_consumer_app
from .conftest import keyed


def _hundred_with_poison_at_37() -> list[dict]:
    return [{"n": i, "poison": i == 37} for i in range(100)]


def test_bisect_isolates_the_poison_record_and_the_other_99_are_processed(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=100,
                                          BisectBatchOnFunctionError=True,
                                          MaximumRetryAttempts=2))
    sequences = pipeline.put_records("Stream", _hundred_with_poison_at_37())

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert sorted(module.PROCESSED, key=int) == [s for i, s in enumerate(sequences) if i != 37]
    assert len(module.PROCESSED) == len(set(module.PROCESSED)) == 99
    (message,) = pipeline.failures("Mapping")
    info = message["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequences[37]
    assert info["batchSize"] == 1
    assert info["shardId"] == "shardId-000000000000"
    assert info["streamArn"] == pipeline.resource("Stream", "stream").attributes["Arn"]
    assert message["requestContext"]["condition"] == RETRIES_EXHAUSTED
    assert message["requestContext"]["approximateInvokeCount"] == 3  # first try + 2 retries
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert "payload" not in message  # SQS destinations get metadata only
    assert pipeline.runner.mapping("Mapping").checkpoints() == {"shardId-000000000000": int(sequences[-1])}


def test_without_bisect_and_infinite_retries_the_shard_stalls(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=100,
                                          BisectBatchOnFunctionError=False,
                                          MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=-1))
    pipeline.put_records("Stream", _hundred_with_poison_at_37())
    pipeline.put_records("Stream", [{"n": 100 + i} for i in range(50)])  # later records wait behind it

    report = pipeline.run(max_invocations=200)  # the bound: Lambda would retry until the record expires

    assert not report.idle and report.stats.invocations == 200
    module = pipeline.function("Consumer").module
    assert module.PROCESSED == []
    assert all(batch == module.INVOCATIONS[0] for batch in module.INVOCATIONS)  # the same batch, every time
    assert pipeline.failures("Mapping") == []
    assert pipeline.runner.mapping("Mapping").checkpoints() == {"shardId-000000000000": None}


def test_partial_batch_response_checkpoints_at_the_lowest_failed_sequence_number(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10, MaximumRetryAttempts=1,
                                          FunctionResponseTypes=["ReportBatchItemFailures"]))
    sequences = pipeline.put_records("Stream", [{"n": i, "poison": i in (4, 7)} for i in range(10)])

    pipeline.run(max_invocations=1)
    assert pipeline.runner.mapping("Mapping").checkpoints() == {"shardId-000000000000": int(sequences[3])}
    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    first, second = module.INVOCATIONS[0], module.INVOCATIONS[1]
    assert first == sequences
    assert second == sequences[4:]  # records 0-3 are never redelivered
    assert all(int(s) >= int(sequences[4]) for batch in module.INVOCATIONS[1:] for s in batch)
    # Without bisect the rest of the batch [4..9] is retried, then discarded whole.
    assert [(m["KinesisBatchInfo"]["startSequenceNumber"], m["KinesisBatchInfo"]["endSequenceNumber"])
            for m in pipeline.failures("Mapping")] == [(sequences[4], sequences[9])]


def test_partial_response_with_bisect_discards_only_the_failed_records(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=100, MaximumRetryAttempts=1,
                                          BisectBatchOnFunctionError=True,
                                          FunctionResponseTypes=["ReportBatchItemFailures"]))
    sequences = pipeline.put_records("Stream", _hundred_with_poison_at_37())

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert sorted(set(module.PROCESSED), key=int) == [s for i, s in enumerate(sequences) if i != 37]
    assert [int(s) for s in module.INVOCATIONS[1]][0] == int(sequences[37])  # retried from the failed record
    assert [m["KinesisBatchInfo"]["startSequenceNumber"] for m in pipeline.failures("Mapping")] == [sequences[37]]


def test_retries_exhausted_sends_the_documented_on_failure_message(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=5, MaximumRetryAttempts=3))
    sequences = pipeline.put_records("Stream", [{"n": 0, "poison": True}, *({"n": i} for i in range(1, 5))])

    pipeline.run_until_idle()

    (message,) = pipeline.failures("Mapping")
    assert set(message) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    assert message["requestContext"]["condition"] == RETRIES_EXHAUSTED
    assert message["requestContext"]["approximateInvokeCount"] == 4
    assert message["requestContext"]["functionArn"] == pipeline.function("Consumer").arn
    info = message["KinesisBatchInfo"]
    assert set(info) == {"shardId", "startSequenceNumber", "endSequenceNumber", "approximateArrivalOfFirstRecord",
                         "approximateArrivalOfLastRecord", "batchSize", "streamArn"}
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[0], sequences[4], 5)
    assert message["version"] == "1.0" and message["timestamp"].endswith("Z")


def test_maximum_record_age_exceeded_sends_the_on_failure_message(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=5, MaximumRetryAttempts=-1,
                                          MaximumRecordAgeInSeconds=60))
    sequences = pipeline.put_records("Stream", [{"n": 0, "poison": True}, {"n": 1}])

    pipeline.run_until_idle(max_invocations=100)  # infinite retries, yet the shard moves on once the records are old

    (message,) = pipeline.failures("Mapping")
    assert message["requestContext"]["condition"] == RECORD_AGE_EXCEEDED
    info = message["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequences[0], sequences[1])
    # the lane's clock, not the wall clock, passed the age limit: backoff waits cost no real time
    assert _seconds_between(info["approximateArrivalOfFirstRecord"], message["timestamp"]) > 60


def _seconds_between(earlier: str, later: str) -> float:
    from datetime import datetime

    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(later) - parse(earlier)).total_seconds()


def test_s3_on_failure_destination_carries_the_full_payload(deploy) -> None:
    bucket = {"Fn::GetAtt": ["FailureBucket", "Arn"]}
    builder = stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=3, MaximumRetryAttempts=0,
                                  DestinationConfig={"OnFailure": {"Destination": bucket}})
    builder.resources["FailureBucket"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
    pipeline = deploy(builder)
    sequences = pipeline.put_records("Stream", [{"n": 0, "poison": True}])

    pipeline.run_until_idle()

    s3 = pipeline.client("s3")
    bucket = pipeline.resource("FailureBucket", "bucket").ref
    (obj,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert obj["Key"].startswith(f"aws/lambda/{pipeline.runner.mapping('Mapping').mapping_uuid}/shardId-000000000000/")
    (document,) = pipeline.failures("Mapping")
    payload = json.loads(document["payload"])
    assert [r["kinesis"]["sequenceNumber"] for r in payload["Records"]] == sequences
    assert payload["Records"][0]["eventSource"] == "aws:kinesis"


def test_batch_size_window_and_latest_starting_position(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=4,
                                          MaximumBatchingWindowInSeconds=5,
                                          StartingPosition="LATEST"))
    # LATEST was resolved at deploy, on an empty shard: every record put now is read.
    sequences = pipeline.put_records("Stream", [{"n": i} for i in range(6)])

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert module.INVOCATIONS == [sequences[:4], sequences[4:]]  # the short batch waited for the window
    first, second = pipeline.invocations("Mapping")
    assert second.detail["at"] - first.detail["at"] >= 5  # on the lane's clock


def test_parallelization_factor_keeps_order_per_partition_key(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10, ParallelizationFactor=4))
    payloads = [{"n": i, "key": f"key-{i % 8}"} for i in range(80)]
    sequences = pipeline.put_records("Stream", payloads, partition_key=keyed)

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    assert sorted(module.PROCESSED, key=int) == sequences
    position = {s: i for i, s in enumerate(module.PROCESSED)}
    for key in {p["key"] for p in payloads}:
        mine = [s for s, p in zip(sequences, payloads, strict=True) if p["key"] == key]
        assert [position[s] for s in mine] == sorted(position[s] for s in mine)
    assert len(pipeline.runner.mapping("Mapping").lanes) == 4
    assert len({inv.detail["lane"] for inv in pipeline.invocations("Mapping")}) > 1


def test_filter_criteria_skip_records_without_invoking(deploy) -> None:
    pattern = json.dumps({"data": {"kind": ["order"]}})
    pipeline = deploy(stream_consumer_app("scenario_handler.report_poison", BatchSize=10,
                                          FilterCriteria={"Filters": [{"Pattern": pattern}]}))
    payloads = [{"n": i, "kind": "order" if i % 2 else "ping"} for i in range(10)]
    sequences = pipeline.put_records("Stream", payloads)

    pipeline.run_until_idle()

    module = pipeline.function("Consumer").module
    orders = [s for s, p in zip(sequences, payloads, strict=True) if p["kind"] == "order"]
    assert sorted(module.PROCESSED, key=int) == orders
    assert pipeline.runner.mapping("Mapping").checkpoints() == {"shardId-000000000000": int(sequences[-1])}


def test_sns_on_failure_destination_reaches_the_topics_queue_subscriber(deploy) -> None:
    builder = stream_consumer_app("scenario_handler.raise_on_poison", BatchSize=3, MaximumRetryAttempts=0,
                                  DestinationConfig={"OnFailure": {"Destination": {"Ref": "FailureTopic"}}})
    builder.resources["FailureTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    builder.queue("Subscriber")
    builder.resources["Subscription"] = {"Type": "AWS::SNS::Subscription", "Properties": {
        "TopicArn": {"Ref": "FailureTopic"}, "Protocol": "sqs", "RawMessageDelivery": True,
        "Endpoint": {"Fn::GetAtt": ["Subscriber", "Arn"]}}}
    pipeline = deploy(builder)
    sequences = pipeline.put_records("Stream", [{"n": 0, "poison": True}])

    pipeline.run_until_idle()

    (message,) = pipeline.queue_messages("Subscriber")
    assert message.json["requestContext"]["condition"] == RETRIES_EXHAUSTED
    assert message.json["KinesisBatchInfo"]["startSequenceNumber"] == sequences[0]


def test_a_response_that_is_not_an_object_fails_the_batch_with_report_batch_item_failures(deploy) -> None:
    # AWS documents objects and null only; the runner fails the batch (see docs/local-runner.md).
    pipeline = deploy(stream_consumer_app("scenario_handler.returns_text", BatchSize=5, MaximumRetryAttempts=1,
                                          FunctionResponseTypes=["ReportBatchItemFailures"]))
    pipeline.put_records("Stream", [{"n": 1}])

    pipeline.run_until_idle()

    assert [inv.outcome for inv in pipeline.invocations("Mapping")] == ["error", "error"]
    assert "not a JSON object" in pipeline.invocations("Mapping")[0].error
    (failure,) = pipeline.failures("Mapping")
    assert "responseContext" not in failure  # the function itself did not fail
