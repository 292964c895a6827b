"""redrive against hostile DLQ messages: each one is reported with its reason and kept, and
the run goes on for every other message (issue 9, finding 5)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tools_test_helpers import kinesis_event, on_failure_record, queue_depth

from cdk_event_pipeline.tools._aws import Aws
from cdk_event_pipeline.tools.output import Output
from cdk_event_pipeline.tools.redrive import (
    FailedBatch,
    Item,
    MessageError,
    Redrive,
    check_payload,
    parse_invocation_record,
)
from cdk_event_pipeline.tools.targets import PrintTarget

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/source"
SHARD = "shardId-000000000000"


def _document(**info: Any) -> dict[str, Any]:
    """A valid on-failure document for records 1..3 of ARN/SHARD, with fields replaced."""
    document = json.loads(on_failure_record(ARN, SHARD, "1", "3", 3))
    document["KinesisBatchInfo"].update(info)
    return document


def _with(document: dict[str, Any], **fields: Any) -> str:
    return json.dumps({**document, **fields})


def _drop(key: str) -> str:
    document = _document()
    del document["KinesisBatchInfo"][key]
    return json.dumps(document)


class _Put:
    def __init__(self, seq: int, data: bytes = b"x") -> None:
        self.shard_id, self.sequence_number, self.partition_key, self.data = SHARD, str(seq), "k", data


def _event(*seqs: int) -> dict[str, Any]:
    return kinesis_event([_Put(s) for s in seqs], ARN)


def _record_without(key: str) -> str:
    stream_event = _event(1, 2, 3)
    del stream_event["Records"][1][key]
    return _with(_document(), payload=json.dumps(stream_event))


#: (id, body, status, reason fragment): one row per hostile shape.
HOSTILE = [
    ("not-json", "not json", "unrecognised", "not JSON"),
    ("json-array", "[1, 2, 3]", "unrecognised", "a JSON list, not an object"),
    ("json-string", '"KinesisBatchInfo"', "unrecognised", "a JSON str"),
    ("no-batch-info", json.dumps({"requestContext": {}}), "unrecognised", "neither KinesisBatchInfo"),
    ("deep-nesting", "[" * 100_000 + "]" * 100_000, "unrecognised", "nested too deeply"),
    ("huge-integer", '{"KinesisBatchInfo": ' + "9" * 5000 + "}", "unrecognised", "not JSON"),
    ("sns-message-not-a-string", json.dumps({"Type": "Notification", "Message": {"a": 1}}),
     "unrecognised", "no Message string"),
    ("sns-message-not-json", json.dumps({"Type": "Notification", "Message": "{oops"}),
     "unrecognised", "the SNS Message is not JSON"),
    ("batch-info-a-list", json.dumps({"KinesisBatchInfo": [1]}), "malformed", "batch info is a JSON list"),
    ("sequence-not-numeric", json.dumps(_document(startSequenceNumber="abc")), "malformed",
     "startSequenceNumber is not a sequence number: 'abc'"),
    ("sequence-a-json-number", json.dumps(_document(endSequenceNumber=3)), "malformed",
     "endSequenceNumber is not a sequence number: 3"),
    ("sequence-negative", json.dumps(_document(startSequenceNumber="-1")), "malformed",
     "startSequenceNumber is not a sequence number"),
    ("sequence-huge", json.dumps(_document(endSequenceNumber="9" * 200)), "malformed",
     "endSequenceNumber is not a sequence number"),
    ("start-after-end", json.dumps(_document(startSequenceNumber="5")), "malformed",
     "startSequenceNumber 5 is after endSequenceNumber 3"),
    ("stream-arn-not-an-arn", json.dumps(_document(streamArn="not-an-arn")), "malformed",
     "streamArn is not a kinesis stream ARN: 'not-an-arn'"),
    ("stream-arn-other-service", json.dumps(_document(streamArn="arn:aws:sqs:us-east-1:123456789012:q")),
     "malformed", "streamArn is not a kinesis stream ARN"),
    ("stream-arn-a-number", json.dumps(_document(streamArn=12)), "malformed", "streamArn is not"),
    ("shard-id-surrogate", json.dumps(_document(shardId="\udcff")), "malformed", "shardId is not a shard id"),
    ("shard-id-missing", _drop("shardId"), "malformed", "shardId is not a shard id: None"),
    ("batch-size-missing", _drop("batchSize"), "malformed", "batchSize is not an integer"),
    ("batch-size-zero", json.dumps(_document(batchSize=0)), "malformed", "batchSize is not an integer"),
    ("batch-size-string", json.dumps(_document(batchSize="3")), "malformed", "batchSize is not an integer"),
    ("batch-size-bool", json.dumps(_document(batchSize=True)), "malformed", "batchSize is not an integer"),
    ("batch-size-huge", json.dumps(_document(batchSize=10**30)), "malformed", "batchSize is not an integer"),
    ("batch-size-too-big-for-range", json.dumps(_document(batchSize=4)), "malformed",
     "batchSize 4 records cannot fit between sequence numbers 1 and 3"),
    ("payload-a-list", _with(_document(), payload=[1, 2, 3]), "incomplete", "payload is a JSON list"),
    ("payload-a-number", _with(_document(), payload=7), "incomplete", "payload is a JSON int"),
    ("payload-not-json", _with(_document(), payload="{not json"), "incomplete", "payload is not JSON"),
    ("payload-records-not-a-list", _with(_document(), payload=json.dumps({"Records": {}})),
     "incomplete", "payload has no Records list"),
    ("payload-record-not-an-object", _with(_document(), payload=json.dumps({"Records": [1, 2, 3]})),
     "incomplete", "payload record 0: not a JSON object"),
    ("payload-record-without-event-id", _record_without("eventID"), "incomplete",
     "payload record 1: eventID is not 'shardId:2'"),
    ("payload-record-without-kinesis", _record_without("kinesis"), "incomplete",
     "payload record 1: 'kinesis' missing"),
    ("payload-record-without-source", _record_without("eventSource"), "incomplete",
     "payload record 1: eventSource is not aws:kinesis"),
]


def test_every_hostile_message_is_reported_and_kept_and_the_run_goes_on(
    run, make_stream, put, sqs, dlq, recording_handler
):
    """Before: the first of these raised out of the run (a traceback) and every message
    sorted after it was left unprocessed."""
    arn = make_stream("source")
    assert arn == ARN
    puts = put("source", [("k", f"e{i}".encode()) for i in range(3)])
    assert puts[0].shard_id == SHARD
    ids = {}
    for name, body, _, _ in HOSTILE:
        ids[sqs.send_message(QueueUrl=dlq, MessageBody=body)["MessageId"]] = name
    good = sqs.send_message(QueueUrl=dlq, MessageBody=on_failure_record(arn, SHARD, "1", "3", 3))
    spec, _ = recording_handler

    result = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0", "--json")

    assert "Traceback" not in result.err
    assert result.code == 7, result.err
    by_name = {ids.get(m["id"], "good"): m for m in result.of_type("message")}
    assert by_name["good"]["status"] == "redriven"
    assert by_name["good"]["id"] == good["MessageId"]
    for name, _, status, reason in HOSTILE:
        assert (name, by_name[name]["status"]) == (name, status)
        assert reason in by_name[name]["reason"], (name, by_name[name]["reason"])
    assert queue_depth(sqs, dlq) == len(HOSTILE)  # every hostile message kept
    human = run("redrive", "--dlq", dlq, "--to-handler", spec, "--wait-seconds", "0")
    assert human.code == 7
    assert len(human.out.splitlines()) == len(HOSTILE) + 1  # one line each, and the summary
    assert "Traceback" not in human.err


@pytest.mark.parametrize(("body", "status", "reason"), [row[1:] for row in HOSTILE],
                         ids=[row[0] for row in HOSTILE])
def test_hostile_message_outcome(body: str, status: str, reason: str) -> None:
    """Each row on its own (the run above shows them together): the outcome and its reason."""
    try:
        batch = parse_invocation_record(body)
    except MessageError as exc:
        assert (exc.status, reason in exc.reason) == (status, True), exc.reason
        return
    fetched = check_payload(batch)
    assert (fetched.status, reason in (fetched.reason or "")) == (status, True), fetched.reason


# -- fuzzing: any JSON anywhere in a message is a reported outcome, never an exception -----

def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    _containers,
    max_leaves=12,
)
_INFO_KEYS = ["streamArn", "shardId", "startSequenceNumber", "endSequenceNumber", "batchSize"]
_RECORD_KEYS = ["eventSource", "eventSourceARN", "eventID", "kinesis"]
_KINESIS_KEYS = ["sequenceNumber", "partitionKey", "data", "approximateArrivalTimestamp"]


@st.composite
def _messages(draw: st.DrawFn) -> str:
    """A valid message with payload, then a few fields replaced by arbitrary JSON or removed."""
    document: dict[str, Any] = _document()
    stream_event: dict[str, Any] = _event(1, 2, 3)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["info", "record", "kinesis", "payload", "document", "records"]))
        value = draw(_JSON)
        if where == "payload":
            document["payload"] = value
            continue
        records = stream_event.get("Records")
        if where == "info":
            target, keys = document.get("KinesisBatchInfo"), _INFO_KEYS
        elif where in {"record", "kinesis"} and isinstance(records, list) and records:
            target = draw(st.sampled_from(records))
            if where == "kinesis":
                target = target.get("kinesis") if isinstance(target, dict) else None
            keys = _RECORD_KEYS if where == "record" else _KINESIS_KEYS
        elif where == "records":
            target, keys = stream_event, ["Records"]
        else:
            target, keys = document, ["KinesisBatchInfo", "Type", "Message"]
        if not isinstance(target, dict):
            continue
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = value
    document.setdefault("payload", json.dumps(stream_event))
    return json.dumps(document)


class _Recorder(PrintTarget):
    def __init__(self) -> None:
        super().__init__(Output(json_mode=True, stdout=io.StringIO()))
        self.delivered: list[Any] = []

    def deliver(self, records: list[Any]) -> Any:
        self.delivered.extend(records)
        return super().deliver(records)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_messages())
def test_fuzzed_messages_end_in_an_outcome_and_only_exact_batches_are_deletable(body: str) -> None:
    try:
        batch = parse_invocation_record(body)
    except MessageError as exc:
        assert exc.status in {"unrecognised", "malformed"}
        assert exc.reason and "\n" not in exc.reason
        return
    assert isinstance(batch, FailedBatch)
    if not batch.has_payload:  # "payload": null; the stream is read (tested end to end above)
        return
    target = _Recorder()
    out = io.StringIO()
    run = Redrive(Aws(), Output(json_mode=True, stdout=out), target)
    deletable = run.process(Item("m", body, None, batch=batch))
    (line,) = out.getvalue().splitlines()
    status = json.loads(line)["status"]
    event(status)
    if deletable:  # then exactly the named batch was delivered
        assert status == "redriven"
        assert [r.seq for r in target.delivered] == [1, 2, 3]
        assert (batch.start, batch.end, batch.batch_size) == (1, 3, 3)
        assert {(r.stream_arn, r.shard_id) for r in target.delivered} == {(ARN, SHARD)}
    else:
        assert status in {"incomplete", "failed"}
        assert check_payload(batch).status == "incomplete" or status == "failed"


@pytest.mark.parametrize("text", ["", " ", "null", "0", "{}", "[]", '{"KinesisBatchInfo": null}',
                                  '{"DDBStreamBatchInfo": {}}', '{"Type": "Notification"}'])
def test_small_bodies_are_unrecognised_or_malformed(text: str) -> None:
    with pytest.raises(MessageError) as caught:
        parse_invocation_record(text)
    assert caught.value.status in {"unrecognised", "malformed"}
