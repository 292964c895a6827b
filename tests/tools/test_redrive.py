"""redrive end to end against the moto server."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tools_test_helpers import kinesis_event, on_failure_record, queue_depth, read_stream

from cdk_event_pipeline.tools import _aws
from cdk_event_pipeline.tools.records import SourceRecord
from cdk_event_pipeline.tools.redrive import check_range, parse_invocation_record


def _handler_module(spec: str) -> Any:
    return sys.modules.get(spec.split(":")[0]) or importlib.import_module(spec.split(":")[0])


def test_redrive_to_stream_delivers_the_range_once_and_deletes_the_message(
    run, make_stream, put, kinesis, sqs, dlq
):
    arn = make_stream("source")
    make_stream("target")
    puts = put("source", [(f"key-{i % 3}", f"event-{i}".encode()) for i in range(10)])
    batch = puts[2:8]  # what Lambda gave up on: records 3..8 of the shard
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=on_failure_record(
            arn, batch[0].shard_id, batch[0].sequence_number, batch[-1].sequence_number, 6
        ),
    )

    result = run("redrive", "--dlq", dlq, "--to-stream", "target", "--wait-seconds", "0",
                 "--json")

    assert result.code == 0, result.err
    assert [m["status"] for m in result.of_type("message")] == ["redriven"]
    assert result.of_type("summary")[0]["recordsDelivered"] == 6
    delivered = read_stream(kinesis, "target")
    assert sorted((key, data) for _, key, data in delivered) == sorted(
        (p.partition_key, p.data) for p in batch
    )
    for key in {p.partition_key for p in batch}:  # per-key order kept
        assert [d for _, k, d in delivered if k == key] == [
            p.data for p in batch if p.partition_key == key
        ]
    assert queue_depth(sqs, dlq) == 0


def test_redrive_to_handler_across_shards_compares_sequence_numbers_per_shard(
    run, make_stream, put, sqs, dlq, recording_handler
):
    # moto numbers each shard 1, 2, 3...: the same sequence numbers exist in both shards.
    arn = make_stream("source", 2)
    puts = put("source", [(f"k{i}", f"e{i}".encode()) for i in range(40)])
    shards = sorted({p.shard_id for p in puts})
    assert len(shards) == 2
    expected = []
    for shard in shards:
        in_shard = [p for p in puts if p.shard_id == shard][1:4]
        expected += in_shard
        sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
            arn, shard, in_shard[0].sequence_number, in_shard[-1].sequence_number, 3))
    spec, _ = recording_handler

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0")

    assert result.code == 0, result.out + result.err
    received = _handler_module(spec).RECEIVED
    assert [(r["eventID"], base64.b64decode(r["kinesis"]["data"])) for r in received] == [
        (f"{p.shard_id}:{p.sequence_number}", p.data) for p in expected
    ]
    first = received[0]
    assert first["eventSource"] == "aws:kinesis"
    assert first["eventSourceARN"] == arn
    assert first["kinesis"]["partitionKey"] == expected[0].partition_key
    assert queue_depth(sqs, dlq) == 0


def test_redrive_keeps_and_reports_messages_whose_records_are_gone(
    run, make_stream, put, sqs, dlq, recording_handler
):
    arn = make_stream("source")
    puts = put("source", [("k", f"e{i}".encode()) for i in range(5)])
    shard = puts[0].shard_id
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(arn, shard, "1", "2", 2))
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(arn, shard, "100", "104", 5))
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, "shardId-000000000042", "1", "3", 3))
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn.replace("/source", "/deleted-stream"), shard, "1", "3", 3))
    spec, _ = recording_handler

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0", "--json")

    assert result.code == 3  # 3 wins over 7
    statuses = {m["batchInfo"]["startSequenceNumber"] + m["batchInfo"]["streamArn"][-6:]
                + m["batchInfo"]["shardId"][-2:]: m["status"] for m in result.of_type("message")}
    assert statuses == {
        "1source00": "redriven",
        "100source00": "incomplete",  # beyond the shard's last record: not retention
        "1source42": "expired",  # no such shard
        "1stream00": "expired",  # no such stream
    }
    assert result.of_type("summary")[0]["recordsMissing"] == 6
    assert len(_handler_module(spec).RECEIVED) == 2
    # The three kept messages are visible again at once, for the next run or a human.
    left = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert len(left) == 3


def _trim_below(horizon: int) -> Any:
    """A GetRecords hook: the shard's records below ``horizon`` are gone (past retention)."""

    def drop(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Records"] = [r for r in parsed.get("Records", [])
                             if int(r["SequenceNumber"]) >= horizon]

    return drop


