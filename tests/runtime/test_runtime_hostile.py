"""Hostile input to the consumer runtime: every record here fails alone, with its reason logged.

Each Kinesis case is a batch ``[good, hostile, good]`` with each record on its own shard (a
failure holds back only the later records of its shard): the hostile record must be the only
one reported in ``batchItemFailures`` (the mapping retries it, bisects, and sends it to the
on-failure destination), the good ones must be processed, and one ERROR line must carry the
reason. The function is a 256 MB one (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``), so the decode
limit is 1.5 MiB. These rows are the runtime's part of the hostile-input table in
``docs/security.md``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from memory_probe import NESTED_UNIT, gzip_members, kinesis_event, sqs_event, zeros_bomb

from event_pipeline_runtime import ConsumerRecord, aggregate_records, encode_payload, make_envelope, pipeline_handler
from event_pipeline_runtime.aggregation import AGGREGATION_MAGIC

MIB = 1024 * 1024
GOOD = encode_payload(make_envelope("t", {"ok": True}, id="good"))


@pytest.fixture(autouse=True)
def _function_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    monkeypatch.delenv("EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES", raising=False)


@pytest.fixture
def log() -> logging.Logger:
    logger = logging.getLogger("tests.runtime.hostile")
    logger.setLevel(logging.INFO)
    return logger


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _aggregate_raw(message: bytes) -> bytes:
    return AGGREGATION_MAGIC + message + hashlib.md5(message).digest()  # noqa: S324 - the format's checksum


def _corrupt_deflate() -> bytes:
    data = gzip.compress(b'{"x":1}')
    return data[:10] + b"\xff" + data[11:]  # first deflate block of reserved type 3


PADDED = b64(b'{"a":1}')  # "eyJhIjoxfQ==": valid base64 that ends in padding
assert PADDED.endswith("==")

KINESIS_CASES: dict[str, tuple[Callable[[], Any], str]] = {
    # id: (the event record's kinesis.data, a substring of the logged reason)
    "base64-bad-padding": (lambda: PADDED.rstrip("="), "not valid base64: Incorrect padding"),
    "base64-junk-after": (lambda: PADDED + "junk", "not valid base64: Excess data after padding"),
    "base64-junk-before": (lambda: "!!" + PADDED, "not valid base64: Only base64 data is allowed"),
    "base64-newline-inside": (lambda: PADDED[:4] + "\n" + PADDED[4:], "not valid base64: Only base64 data is allowed"),
    "base64-space-after": (lambda: PADDED + " ", "not valid base64"),
    "base64-not-a-string": (lambda: 12345, "not valid base64"),
    "empty-data": (lambda: "", "payload is not UTF-8 JSON"),
    "not-utf8": (lambda: b64(b'{"a":"\xff\xfe"}'), "payload is not UTF-8 JSON"),
    "not-json": (lambda: b64(b"plain text"), "payload is not UTF-8 JSON"),
    "json-nan": (lambda: b64(b'{"amount":NaN}'), "NaN is not JSON"),
    "json-infinity": (lambda: b64(b'{"amount":-Infinity}'), "-Infinity is not JSON"),
    "json-nested-100000-deep": (lambda: b64(b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
    "plain-json-over-limit": (lambda: b64(b'"' + b"x" * (2 * MIB) + b'"'), "over the limit of 1572864 bytes"),
    "gzip-bomb-valid-json-8mib": (
        lambda: b64(gzip_members(b"0,", 8 * MIB, member_bytes=MIB)),
        "gzip payload inflates over the limit of 1572864 bytes",
    ),
    "gzip-bomb-nested-lists-61kib": (
        lambda: b64(gzip_members(NESTED_UNIT, 64 * MIB)),
        "gzip payload inflates over the limit of 1572864 bytes",
    ),
    "gzip-bomb-zeros-1mib": (lambda: b64(zeros_bomb(MIB)), "gzip payload inflates over the limit"),
    "gzip-truncated": (lambda: b64(gzip.compress(b'{"x":1}')[:-6]), "truncated gzip payload"),
    "gzip-corrupt-deflate-block": (lambda: b64(_corrupt_deflate()), "invalid gzip payload: Error -3"),
    "gzip-of-non-json": (lambda: b64(gzip.compress(b"not json")), "payload (after gzip) is not UTF-8 JSON"),
    "gzip-nested-too-deep": (
        lambda: b64(gzip.compress(b"[" * 100_000 + b"]" * 100_000)),
        "payload (after gzip) is JSON nested too deeply",
    ),
    "kpl-broken-inner-record": (
        lambda: b64(aggregate_records([("k", b'{"ok":1}'), ("k", b"{broken")])),
        "user record 1 of an aggregated record: payload is not UTF-8 JSON",
    ),
    "kpl-inner-gzip-bomb": (
        lambda: b64(aggregate_records([("k", b"{}"), ("k", gzip_members(b"0,", 4 * MIB, member_bytes=MIB))])),
        "user record 1 of an aggregated record: gzip payload inflates",
    ),
    "kpl-bad-md5": (
        lambda: b64(aggregate_records([("k", b'{"ok":1}')])[:-1] + b"\x00"),
        "payload is not UTF-8 JSON",
    ),
    "kpl-empty-aggregate": (lambda: b64(_aggregate_raw(b"\x0a\x01k")), "aggregated record holds no user records"),
    "kpl-key-index-outside-table": (
        lambda: b64(_aggregate_raw(b"\x0a\x01k" + b"\x1a\x06\x08\x05\x1a\x02{}")),
        "payload is not UTF-8 JSON",
    ),
    "envelope-version-2": (lambda: b64(encode_payload(make_envelope("t", {}, version=2))), "envelope version 2"),
}


@pytest.mark.parametrize("case", list(KINESIS_CASES))
def test_kinesis_hostile_record_fails_alone_with_its_reason(
    case: str, log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    make_data, reason = KINESIS_CASES[case]
    event = kinesis_event([GOOD, b"", GOOD])
    event["Records"][1]["kinesis"]["data"] = make_data()
    seen: list[ConsumerRecord] = []

    with caplog.at_level(logging.INFO, logger=log.name):
        response = pipeline_handler(seen.append, source="kinesis", logger=log, idempotent=False)(event, None)

    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["49000000001"]
    assert [r.envelope.id for r in seen] == ["good", "good"]
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.error_type in {"DecodeError", "DecodeLimitError", "UnsupportedVersionError"}
    assert reason in error.failure_reason
    assert error.item_identifier == "49000000001"


# --- envelopes a consumer relies on -----------------------------------------------------------

ENVELOPE_CASES = {
    "version-string": ({"type": "order.placed", "version": "1", "id": "e"}, "envelope version must be an integer (given '1' (str))"),
    "version-float": ({"type": "order.placed", "version": 1.0, "id": "e"}, "envelope version must be an integer (given 1.0 (float))"),
    "version-bool": ({"type": "order.placed", "version": True, "id": "e"}, "envelope version must be an integer (given True (bool))"),
    "id-missing": ({"type": "order.placed", "version": 1}, "envelope id is missing"),
    "id-number": ({"type": "order.placed", "version": 1, "id": 17}, "envelope id must be a non-empty string (given 17 (int))"),
    "id-empty": ({"type": "order.placed", "version": 1, "id": ""}, "envelope id must be a non-empty string"),
    "not-an-object": (["order.placed"], "an envelope must be a JSON object (given a list)"),
}


@pytest.mark.parametrize("case", list(ENVELOPE_CASES))
def test_require_envelope_fails_a_malformed_envelope_with_the_reason(
    case: str, log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 2, runtime side: a malformed envelope reaches ``process`` with ``envelope=None``
    and ``envelope_error`` set; ``require_envelope()`` fails the record with that reason."""
    body, reason = ENVELOPE_CASES[case]
    event = kinesis_event([GOOD, json.dumps(body).encode(), GOOD])
    seen: list[str] = []

    def process(record: ConsumerRecord) -> None:
        seen.append(record.require_envelope().id)

    with caplog.at_level(logging.INFO, logger=log.name):
        response = pipeline_handler(process, source="kinesis", logger=log, idempotent=False)(event, None)

    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["49000000001"]
    assert seen == ["good", "good"]
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.error_type == "EnvelopeError"
    assert error.failure_reason == f"Kinesis record 49000000001: {reason}" or reason in error.failure_reason


