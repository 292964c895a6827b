"""pipeline_handler against events built from what moto stored: Kinesis, SQS, DynamoDB Streams."""

from __future__ import annotations

import base64
import decimal
import gzip
import json
import logging
from typing import Any

import boto3
import pytest
from runtime_events import (
    REGION,
    create_stream,
    dynamodb_stream_event,
    sqs_event,
    stream_event,
    synthetic_kinesis_event,
)

from event_pipeline_runtime import (
    ConsumerRecord,
    EventProducer,
    UnsupportedVersionError,
    aggregate_records,
    encode_payload,
    make_envelope,
    pipeline_handler,
)


@pytest.fixture
def log() -> logging.Logger:
    logger = logging.getLogger("tests.runtime.consumer")
    logger.setLevel(logging.DEBUG)
    return logger


def _failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


# --- Kinesis ----------------------------------------------------------------------------------


def test_kinesis_batch_decodes_envelopes_gzip_and_plain_json(kinesis: Any, stream: str, context: Any, log: Any) -> None:
    plain = EventProducer(stream, client=kinesis)
    packed = EventProducer(stream, client=kinesis, compress=True)
    for n in range(20):
        (packed if n % 2 else plain).put_event("order.created", {"n": n}, partition_key=f"o-{n % 3}", id=f"e{n}")
    plain.flush()
    packed.flush()
    producer = EventProducer(stream, client=kinesis)
    producer.put({"not": "an envelope"}, "raw")
    producer.flush()

    seen: list[ConsumerRecord] = []
    handler = pipeline_handler(seen.append, source="kinesis", logger=log, idempotent=False)
    event = stream_event(kinesis, stream)
    response = handler(event, context)

    assert response == {"batchItemFailures": []}
    assert len(seen) == 21
    envelopes = [r for r in seen if r.envelope is not None]
    assert sorted(r.data["n"] for r in envelopes) == list(range(20))
    first = envelopes[0]
    assert first.event_source == "aws:kinesis"
    assert first.shard_id == "shardId-000000000000"
    assert first.idempotency_key == first.envelope.id
    assert first.type == "order.created"
    assert first.raw in event["Records"]
    raw = seen[-1]
    assert raw.envelope is None and raw.body == {"not": "an envelope"}
    assert raw.idempotency_key == f"shardId-000000000000:{raw.sequence_number}"
    assert raw.partition_key == "raw"


def test_kpl_aggregated_records_are_split(kinesis: Any, stream: str, context: Any, log: Any) -> None:
    producer = EventProducer(stream, client=kinesis, aggregate=True)
    for n in range(30):
        producer.put_event("tick", {"n": n}, partition_key="hot-key")
    result = producer.flush()
    assert result.kinesis_records == 1 and result.records == 30

    seen: list[ConsumerRecord] = []
    response = pipeline_handler(seen.append, source="kinesis", logger=log)(stream_event(kinesis, stream), context)
    assert _failures(response) == []
    assert [r.data["n"] for r in seen] == list(range(30))
    assert [r.sub_sequence for r in seen] == list(range(30))
    assert {r.sequence_number for r in seen} == {seen[0].sequence_number}


def test_after_a_failure_later_records_of_that_shard_are_not_processed(kinesis: Any, context: Any, log: Any) -> None:
    name = create_stream(kinesis, "events", shards=2)
    producer = EventProducer(name, client=kinesis)
    for n in range(40):
        producer.put({"n": n}, f"key-{n}")
    producer.flush()
    event = stream_event(kinesis, name)
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for record in event["Records"]:
        by_shard.setdefault(record["eventID"].split(":")[0], []).append(record)
    assert len(by_shard) == 2, "both shards must hold records for this test"
    shard_a, shard_b = sorted(by_shard)
    poison = json.loads(base64.b64decode(by_shard[shard_a][3]["kinesis"]["data"]))["n"]

    processed: list[int] = []

    def process(record: ConsumerRecord) -> None:
        if record.body["n"] == poison:
            raise RuntimeError("downstream said no")
        processed.append(record.body["n"])

    response = pipeline_handler(process, source="kinesis", logger=log)(event, context)
    failed = _failures(response)
    expected = [r["kinesis"]["sequenceNumber"] for r in by_shard[shard_a][3:]]
    assert failed == expected  # the failed record and every later one of shard A
    shard_b_numbers = [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in by_shard[shard_b]]
    shard_a_before = [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in by_shard[shard_a][:3]]
    assert sorted(processed) == sorted(shard_a_before + shard_b_numbers)  # shard B unaffected