def _refuse_trimmed(horizon: int) -> Any:
    """A GetShardIterator hook: AT_SEQUENCE_NUMBER before the trim horizon is refused (the
    other way Kinesis may answer for a trimmed sequence number)."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if (params.get("ShardIteratorType") == "AT_SEQUENCE_NUMBER"
                and int(params["StartingSequenceNumber"]) < horizon):
            raise ClientError({"Error": {"Code": "InvalidArgumentException",
                                         "Message": "sequence number is trimmed"}},
                              "GetShardIterator")

    return refuse


@pytest.mark.parametrize("refused", [False, True], ids=["reads-from-horizon", "refuses-trimmed"])
def test_trimmed_batch_is_expired_and_kept_unless_allowed(run, make_stream, put, sqs, dlq,
                                                          recording_handler, tool_hooks, refused):
    arn = make_stream("source")
    puts = put("source", [("k", f"e{i}".encode()) for i in range(5)])
    tool_hooks("after-call.kinesis.GetRecords", _trim_below(3))  # records 1 and 2 trimmed
    if refused:
        tool_hooks("provide-client-params.kinesis.GetShardIterator", _refuse_trimmed(3))
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "5", 5))
    spec, _ = recording_handler

    kept = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0", "--json")
    assert kept.code == 3
    message = kept.of_type("message")[0]
    assert (message["status"], message["missing"], message["found"]) == ("expired", 2, 3)
    assert "trimmed" in message["reason"]
    assert _handler_module(spec).RECEIVED == []
    assert queue_depth(sqs, dlq) == 1

    allowed = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0",
                  "--allow-partial", "--json")
    assert allowed.code == 3  # records were still lost
    assert allowed.of_type("message")[0]["status"] == "redriven"
    assert allowed.of_type("summary")[0]["recordsMissing"] == 2
    received = _handler_module(spec).RECEIVED
    assert [r["kinesis"]["sequenceNumber"] for r in received] == ["3", "4", "5"]
    assert queue_depth(sqs, dlq) == 0


def test_a_range_that_cannot_be_retention_is_incomplete_even_with_allow_partial(
    run, make_stream, put, sqs, dlq, recording_handler
):
    """Retention trims the oldest records. A batch whose last record is not in the shard, or
    whose count disagrees with the records between its ends, is not explained by it: the
    metadata does not describe the shard, nothing proves what to deliver."""
    arn = make_stream("source")
    puts = put("source", [("k", f"e{i}".encode()) for i in range(5)])
    shard = puts[0].shard_id
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(arn, shard, "1", "7", 7))
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(arn, shard, "2", "4", 2))
    spec, _ = recording_handler

    for extra in ([], ["--allow-partial"]):
        result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0",
                     "--json", *extra)
        assert result.code == 7, result.out
        reasons = sorted(m["reason"] for m in result.of_type("message")
                         if m["status"] == "incomplete")
        assert len(reasons) == 2
        assert "last record 7 is not in the shard" in reasons[0]
        assert "holds 3 records in [2..4], the batch names 2" in reasons[1]
        assert _handler_module(spec).RECEIVED == []
        assert queue_depth(sqs, dlq) == 2


def test_a_front_gap_the_shard_still_holds_is_incomplete():
    """Missing leading records count as trimmed only when the shard's oldest record proves it."""
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    batch = parse_invocation_record(on_failure_record(arn, "shardId-000000000000", "1", "5", 5))
    found = [SourceRecord("kinesis", arn, "shardId-000000000000", str(n), "k", b"")
             for n in (3, 4, 5)]
    assert check_range(found, batch, lambda: 3).status == "expired"
    assert check_range(found, batch, lambda: None).trimmed  # everything trimmed since
    gap = check_range(found, batch, lambda: 1)
    assert (gap.status, gap.trimmed) == ("incomplete", False)
    assert "shard still starts at 1" in (gap.reason or "")
    assert check_range([], batch, lambda: 9).status == "expired"  # all trimmed
    assert check_range([], batch, lambda: None).status == "expired"  # an empty shard
    assert check_range([], batch, lambda: 4).status == "incomplete"  # the range was never there