def test_envelope_error_is_none_for_a_valid_envelope_and_explains_dynamodb(log: logging.Logger) -> None:
    records: list[ConsumerRecord] = []
    pipeline_handler(records.append, source="kinesis", logger=log, idempotent=False)(kinesis_event([GOOD]), None)
    assert records[0].envelope_error is None and records[0].require_envelope().id == "good"


# --- SQS --------------------------------------------------------------------------------------

SQS_CASES: dict[str, tuple[Any, str]] = {
    "body-not-json": ("plain text", "body is not JSON"),
    "body-nan": ('{"n": NaN}', "NaN is not JSON"),
    "body-nested-100000-deep": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "body-over-limit": ('"' + "x" * (2 * MIB) + '"', "over the limit of 1572864"),
    "body-missing": (None, "no body"),
    "envelope-version-2": (json.dumps(make_envelope("t", {}, version=2)), "envelope version 2"),
}


@pytest.mark.parametrize("case", list(SQS_CASES))
def test_sqs_hostile_message_fails_alone(case: str, log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    body, reason = SQS_CASES[case]
    event = sqs_event(['{"n": 0}', "", '{"n": 2}'])
    event["Records"][1]["body"] = body
    seen: list[Any] = []
    with caplog.at_level(logging.INFO, logger=log.name):
        response = pipeline_handler(lambda r: seen.append(r.body), source="sqs", logger=log, idempotent=False)(event, None)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m-1"]
    assert seen == [{"n": 0}, {"n": 2}]
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert reason in error.failure_reason


# --- DynamoDB Streams -------------------------------------------------------------------------

DYNAMODB_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "binary-not-base64": ({"blob": {"B": "not base64!"}}, "cannot deserialize image"),
    "binary-with-junk": ({"blob": {"B": PADDED + "junk"}}, "Excess data after padding"),
    "binary-set-with-junk": ({"set": {"BS": [PADDED, "!" + PADDED]}}, "Only base64 data is allowed"),
    "binary-nested-in-map": ({"m": {"M": {"b": {"B": PADDED + "=="}}}}, "cannot deserialize image"),
    "number-out-of-range": ({"n": {"N": "1e200"}}, "cannot deserialize image"),
    "unknown-type-tag": ({"x": {"Q": "?"}}, "cannot deserialize image"),
}


