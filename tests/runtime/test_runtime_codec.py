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
    Envelope,
    aggregate_records,
    deaggregate,
    decode_payload,
    decode_record_data,
    encode_payload,
    make_envelope,
    parse_envelope,
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


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [1],
        "text",
        {"type": "t", "id": "x"},  # no version
        {"type": "t", "version": "1", "id": "x"},  # version not an int
        {"type": "t", "version": True, "id": "x"},  # bool is not a version
        {"type": "t", "version": 1, "id": 5},  # id not a string
        {"type": 1, "version": 1, "id": "x"},
    ],
)
def test_parse_envelope_rejects_non_envelopes(obj: object) -> None:
    assert parse_envelope(obj) is None


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


def test_gzip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from event_pipeline_runtime import codec

    monkeypatch.setattr(codec, "MAX_DECOMPRESSED_BYTES", 1000)
    with pytest.raises(DecodeError, match="inflates beyond"):
        decode_payload(gzip.compress(b"[" + b"0," * 5000 + b"0]"))


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
