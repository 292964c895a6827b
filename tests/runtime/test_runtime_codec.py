"""Envelope, payload codec and KPL aggregation format."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_pipeline_runtime import (
    ENVELOPE_VERSION,
    DecodeError,
    DecodeLimitError,
    Envelope,
    EnvelopeError,
    aggregate_records,
    deaggregate,
    decode_payload,
    decode_record_data,
    default_max_decompressed_bytes,
    encode_payload,
    envelope_error,
    make_envelope,
    parse_envelope,
    read_envelope,
)
from event_pipeline_runtime.aggregation import AGGREGATION_MAGIC, aggregated_size

# --- envelope ---------------------------------------------------------------------------------


def test_make_envelope_defaults() -> None:
    envelope = make_envelope("order.created", {"order": 1})
    assert envelope["type"] == "order.created"
    assert envelope["version"] == ENVELOPE_VERSION == 1
    assert re.fullmatch(r"[0-9a-f]{32}", envelope["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", envelope["at"])
    assert envelope["data"] == {"order": 1}


def test_make_envelope_explicit_fields_and_validation() -> None:
    envelope = make_envelope("t", None, id="abc", at="2026-01-01T00:00:00Z", version=3)
    assert envelope == {"type": "t", "version": 3, "id": "abc", "at": "2026-01-01T00:00:00Z", "data": None}
    with pytest.raises(ValueError, match="type"):
        make_envelope("", 1)
    with pytest.raises(ValueError, match="version"):
        make_envelope("t", 1, version=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="id"):
        make_envelope("t", 1, id="")


def test_parse_envelope_keeps_unknown_fields() -> None:
    body = {**make_envelope("t", [1], id="x"), "trace": "abc"}
    envelope = parse_envelope(body)
    assert isinstance(envelope, Envelope)
    assert (envelope.type, envelope.version, envelope.id, envelope.data) == ("t", 1, "x", [1])
    assert envelope.body["trace"] == "abc"


_VALID = {"type": "order.placed", "version": 1, "id": "e1", "at": "2026-11-22T00:00:00.000Z", "data": {}}


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (None, "must be a JSON object (given a NoneType)"),
        ([1], "must be a JSON object (given a list)"),
        ("text", "must be a JSON object (given a str)"),
        ({**_VALID, "version": "1"}, "envelope version must be an integer (given '1' (str))"),
        ({**_VALID, "version": 1.0}, "envelope version must be an integer (given 1.0 (float))"),
        ({**_VALID, "version": True}, "envelope version must be an integer (given True (bool))"),
        ({k: v for k, v in _VALID.items() if k != "version"}, "envelope version is missing"),
        ({k: v for k, v in _VALID.items() if k != "id"}, "envelope id is missing"),
        ({**_VALID, "id": 5}, "envelope id must be a non-empty string (given 5 (int))"),
        ({**_VALID, "id": ""}, "envelope id must be a non-empty string (given '' (str))"),
        ({**_VALID, "id": None}, "envelope id must be a non-empty string (given None (NoneType))"),
        ({**_VALID, "type": 1}, "envelope type must be a non-empty string (given 1 (int))"),
        ({**_VALID, "type": ""}, "envelope type must be a non-empty string"),
        ({k: v for k, v in _VALID.items() if k != "type"}, "envelope type is missing"),
        ({**_VALID, "at": 1795312800}, "envelope at must be a string or null (given 1795312800 (int))"),
    ],
    ids=[
        "null", "list", "string", "version-str", "version-float", "version-bool", "version-missing",
        "id-missing", "id-int", "id-empty", "id-null", "type-int", "type-empty", "type-missing", "at-int",
    ],
)
def test_malformed_envelopes_are_refused_with_the_reason(obj: object, reason: str) -> None:
    """Finding 2: the accepted shape is strict, and the reason a value is not an envelope is
    available (envelope_error) and raised by the strict reader (read_envelope)."""
    assert parse_envelope(obj) is None
    assert reason in (envelope_error(obj) or "")
    with pytest.raises(EnvelopeError, match=re.escape(reason)):
        read_envelope(obj)
    assert issubclass(EnvelopeError, ValueError)


@pytest.mark.parametrize(
    "obj",
    [_VALID, {**_VALID, "at": None}, {k: v for k, v in _VALID.items() if k not in ("at", "data")}, {**_VALID, "version": 0}],
    ids=["full", "at-null", "minimal", "version-0"],
)
def test_valid_envelopes_have_no_error(obj: dict) -> None:
    assert envelope_error(obj) is None
    envelope = read_envelope(obj)
    assert parse_envelope(obj) == envelope and envelope.id == "e1"


def test_make_envelope_refuses_a_non_string_at() -> None:
    with pytest.raises(ValueError, match="at must be a string"):
        make_envelope("t", 1, at=5)  # type: ignore[arg-type]


# --- payload codec ----------------------------------------------------------------------------


def test_encode_is_compact_utf8_json() -> None:
    assert encode_payload({"a": [1, 2], "é": "ü"}) == '{"a":[1,2],"é":"ü"}'.encode()


def test_gzip_round_trip_and_detection() -> None:
    obj = {"items": [{"sku": f"SKU-{i}", "qty": i} for i in range(200)]}
    plain = encode_payload(obj)
    packed = encode_payload(obj, compress=True)
    assert packed[:2] == b"\x1f\x8b"
    assert len(packed) < len(plain) * 0.3  # repetitive JSON shrinks a lot
    assert decode_payload(packed) == decode_payload(plain) == obj
    # Any gzip producer works, not only ours.
    assert decode_payload(gzip.compress(b'{"x":1}', compresslevel=1)) == {"x": 1}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not UTF-8 JSON"),
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8 JSON"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
        (gzip.compress(b'{"x": 1}')[:-6], "gzip"),  # truncated
        (gzip.compress(b"not json"), "not UTF-8 JSON"),
    ],
)
def test_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_payload(data)
    assert issubclass(DecodeError, ValueError)


def test_gzip_bomb_is_refused_past_the_limit() -> None:
    bomb = gzip.compress(b"[" + b"0," * 5000 + b"0]")
    assert decode_payload(bomb, max_decompressed_bytes=10_003) == [0] * 5001  # exactly 10,003 bytes
    with pytest.raises(DecodeLimitError, match="inflates over the limit of 10002 bytes"):
        decode_payload(bomb, max_decompressed_bytes=10_002)
    with pytest.raises(DecodeLimitError, match="10001 bytes of JSON text, over the limit of 10000"):
        decode_payload(b"[" + b"0," * 4999 + b"0]", max_decompressed_bytes=10_000)  # plain JSON too


def test_multi_member_gzip_shares_one_limit() -> None:
    member = gzip.compress(b"0" * 600)
    data = gzip.compress(b"[") + member + gzip.compress(b"]")
    with pytest.raises(DecodeLimitError):
        decode_payload(gzip.compress(b"[") + member + member + gzip.compress(b"]"), max_decompressed_bytes=1000)
    with pytest.raises(DecodeError, match="not UTF-8 JSON"):  # '[000...]' inflated in full: not JSON
        decode_payload(data, max_decompressed_bytes=1000)


def test_an_aggregate_shares_one_limit_across_its_user_records() -> None:
    user = encode_payload({"pad": "x" * 400}, compress=True)  # 412 bytes of JSON each
    decoded = decode_record_data(aggregate_records([("k", user)] * 2), "k", max_decompressed_bytes=824)
    assert len(decoded) == 2
    with pytest.raises(DecodeLimitError, match="user record 2 of an aggregated record: .*left of the limit of 1000"):
        decode_record_data(aggregate_records([("k", user)] * 3), "k", max_decompressed_bytes=1000)


def test_default_limit_follows_the_function_memory() -> None:
    mib = 1024 * 1024
    assert default_max_decompressed_bytes({}) == 64 * mib  # outside Lambda (the tools)
    assert default_max_decompressed_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}) == mib  # the floor
    assert default_max_decompressed_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}) == 3 * mib // 2
    assert default_max_decompressed_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}) == 15 * mib // 2
    explicit = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES": "5000000"}
    assert default_max_decompressed_bytes(explicit) == 5_000_000  # the variable wins
    for bad in ("0", "-1", "lots", "1e6"):
        with pytest.raises(ValueError, match=f"EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES must be a positive integer .*{bad}"):
            default_max_decompressed_bytes({"EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES": bad})
    with pytest.raises(ValueError, match="AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        default_max_decompressed_bytes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "big"})
    for bad_arg in (0, -5, True, 1.5):
        with pytest.raises(ValueError, match="max_decompressed_bytes must be an integer >= 1"):
            decode_payload(b"{}", max_decompressed_bytes=bad_arg)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (gzip.compress(b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
        (b'{"amount": NaN}', "NaN is not JSON"),
        (b"[Infinity]", "Infinity is not JSON"),
        (b"-Infinity", "-Infinity is not JSON"),
        (gzip.compress(b'{"x": 1}')[:-6], "truncated gzip"),
        (gzip.compress(b'{"x": 1}')[:12], "truncated gzip"),
    ],
    ids=["deep-plain", "deep-gzip", "nan", "infinity", "minus-infinity", "truncated-trailer", "truncated-body"],
)
def test_hostile_payloads_are_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(reason)):
        decode_payload(data)


def test_an_empty_aggregate_is_a_decode_error() -> None:
    message = b"\x0a\x01k"  # a partition key table and no record
    data = AGGREGATION_MAGIC + message + hashlib.md5(message).digest()
    assert deaggregate(data, "k") == []
    with pytest.raises(DecodeError, match="holds no user records"):
        decode_record_data(data, "k")


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode_payload(float("nan"))


# --- KPL aggregation --------------------------------------------------------------------------


def _golden_aggregate() -> bytes:
    """Two user records, two keys, written byte by byte from the format description."""
    message = (
        b"\x0a\x01a"  # partition_key_table[0] = "a"
        + b"\x0a\x02bb"  # partition_key_table[1] = "bb"
        + b"\x1a\x07" + b"\x08\x00" + b"\x1a\x03" + b"{1}"  # records[0]: key 0, data "{1}"
        + b"\x1a\x06" + b"\x08\x01" + b"\x1a\x02" + b"[]"  # records[1]: key 1, data "[]"
    )
    return AGGREGATION_MAGIC + message + hashlib.md5(message).digest()


def test_aggregate_matches_the_format_byte_for_byte() -> None:
    assert aggregate_records([("a", b"{1}"), ("bb", b"[]")]) == _golden_aggregate()
    assert aggregated_size([("a", b"{1}"), ("bb", b"[]")]) == len(_golden_aggregate())


def test_deaggregate_reads_fields_we_never_write() -> None:
    # explicit_hash_key_table, explicit_hash_key_index and tags (what the KPL may add).
    record = b"\x08\x00" + b"\x10\x00" + b"\x1a\x02{}" + b"\x22\x06" + b"\x0a\x01k" + b"\x12\x01v"
    message = b"\x0a\x02pk" + b"\x12\x03123" + b"\x1a" + bytes([len(record)]) + record
    data = AGGREGATION_MAGIC + message + hashlib.md5(message).digest()
    assert deaggregate(data, "outer") == [("pk", b"{}")]


def test_deaggregate_passes_through_non_aggregated_and_corrupt_data() -> None:
    assert deaggregate(b'{"x":1}', "k") == [("k", b'{"x":1}')]
    corrupt = bytearray(_golden_aggregate())
    corrupt[-1] ^= 0xFF  # digest mismatch: an ordinary record, as the KCL treats it
    assert deaggregate(bytes(corrupt), "k") == [("k", bytes(corrupt))]
    with pytest.raises(DecodeError):
        decode_record_data(bytes(corrupt), "k")  # ... which then is not JSON


def test_decode_record_data_de_aggregates_gzip_and_envelopes() -> None:
    envelope = make_envelope("t", {"n": 1}, id="e1")
    parts = [
        ("k1", encode_payload(envelope, compress=True)),
        ("k2", encode_payload({"plain": True})),
    ]
    decoded = decode_record_data(aggregate_records(parts), "outer")
    assert [(d.partition_key, d.sub_sequence) for d in decoded] == [("k1", 0), ("k2", 1)]
    assert decoded[0].envelope is not None and decoded[0].envelope.id == "e1"
    assert decoded[1].body == {"plain": True} and decoded[1].envelope is None
    single = decode_record_data(encode_payload(envelope), "pk")
    assert len(single) == 1 and single[0].sub_sequence is None and single[0].envelope.type == "t"


def test_decode_record_data_fails_whole_aggregate_on_one_bad_user_record() -> None:
    data = aggregate_records([("k", b'{"ok":1}'), ("k", b"{broken")])
    with pytest.raises(DecodeError, match="user record 1"):
        decode_record_data(data, "k")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=300)),
        min_size=1,
        max_size=40,
    )
)
def test_aggregation_round_trip(records: list[tuple[str, bytes]]) -> None:
    data = aggregate_records(records)
    assert len(data) == aggregated_size(records)
    assert deaggregate(data, "outer") == records


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    ),
    st.booleans(),
)
def test_payload_round_trip(obj: object, compress: bool) -> None:
    assert decode_payload(encode_payload(obj, compress=compress)) == json.loads(json.dumps(obj))