def test_dry_run_delivers_and_deletes_nothing(run, make_stream, put, kinesis, sqs, dlq):
    arn = make_stream("source")
    make_stream("target")
    puts = put("source", [("k", b"a"), ("k", b"b")])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "2", 2))

    result = run("redrive", "--dlq", dlq, "--to-stream", "target", "--dry-run",
                 "--wait-seconds", "0", "--json")

    assert result.code == 0
    assert result.of_type("message")[0]["status"] == "would-redrive"
    assert read_stream(kinesis, "target") == []
    assert len(sqs.receive_message(QueueUrl=dlq)["Messages"]) == 1  # still there, visible


def test_batch_item_failures_keep_the_message(run, make_stream, put, sqs, dlq,
                                              recording_handler):
    arn = make_stream("source")
    puts = put("source", [("k", f"e{i}".encode()) for i in range(4)])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "4", 4))
    spec, _ = recording_handler
    module = importlib.import_module(spec.split(":")[0])
    module.FAIL_SEQUENCES.add("3")

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0", "--json")

    assert result.code == 1
    message = result.of_type("message")[0]
    assert message["status"] == "failed"
    assert message["delivered"] == 2  # Lambda's rule: from the lowest failed one on
    assert queue_depth(sqs, dlq) == 1


def test_handler_exception_keeps_the_message(run, make_stream, put, sqs, dlq,
                                             recording_handler):
    arn = make_stream("source")
    puts = put("source", [("k", b"x")])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "1", 1))
    spec, _ = recording_handler
    importlib.import_module(spec.split(":")[0]).RAISE.append("still broken")

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0")

    assert result.code == 1
    assert "still broken" in result.out
    assert queue_depth(sqs, dlq) == 1


def test_unrecognised_and_sns_wrapped_messages(run, make_stream, put, sqs, dlq,
                                               recording_handler):
    arn = make_stream("source")
    puts = put("source", [("k", b"x")])
    sqs.send_message(QueueUrl=dlq, MessageBody="not json")
    notification = {"Type": "Notification", "MessageId": "m", "Message": on_failure_record(
        arn, puts[0].shard_id, "1", "1", 1)}
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(notification))
    spec, _ = recording_handler

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0", "--json")

    assert result.code == 7  # kept unproven
    assert sorted(m["status"] for m in result.of_type("message")) == ["redriven", "unrecognised"]
    assert queue_depth(sqs, dlq) == 1


def test_redrive_from_s3_objects_uses_the_payload(run, make_stream, put, aws, recording_handler):
    arn = make_stream("source")
    puts = put("source", [("k", b"one"), ("k", b"two")])
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="failures")
    event = kinesis_event(puts, arn)
    key = f"aws/lambda/esm-uuid/{puts[0].shard_id}/2026/01/01/2026-01-01T00.00.00-x"
    s3.put_object(Bucket="failures", Key=key, Body=on_failure_record(
        arn, puts[0].shard_id, "1", "2", 2, payload=event))
    spec, _ = recording_handler

    result = run("redrive", "--s3-uri", "s3://failures/aws/lambda/", "--to-handler", spec)

    assert result.code == 0, result.out + result.err
    received = _handler_module(spec).RECEIVED
    assert [base64.b64decode(r["kinesis"]["data"]) for r in received] == [b"one", b"two"]
    assert s3.list_objects_v2(Bucket="failures").get("KeyCount", 0) == 0