def test_undecodable_and_unsupported_records_fail_with_a_logged_reason(
    context: Any, caplog: pytest.LogCaptureFixture, log: Any
) -> None:
    payloads = [
        encode_payload(make_envelope("t", {"n": 0})),
        b"\x1f\x8b\x08\x00not really gzip",
        encode_payload(make_envelope("t", {"n": 2}, version=2)),
        b"{truncated",
    ]
    seen: list[Any] = []
    event = synthetic_kinesis_event(payloads[:1], shard_id="shardId-000000000000")
    for i, payload in enumerate(payloads[1:], start=1):
        # One shard per bad record, so each failure is judged on its own.
        event["Records"].extend(synthetic_kinesis_event([payload], shard_id=f"shardId-00000000000{i}")["Records"])
    with caplog.at_level(logging.INFO, logger=log.name):
        response = pipeline_handler(lambda r: seen.append(r.data), source="kinesis", logger=log)(event, context)
    assert seen == [{"n": 0}]
    assert len(_failures(response)) == 3
    reasons = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.error_type for r in reasons] == ["DecodeError", "UnsupportedVersionError", "DecodeError"]
    assert "invalid gzip payload" in reasons[0].failure_reason or "gzip" in reasons[0].failure_reason
    assert "envelope version 2" in reasons[1].failure_reason
    assert all(r.item_identifier for r in reasons)


def test_supported_versions_can_be_widened(context: Any, log: Any) -> None:
    event = synthetic_kinesis_event([encode_payload(make_envelope("t", 1, version=v)) for v in (1, 2)])
    seen: list[int] = []
    handler = pipeline_handler(lambda r: seen.append(r.envelope.version), source="kinesis", supported_versions={1, 2}, logger=log)
    assert _failures(handler(event, context)) == [] and seen == [1, 2]
    strict = pipeline_handler(lambda r: None, source="kinesis", supported_versions=[2], logger=log)
    assert len(_failures(strict(event, context))) == 2  # v1 fails, v2 held back behind it
    assert issubclass(UnsupportedVersionError, ValueError)


def test_an_entirely_failed_batch_returns_a_response(context: Any, log: Any) -> None:
    event = synthetic_kinesis_event([b"nope", b"nope"])
    response = pipeline_handler(lambda r: None, source="kinesis", logger=log)(event, context)
    assert len(_failures(response)) == 2


def test_a_broken_user_record_fails_the_aggregate_before_any_side_effect(context: Any, log: Any) -> None:
    data = aggregate_records([("k", encode_payload({"n": 0})), ("k", gzip.compress(b"{bad"))])
    seen: list[Any] = []
    response = pipeline_handler(seen.append, source="kinesis", logger=log)(synthetic_kinesis_event([data]), context)
    assert len(_failures(response)) == 1 and seen == []


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source must be one of"):
        pipeline_handler(lambda r: None, source="kafka")


# --- SQS --------------------------------------------------------------------------------------