def _dynamodb_event(images: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventID": f"e{i}",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/t{i}/stream/2026",
                "dynamodb": {
                    "Keys": {"pk": {"S": f"k{i}"}},
                    "NewImage": {"pk": {"S": f"k{i}"}, **image},
                    "SequenceNumber": str(100 + i),
                    "SizeBytes": 10,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
            for i, image in enumerate(images)
        ]
    }


@pytest.mark.parametrize("case", list(DYNAMODB_CASES))
def test_dynamodb_hostile_image_fails_alone(case: str, log: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    image, reason = DYNAMODB_CASES[case]
    event = _dynamodb_event([{}, image, {}])  # one table (stream) per record: judged on its own
    seen: list[Any] = []
    with caplog.at_level(logging.INFO, logger=log.name):
        response = pipeline_handler(lambda r: seen.append(r.keys), source="dynamodb", logger=log, idempotent=False)(event, None)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["101"]
    assert seen == [{"pk": "k0"}, {"pk": "k2"}]
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.error_type == "DecodeError" and reason in error.failure_reason


def test_dynamodb_binary_keys_are_decoded(log: logging.Logger) -> None:
    event = _dynamodb_event([{}])
    event["Records"][0]["dynamodb"]["Keys"] = {"pk": {"B": PADDED}}
    seen: list[ConsumerRecord] = []
    assert pipeline_handler(seen.append, source="dynamodb", logger=log, idempotent=False)(event, None) == {"batchItemFailures": []}
    assert bytes(seen[0].keys["pk"]) == b'{"a":1}'