def _payload(kind: str, puts: list[Any], arn: str) -> Any:
    """The payloads of issue 9, finding 1, and their relatives, for a batch of puts[0:3]."""
    if kind == "empty-records":
        return {"Records": []}
    if kind == "empty-object":
        return {}
    if kind == "list":
        return kinesis_event(puts[:3], arn)["Records"]
    if kind == "one-of-three":
        return kinesis_event(puts[:1], arn)
    if kind == "shifted":  # three records, but 2..4 for a batch 1..3
        return kinesis_event(puts[1:4], arn)
    if kind == "other-stream":
        return kinesis_event(puts[:3], arn.replace("/source", "/elsewhere"))
    if kind == "junk-base64":
        event = kinesis_event(puts[:3], arn)
        event["Records"][1]["kinesis"]["data"] = "ZTE=\n<script>"  # valid base64, then junk
        return event
    if kind == "duplicated":
        return kinesis_event([puts[0], puts[0], puts[2]], arn)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        pytest.param("empty-records", "holds 0 of the batch's 3 records", id="empty-records"),
        pytest.param("empty-object", "payload has no Records list", id="empty-object"),
        pytest.param("list", "payload is a JSON list", id="list"),
        pytest.param("one-of-three", "holds 1 of the batch's 3 records", id="one-of-three"),
        pytest.param("shifted", "payload record 2 (4) is outside [1..3]", id="shifted"),
        pytest.param("other-stream", "stream/elsewhere', not the batch's stream",
                     id="other-stream"),
        pytest.param("junk-base64", "payload record 1: kinesis.data is not valid base64",
                     id="junk-base64"),
        pytest.param("duplicated", "not in increasing sequence order at record 1",
                     id="duplicated"),
    ],
)
def test_a_payload_that_is_not_exactly_its_batch_is_kept(run, make_stream, put, sqs, dlq,
                                                         recording_handler, kind, reason):
    """Issue 9, finding 1: such messages were reported "redriven", deleted, exit 0."""
    arn = make_stream("source")
    puts = put("source", [("k", f"e{i}".encode()) for i in range(5)])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "3", 3, payload=_payload(kind, puts, arn)))
    spec, _ = recording_handler

    for extra in ([], ["--allow-partial"]):  # a payload mismatch is never deletable
        result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0",
                     "--json", *extra)

        assert result.code == 7, result.out + result.err
        message = result.of_type("message")[0]
        assert message["status"] == "incomplete"
        assert reason in message["reason"]
        assert _handler_module(spec).RECEIVED == []
        assert result.of_type("summary")[0]["recordsDelivered"] == 0
        assert queue_depth(sqs, dlq) == 1


def test_an_exact_payload_is_delivered_from_the_message(run, make_stream, put, sqs, dlq,
                                                        recording_handler):
    arn = make_stream("source")
    puts = put("source", [("k", f"e{i}".encode()) for i in range(5)])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "2", "4", 3, payload=kinesis_event(puts[1:4], arn)))
    spec, _ = recording_handler

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0")

    assert result.code == 0, result.out + result.err
    received = _handler_module(spec).RECEIVED
    assert [base64.b64decode(r["kinesis"]["data"]) for r in received] == [b"e1", b"e2", b"e3"]
    assert queue_depth(sqs, dlq) == 0


def test_an_s3_object_with_empty_records_is_kept(run, make_stream, put, aws, recording_handler):
    """Issue 9, finding 1: the object was deleted, exit 0."""
    arn = make_stream("source")
    puts = put("source", [("k", b"one"), ("k", b"two")])
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="failures")
    s3.put_object(Bucket="failures", Key="aws/lambda/esm/empty", Body=on_failure_record(
        arn, puts[0].shard_id, "1", "2", 2, payload={"Records": []}))
    s3.put_object(Bucket="failures", Key="aws/lambda/esm/binary", Body=b"\xff\xfe\x00 not text")
    spec, _ = recording_handler

    result = run("redrive", "--s3-uri", "s3://failures/aws/lambda/", "--to-handler", spec,
                 "--json")

    assert result.code == 7, result.out + result.err
    outcomes = {m["id"]: (m["status"], m["reason"]) for m in result.of_type("message")}
    assert outcomes == {
        "s3://failures/aws/lambda/esm/empty": ("incomplete", "the payload holds 0 of the batch's 2 records"),
        "s3://failures/aws/lambda/esm/binary": ("unrecognised", outcomes["s3://failures/aws/lambda/esm/binary"][1]),
    }
    assert "not UTF-8" in outcomes["s3://failures/aws/lambda/esm/binary"][1]
    assert _handler_module(spec).RECEIVED == []
    assert s3.list_objects_v2(Bucket="failures")["KeyCount"] == 2


def test_redrive_dynamodb_stream_batch(run, sqs, dlq, recording_handler):
    ddb = boto3.client("dynamodb")
    table = ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    for i in range(3):
        ddb.put_item(TableName="orders", Item={"pk": {"S": f"o{i}"}, "blob": {"B": b"\x00\x01"}})
    streams = boto3.client("dynamodbstreams")
    stream_arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seqs = [r["dynamodb"]["SequenceNumber"]
            for r in streams.get_records(ShardIterator=iterator)["Records"]]
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        stream_arn, shard["ShardId"], seqs[1], seqs[2], 2, kind="DDBStreamBatchInfo"))
    spec, _ = recording_handler

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0")

    assert result.code == 0, result.out + result.err
    received = _handler_module(spec).RECEIVED
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in received] == ["o1", "o2"]
    assert received[0]["eventSource"] == "aws:dynamodb"
    assert received[0]["eventSourceARN"] == stream_arn
    json.dumps(received)  # binary attributes and times are JSON-ready
    assert queue_depth(sqs, dlq) == 0