def test_sqs_standard_queue_fails_only_the_bad_messages(aws: str, context: Any, log: Any) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    bodies = [
        json.dumps(make_envelope("job", {"n": 0}, id="job-0")),
        "plain text is not JSON",
        json.dumps({"n": 2}),
        json.dumps(make_envelope("job", {"n": 3}, version=9)),
        json.dumps(make_envelope("job", {"n": 4}, id="job-4")),
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    event = sqs_event(sqs, url)
    ids = {r["body"]: r["messageId"] for r in event["Records"]}
    seen: list[ConsumerRecord] = []
    response = pipeline_handler(seen.append, source="sqs", logger=log)(event, context)
    assert sorted(_failures(response)) == sorted([ids[bodies[1]], ids[bodies[3]]])
    assert sorted(r.data["n"] for r in seen) == [0, 2, 4]
    by_n = {r.data["n"]: r for r in seen}
    assert by_n[0].idempotency_key == "job-0" and by_n[0].event_source == "aws:sqs"
    assert by_n[2].idempotency_key == by_n[2].message_id == ids[bodies[2]]


def test_sqs_fifo_holds_back_the_failed_group(aws: str, context: Any, log: Any) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(
        QueueName="work.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for n in range(6):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}), MessageGroupId="g1" if n % 2 else "g0")
    event = sqs_event(sqs, url)
    assert len(event["Records"]) == 6
    seen: list[int] = []

    def process(record: ConsumerRecord) -> None:
        if record.body["n"] == 1:
            raise RuntimeError("boom")
        seen.append(record.body["n"])

    response = pipeline_handler(process, source="sqs", logger=log)(event, context)
    failed_ns = sorted(json.loads(r["body"])["n"] for r in event["Records"] if r["messageId"] in _failures(response))
    assert failed_ns == [1, 3, 5]  # group g1 from its failure on
    assert sorted(seen) == [0, 2, 4]


# AWS's sample events, "Using Lambda with Amazon SQS", Lambda Developer Guide
# (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): the standard-queue example
# (message 059f36b4..., queue my-queue) and the FIFO example (message 11d6ee51..., queue fifo.fifo).
# Changed only where the test needs it: JSON bodies (the samples' "test" is not JSON, which the
# runtime refuses), more messages of the same shape, and a MessageGroupId on the standard queue's
# messages (what a fair-queue producer sends; SQS returns it as an attribute).
_AWS_STANDARD_SAMPLE = {
    "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
    "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
    "body": "test",
    "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1545082649183",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1545082649185",
    },
    "messageAttributes": {},
    "md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
    "awsRegion": "us-east-2",
}
_AWS_FIFO_SAMPLE = {
    "messageId": "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
    "receiptHandle": "AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...",
    "body": "Test message.",
    "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1573251510774",
        "SequenceNumber": "18849496460467696128",
        "MessageGroupId": "1",
        "SenderId": "AIDAIO23YVJENQZJOL4VO",
        "MessageDeduplicationId": "1",
        "ApproximateFirstReceiveTimestamp": "1573251510774",
    },
    "messageAttributes": {},
    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:fifo.fifo",
    "awsRegion": "us-east-2",
}


