"""Records the runtime cannot read (issue 20): never a success.

A record that still has its item identifier (sequence number) fails alone, in
``batchItemFailures``, with its reason logged. A record without one cannot be reported that way:
the invocation raises one :class:`UnreadableRecordError` naming the record's position and
``eventID`` (Lambda then fails the batch as a whole and retries / bisects it). These rows are in
the hostile-input table of ``docs/security.md``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from memory_probe import kinesis_event

from event_pipeline_runtime import ConsumerRecord, encode_payload, make_envelope, pipeline_handler
from event_pipeline_runtime.lambda_events import UnreadableRecordError

GOOD = encode_payload(make_envelope("t", {"ok": True}, id="good"))
ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/Balances/stream/2026-01-01T00:00:00.000"


@pytest.fixture
def log() -> logging.Logger:
    logger = logging.getLogger("tests.runtime.unreadable")
    logger.setLevel(logging.INFO)
    return logger


def _change(seq: str, key: str) -> dict[str, Any]:
    return {"eventID": f"e-{seq}", "eventName": "INSERT", "eventSource": "aws:dynamodb", "eventVersion": "1.1",
            "awsRegion": "eu-west-1", "eventSourceARN": ARN,
            "dynamodb": {"SequenceNumber": seq, "Keys": {"id": {"S": key}},
                         "NewImage": {"id": {"S": key}, "balance": {"N": "10"}}, "StreamViewType": "NEW_IMAGE"}}


def _dynamodb_event() -> dict[str, Any]:
    return {"Records": [_change("100", "a"), _change("200", "b"), _change("300", "c")]}


def _run(source: str, event: dict[str, Any], log: logging.Logger) -> tuple[dict[str, Any], list[ConsumerRecord]]:
    seen: list[ConsumerRecord] = []
    response = pipeline_handler(seen.append, source=source, logger=log, idempotent=False)(event, None)
    return response, seen


def test_a_kinesis_record_without_its_kinesis_object_fails_the_batch_naming_it(log: logging.Logger) -> None:
    event = kinesis_event([GOOD, GOOD, GOOD])
    del event["Records"][1]["kinesis"]
    event_id = event["Records"][1]["eventID"]

    with pytest.raises(UnreadableRecordError) as raised:
        _run("kinesis", event, log)

    message = str(raised.value)
    assert message.startswith(f"record 1 of the batch (eventID {event_id!r}) has no item identifier")
    assert "'kinesis' missing or not an object" in message and "the whole batch fails" in message


@pytest.mark.parametrize("breaks, reason", [
    (lambda r: r.pop("dynamodb"), "'dynamodb' missing or not an object"),
    (lambda r: r["dynamodb"].pop("SequenceNumber"), "dynamodb.SequenceNumber is not a sequence number"),
])
def test_a_dynamodb_record_without_its_sequence_number_fails_the_batch_naming_it(
        breaks: Any, reason: str, log: logging.Logger) -> None:
    event = _dynamodb_event()
    breaks(event["Records"][2])

    with pytest.raises(UnreadableRecordError, match=r"^record 2 of the batch \(eventID 'e-300'\)") as raised:
        _run("dynamodb", event, log)
    assert reason in str(raised.value)


@pytest.mark.parametrize("breaks, reason", [
    (lambda c: c.pop("Keys"), "'Keys' missing, empty or not an object"),
    (lambda c: c.update(Keys={}), "'Keys' missing, empty or not an object"),
    (lambda c: c["NewImage"].update(balance={"N": "ten"}), "N value is not a number: 'ten'"),
    (lambda c: c["Keys"].update(id={"N": "NaN"}), "N value is not a number: 'NaN'"),
    (lambda c: c["NewImage"].update(limits={"NS": ["1", "Infinity"]}), "NS value is not a number: 'Infinity'"),
    (lambda c: c["NewImage"].update(nested={"M": {"x": {"N": ""}}}), "N value is not a number: ''"),
])
def test_an_unreadable_dynamodb_change_fails_alone_with_its_reason(
        breaks: Any, reason: str, log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    event = _dynamodb_event()
    breaks(event["Records"][1]["dynamodb"])

    with caplog.at_level(logging.INFO, logger=log.name):
        response, seen = _run("dynamodb", copy.deepcopy(event), log)

    # the stream's records are one group: the later record is held back behind the failed one
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["200", "300"]
    assert [r.keys for r in seen] == [{"id": "a"}]
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.error_type == "DecodeError" and error.item_identifier == "200"
    assert reason in error.failure_reason


def test_numbers_dynamodb_sends_are_read(log: logging.Logger) -> None:
    event = _dynamodb_event()
    event["Records"][0]["dynamodb"]["NewImage"].update(
        x={"N": "-1.5e3"}, y={"N": ".5"}, z={"NS": ["1", "2."]}, big={"N": "9" * 38})

    response, seen = _run("dynamodb", event, log)

    assert response == {"batchItemFailures": []}
    assert [r.keys for r in seen] == [{"id": "a"}, {"id": "b"}, {"id": "c"}]


def test_a_kinesis_record_without_a_partition_key_or_data_fails_alone(
        log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    event = kinesis_event([GOOD, GOOD, GOOD])
    del event["Records"][1]["kinesis"]["partitionKey"]
    del event["Records"][2]["kinesis"]["data"]
    identifiers = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]

    with caplog.at_level(logging.INFO, logger=log.name):
        response, _ = _run("kinesis", event, log)

    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert identifiers[1] in failed and identifiers[0] not in failed
    reasons = " | ".join(r.failure_reason for r in caplog.records if r.levelno == logging.ERROR)
    assert "kinesis.partitionKey missing or not a string" in reasons