def test_failed_put_records_entries_are_retried_in_order(
    run, make_stream, put, kinesis, sqs, dlq, monkeypatch
):
    """Inject a ProvisionedThroughputExceeded entry (moto never throttles)."""
    arn = make_stream("source")
    make_stream("target")
    puts = put("source", [(f"k{i % 2}", f"e{i}".encode()) for i in range(6)])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "6", 6))
    dropped: list[int] = []

    def drop_one(params: dict[str, Any], **_: Any) -> None:
        if not dropped and len(params["Records"]) > 1:
            params["Records"].pop(1)  # never reaches the stream...
            dropped.append(1)

    def report_failed(parsed: dict[str, Any], **_: Any) -> None:
        if dropped == [1]:  # ... and is reported as throttled
            parsed["Records"].insert(1, {"ErrorCode": "ProvisionedThroughputExceededException",
                                         "ErrorMessage": "Rate exceeded"})
            parsed["FailedRecordCount"] = 1
            dropped.append(2)

    def session(region: str | None) -> boto3.session.Session:
        s = boto3.session.Session(region_name=region)
        s.events.register("provide-client-params.kinesis.PutRecords", drop_one)
        s.events.register("after-call.kinesis.PutRecords", report_failed)
        return s

    monkeypatch.setattr(_aws, "make_session", session)
    monkeypatch.setattr("cdk_event_pipeline.tools.targets.PUT_RECORDS_BACKOFF_SECONDS", 0.0)

    result = run("redrive", "--dlq", dlq, "--to-stream", "target", "--wait-seconds", "0")

    assert result.code == 0, result.out + result.err
    assert dropped == [1, 2]
    delivered = read_stream(kinesis, "target")
    for key in ("k0", "k1"):
        assert [d for _, k, d in delivered if k == key] == [
            p.data for p in puts if p.partition_key == key
        ]
    assert len(delivered) == 6
    assert queue_depth(sqs, dlq) == 0


@pytest.mark.parametrize(
    ("argv", "code", "text"),
    [
        (["--dlq", "{endpoint}/123456789012/missing", "--print"], 4, "not found"),
        (["--dlq", "{dlq}", "--to-stream", "missing"], 4, "stream 'missing'"),
        (["--dlq", "{dlq}", "--to-handler", "no_such_module_xyz:handler"], 4, "not found"),
        (["--dlq", "{dlq}", "--to-function", "missing"], 4, "function 'missing'"),
        (["--s3-uri", "s3://no-such-bucket/x", "--print"], 4, "bucket"),
        (["--dlq", "{dlq}"], 2, ""),
    ],
)
def test_redrive_errors_have_distinct_exit_codes(run, aws, dlq, argv, code, text):
    result = run("redrive", *[a.format(endpoint=aws, dlq=dlq) for a in argv])
    assert result.code == code
    assert text in result.err
    assert "Traceback" not in result.err


def test_redrive_to_a_lambda_function(run, aws, make_stream, put, sqs, dlq):
    """moto runs no code without Docker: with use_docker off, Invoke echoes the event back,
    which (no batchItemFailures) counts as delivered."""
    import io
    import urllib.request
    import zipfile

    request = urllib.request.Request(
        f"{aws}/moto-api/config", method="POST",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - loopback only
    role = boto3.client("iam").create_role(
        RoleName="consumer", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action":
            "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("consumer.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName="consumer", Runtime="python3.12", Role=role, Handler="consumer.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    arn = make_stream("source")
    puts = put("source", [("k", b"a"), ("k", b"b"), ("k", b"c")])
    sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(
        arn, puts[0].shard_id, "1", "3", 3))

    result = run("redrive", "--dlq", dlq, "--to-function", "consumer", "--batch-size", "2",
                 "--wait-seconds", "0", "--json")

    assert result.code == 0, result.out + result.err
    assert result.of_type("summary")[0]["recordsDelivered"] == 3
    assert queue_depth(sqs, dlq) == 0