def _sample_event(sample: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    """Messages n = 0, 1, ... shaped like ``sample``, message n in group ``groups[n]``."""
    records = []
    for n, group in enumerate(groups):
        record = json.loads(json.dumps(sample))
        record["messageId"] = f"{sample['messageId'][:-2]}{n:02d}"
        record["body"] = json.dumps({"n": n})
        record["attributes"]["MessageGroupId"] = group
        if "SequenceNumber" in record["attributes"]:
            record["attributes"]["SequenceNumber"] = str(int(sample["attributes"]["SequenceNumber"]) + n)
        records.append(record)
    return {"Records": records}


def _fail_message_1(seen: list[int]) -> Any:
    def process(record: ConsumerRecord) -> None:
        if record.body["n"] == 1:
            raise RuntimeError("boom")
        seen.append(record.body["n"])

    return process


def test_a_standard_queue_failure_never_holds_back_later_messages_of_its_group(context: Any, log: Any) -> None:
    # A fair queue's MessageGroupId is a tenant, not an ordering group: message 1 fails alone.
    event = _sample_event(_AWS_STANDARD_SAMPLE, ["tenant-a", "tenant-a", "tenant-b", "tenant-a", "tenant-a"])
    seen: list[int] = []
    response = pipeline_handler(_fail_message_1(seen), source="sqs", logger=log)(event, context)
    assert _failures(response) == [event["Records"][1]["messageId"]]
    assert seen == [0, 2, 3, 4]


def test_the_tenant_reaches_the_handler_as_partition_key(context: Any, log: Any) -> None:
    event = _sample_event(_AWS_STANDARD_SAMPLE, ["tenant-a"])
    seen: list[ConsumerRecord] = []
    pipeline_handler(seen.append, source="sqs", logger=log)(event, context)
    assert [r.partition_key for r in seen] == ["tenant-a"]


def test_a_fifo_queue_failure_holds_back_later_messages_of_its_group_only(context: Any, log: Any) -> None:
    event = _sample_event(_AWS_FIFO_SAMPLE, ["1", "1", "2", "1", "2"])
    seen: list[int] = []
    response = pipeline_handler(_fail_message_1(seen), source="sqs", logger=log)(event, context)
    records = event["Records"]
    assert _failures(response) == [records[1]["messageId"], records[3]["messageId"]]
    assert seen == [0, 2, 4]


def test_the_samples_are_aws_own_events_unchanged_but_for_body_ids_and_group() -> None:
    # Guards the fixtures: only the documented fields differ from AWS's samples.
    for sample in (_AWS_STANDARD_SAMPLE, _AWS_FIFO_SAMPLE):
        (made,) = _sample_event(sample, ["g"])["Records"]
        assert {k: v for k, v in made.items() if k not in {"messageId", "body", "attributes"}} == {
            k: v for k, v in sample.items() if k not in {"messageId", "body", "attributes"}
        }


# --- DynamoDB Streams -------------------------------------------------------------------------


def test_dynamodb_stream_images_are_plain_python(aws: str, context: Any, log: Any) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.put_item(TableName="orders", Item={"pk": {"S": "o1"}, "qty": {"N": "2"}, "tags": {"SS": ["a"]}})
    dynamodb.put_item(TableName="orders", Item={"pk": {"S": "o1"}, "qty": {"N": "3"}, "tags": {"SS": ["a"]}})
    dynamodb.delete_item(TableName="orders", Key={"pk": {"S": "o1"}})
    event = dynamodb_stream_event("orders")
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "REMOVE"]

    seen: list[ConsumerRecord] = []
    response = pipeline_handler(seen.append, source="dynamodb", logger=log)(event, context)
    assert _failures(response) == []
    insert, modify, remove = seen
    assert insert.new_image == {"pk": "o1", "qty": decimal.Decimal(2), "tags": {"a"}} and insert.old_image is None
    assert modify.old_image["qty"] == 2 and modify.new_image["qty"] == 3 and modify.body == modify.new_image
    assert remove.event_name == "REMOVE" and remove.new_image is None and remove.body == remove.old_image
    assert insert.envelope is None and insert.event_source == "aws:dynamodb"
    assert insert.idempotency_key == event["Records"][0]["eventID"]

    def fail_modify(record: ConsumerRecord) -> None:
        if record.event_name == "MODIFY":
            raise RuntimeError("no")

    response = pipeline_handler(fail_modify, source="dynamodb", logger=log)(event, context)
    sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert _failures(response) == sequence_numbers[1:]  # MODIFY and the REMOVE held back behind it


def test_dynamodb_binary_attributes_arrive_as_base64_and_decode_to_bytes(context: Any, log: Any) -> None:
    """Lambda sends B/BS values as base64 text (also nested in M and L); they become bytes."""
    blob = base64.b64encode(b"hello").decode()
    event = {"Records": [{
        "eventID": "e1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026",
        "dynamodb": {
            "Keys": {"pk": {"S": "k"}},
            "NewImage": {"pk": {"S": "k"}, "blob": {"B": blob}, "set": {"BS": [blob]},
                         "nested": {"M": {"b": {"B": blob}, "l": {"L": [{"B": blob}, {"N": "1"}]}}}},
            "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }]}
    seen: list[ConsumerRecord] = []
    response = pipeline_handler(seen.append, source="dynamodb", logger=log)(event, context)
    assert _failures(response) == []
    image = seen[0].new_image
    assert bytes(image["blob"]) == b"hello"
    assert {bytes(v) for v in image["set"]} == {b"hello"}
    assert bytes(image["nested"]["b"]) == b"hello"
    assert bytes(image["nested"]["l"][0]) == b"hello" and image["nested"]["l"][1] == 1
