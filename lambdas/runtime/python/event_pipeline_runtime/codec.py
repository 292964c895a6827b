"""Payload encoding shared by producers, consumers and the command-line tools.

Wire format of one user record: compact JSON (UTF-8), optionally gzip-compressed. A reader
needs no flag to know which: gzip data starts with the magic bytes ``1f 8b``, which no JSON
text can start with. Kinesis records may additionally be KPL-aggregated
(:mod:`event_pipeline_runtime.aggregation`); :func:`decode_record_data` undoes both layers.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

from event_pipeline_runtime.aggregation import AGGREGATION_MAGIC, deaggregate
from event_pipeline_runtime.envelope import Envelope, parse_envelope

__all__ = [
    "GZIP_MAGIC",
    "MAX_DECOMPRESSED_BYTES",
    "DecodeError",
    "DecodedRecord",
    "decode_payload",
    "decode_record_data",
    "encode_payload",
]

GZIP_MAGIC = b"\x1f\x8b"
"""First two bytes of every gzip stream."""

MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
"""Refuse to inflate one payload beyond this (a 10 MiB record of zeros inflates to ~10 GiB)."""

_GZIP_LEVEL = 6  # zlib's default trade-off; level 9 costs ~2x the CPU for ~1% less size on JSON.

_loads = json.loads
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class DecodeError(ValueError):
    """A record's data is not (gzip-compressed) UTF-8 JSON."""


@dataclass(slots=True)
class DecodedRecord:
    """One user record decoded from a Kinesis record.

    Attributes:
        partition_key: The user record's partition key (for aggregated records, the key from
            the aggregation table, not the carrier record's).
        body: The decoded JSON value.
        envelope: The envelope when ``body`` is envelope-shaped, else ``None``.
        sub_sequence: Index inside a KPL aggregated record; ``None`` when not aggregated.
    """

    partition_key: str
    body: Any
    envelope: Envelope | None
    sub_sequence: int | None


def encode_payload(obj: Any, *, compress: bool = False) -> bytes:
    """Serialise ``obj`` as compact UTF-8 JSON, gzip-compressed when asked.

    Args:
        obj: Any JSON-serialisable value (NaN and infinities are refused: they are not JSON).
        compress: Gzip the JSON. Default: False.

    Returns:
        The payload bytes.

    Raises:
        TypeError: When ``obj`` is not JSON-serialisable.
        ValueError: When ``obj`` contains NaN or an infinity.
    """
    data = _dumps(obj).encode("utf-8")
    if compress:
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    return data


def _gunzip(data: bytes) -> bytes:
    """Inflate every gzip member of ``data``, bounded by ``MAX_DECOMPRESSED_BYTES``."""
    out: list[bytes] = []
    total = 0
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        chunk = inflater.decompress(rest, MAX_DECOMPRESSED_BYTES - total + 1)
        total += len(chunk)
        if total > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
            raise DecodeError(f"gzip payload inflates beyond {MAX_DECOMPRESSED_BYTES} bytes")
        if not inflater.eof:
            raise DecodeError("truncated gzip payload")
        out.append(chunk)
        rest = inflater.unused_data
        if rest and rest[:2] != GZIP_MAGIC:
            break  # trailing garbage after the last member: ignore it, as gzip(1) does
    return b"".join(out)


def decode_payload(data: bytes) -> Any:
    """Decode one payload: gunzip when it starts with ``1f 8b``, then parse JSON.

    Args:
        data: Payload bytes.

    Returns:
        The decoded JSON value.

    Raises:
        DecodeError: When the data is empty, a broken gzip stream, not UTF-8 or not JSON.
    """
    if data[:2] == GZIP_MAGIC:
        try:
            data = _gunzip(data)
        except zlib.error as exc:
            raise DecodeError(f"invalid gzip payload: {exc}") from exc
    try:
        return _loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DecodeError(f"payload is not UTF-8 JSON ({len(data)} bytes): {exc}") from exc
    except TypeError as exc:
        raise DecodeError(f"payload must be bytes (given {type(data).__name__})") from exc


def decode_record_data(data: bytes, partition_key: str) -> list[DecodedRecord]:
    """Decode a Kinesis record's data into its user records.

    De-aggregates KPL records first, then decodes every user record with
    :func:`decode_payload` and reads its envelope.

    Args:
        data: The Kinesis record's data (base64-decoded).
        partition_key: The Kinesis record's partition key.

    Returns:
        One :class:`DecodedRecord` per user record, in order.

    Raises:
        DecodeError: When any user record cannot be decoded (nothing is returned then, so a
            caller never acts on part of a broken aggregate).
    """
    if data[:4] != AGGREGATION_MAGIC:
        body = decode_payload(data)
        return [DecodedRecord(partition_key, body, parse_envelope(body), None)]
    parts = deaggregate(data, partition_key)
    if len(parts) == 1 and parts[0][1] is data:  # magic prefix but not a valid aggregate
        body = decode_payload(data)
        return [DecodedRecord(partition_key, body, parse_envelope(body), None)]
    out: list[DecodedRecord] = []
    for index, (key, payload) in enumerate(parts):
        try:
            body = decode_payload(payload)
        except DecodeError as exc:
            raise DecodeError(f"user record {index} of an aggregated record: {exc}") from exc
        out.append(DecodedRecord(key, body, parse_envelope(body), index))
    return out
