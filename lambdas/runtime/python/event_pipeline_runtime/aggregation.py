"""KPL-compatible record aggregation (the format ``aws-kinesis-agg`` and the KCL read).

An aggregated Kinesis record packs many *user records* into one Kinesis record, so that small
records fill a shard's 1 MiB/s write budget instead of its 1,000 records/s budget. The format
(``amazon-kinesis-producer/aggregation-format.md``) is::

    magic (f3 89 9a c2) || protobuf AggregatedRecord || md5(protobuf AggregatedRecord)

with the (proto2) messages::

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;
    }
    message Tag { required string key = 1; optional string value = 2; }

The protobuf wire format is written and read by hand (a few dozen lines), so the runtime
needs no protobuf dependency.

Like the KCL and ``aws-kinesis-agg``, :func:`deaggregate` treats data that does not carry the
magic prefix, or whose MD5 trailer does not match, or whose protobuf cannot be parsed, as one
ordinary (non-aggregated) record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "AGGREGATION_MAGIC",
    "AGGREGATION_OVERHEAD_BYTES",
    "aggregate_records",
    "aggregated_size",
    "deaggregate",
    "is_aggregated",
    "user_record_size",
]

AGGREGATION_MAGIC = b"\xf3\x89\x9a\xc2"
"""The four bytes every KPL aggregated record starts with."""

_DIGEST_BYTES = 16
AGGREGATION_OVERHEAD_BYTES = len(AGGREGATION_MAGIC) + _DIGEST_BYTES
"""Bytes an aggregated record adds around its protobuf message (magic + MD5 trailer)."""


# --- protobuf wire-format helpers ---------------------------------------------------------


def _varint(value: int) -> bytes:
    """Encode a non-negative int as a protobuf base-128 varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_len(value: int) -> int:
    """Length in bytes of ``_varint(value)``."""
    length = 1
    while value >= 0x80:
        value >>= 7
        length += 1
    return length


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a varint at ``pos``; return (value, new position)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _skip_field(buf: bytes, pos: int, end: int, wire_type: int) -> int:
    """Skip an unknown field of ``wire_type``; return the new position."""
    if wire_type == 0:
        return _read_varint(buf, pos, end)[1]
    if wire_type == 1:
        pos += 8
    elif wire_type == 2:
        length, pos = _read_varint(buf, pos, end)
        pos += length
    elif wire_type == 5:
        pos += 4
    else:
        raise ValueError(f"unsupported wire type {wire_type}")
    if pos > end:
        raise ValueError("truncated field")
    return pos


def user_record_size(partition_key_index: int, data_len: int) -> int:
    """Bytes one user record adds to an aggregated record (its ``records`` field entry).

    Args:
        partition_key_index: The record's index in the partition key table.
        data_len: Length of the record's data.

    Returns:
        The encoded size of the field (tag, length and ``Record`` message).
    """
    inner = 1 + _varint_len(partition_key_index) + 1 + _varint_len(data_len) + data_len
    return 1 + _varint_len(inner) + inner


def _length_delimited(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(payload)) + payload


def _record_message(partition_key_index: int, data: bytes) -> bytes:
    """Encode one ``Record`` message (partition key index + data, no hash key, no tags)."""
    return b"\x08" + _varint(partition_key_index) + b"\x1a" + _varint(len(data)) + data


# --- public API ----------------------------------------------------------------------------


def is_aggregated(data: bytes) -> bool:
    """Tell whether ``data`` starts like a KPL aggregated record (magic prefix, room for a digest).

    Args:
        data: A Kinesis record's data.

    Returns:
        True when the data carries the aggregation magic and is long enough to hold the MD5
        trailer. The digest itself is checked by :func:`deaggregate`.
    """
    return len(data) > AGGREGATION_OVERHEAD_BYTES and data[:4] == AGGREGATION_MAGIC


def aggregated_size(records: Iterable[tuple[str, bytes]]) -> int:
    """Exact size in bytes of ``aggregate_records(records)`` without building it.

    Args:
        records: ``(partition_key, data)`` pairs, in order.

    Returns:
        The number of bytes the aggregated record's data would have.
    """
    keys: dict[str, int] = {}
    size = AGGREGATION_OVERHEAD_BYTES
    for partition_key, data in records:
        index = keys.get(partition_key)
        if index is None:
            index = keys[partition_key] = len(keys)
            encoded_key_len = len(partition_key.encode("utf-8"))
            size += 1 + _varint_len(encoded_key_len) + encoded_key_len
        size += user_record_size(index, len(data))
    return size


def aggregate_records(records: Sequence[tuple[str, bytes]]) -> bytes:
    """Pack user records into one KPL-format aggregated record.

    The partition key table holds each distinct key once, in first-seen order. The Kinesis
    record that carries the result should use the first record's partition key (what the KPL
    does); all of its user records then land on that key's shard. The producer in this package
    only aggregates records that share one partition key, so shard placement and per-key order
    are exactly those of the un-aggregated records.

    Args:
        records: ``(partition_key, data)`` pairs, in order; at least one.

    Returns:
        ``magic || AggregatedRecord || md5(AggregatedRecord)``.

    Raises:
        ValueError: When ``records`` is empty.
    """
    if not records:
        raise ValueError("aggregate_records needs at least one record")
    keys: dict[str, int] = {}
    key_table: list[bytes] = []
    bodies: list[bytes] = []
    for partition_key, data in records:
        index = keys.get(partition_key)
        if index is None:
            index = keys[partition_key] = len(keys)
            key_table.append(_length_delimited(0x0A, partition_key.encode("utf-8")))
        bodies.append(_length_delimited(0x1A, _record_message(index, bytes(data))))
    message = b"".join(key_table) + b"".join(bodies)
    return AGGREGATION_MAGIC + message + hashlib.md5(message).digest()  # noqa: S324 - format checksum, not security


def _parse_aggregated(message: bytes, default_partition_key: str) -> list[tuple[str, bytes]]:
    """Parse an ``AggregatedRecord`` protobuf message into (partition_key, data) pairs."""
    end = len(message)
    pos = 0
    key_table: list[str] = []
    raw_records: list[tuple[int, bytes]] = []
    while pos < end:
        tag, pos = _read_varint(message, pos, end)
        field, wire_type = tag >> 3, tag & 7
        if field in (1, 2, 3) and wire_type == 2:
            length, pos = _read_varint(message, pos, end)
            stop = pos + length
            if stop > end:
                raise ValueError("truncated field")
            if field == 1:
                key_table.append(message[pos:stop].decode("utf-8"))
            elif field == 3:
                raw_records.append(_parse_record(message, pos, stop))
            pos = stop  # field 2 (explicit hash keys) is not needed to read the data
        else:
            pos = _skip_field(message, pos, end, wire_type)
    out: list[tuple[str, bytes]] = []
    for key_index, data in raw_records:
        if key_index >= len(key_table):
            if key_table:
                raise ValueError(f"partition key index {key_index} outside the key table")
            out.append((default_partition_key, data))
        else:
            out.append((key_table[key_index], data))
    return out


def _parse_record(buf: bytes, pos: int, end: int) -> tuple[int, bytes]:
    key_index = -1
    data: bytes | None = None
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        field, wire_type = tag >> 3, tag & 7
        if field == 1 and wire_type == 0:
            key_index, pos = _read_varint(buf, pos, end)
        elif field == 3 and wire_type == 2:
            length, pos = _read_varint(buf, pos, end)
            if pos + length > end:
                raise ValueError("truncated data")
            data = buf[pos : pos + length]
            pos += length
        else:
            pos = _skip_field(buf, pos, end, wire_type)
    if key_index < 0 or data is None:
        raise ValueError("record without partition_key_index or data")
    return key_index, data


def deaggregate(data: bytes, partition_key: str) -> list[tuple[str, bytes]]:
    """Split a Kinesis record into its user records.

    Args:
        data: The Kinesis record's data (already base64-decoded).
        partition_key: The Kinesis record's partition key (used for non-aggregated data).

    Returns:
        ``[(partition_key, data), ...]`` in the order the producer added them. Data that is not
        a valid aggregated record (no magic, MD5 mismatch, unparsable protobuf) comes back as
        the single pair ``[(partition_key, data)]``, as the KCL does.
    """
    if not is_aggregated(data):
        return [(partition_key, data)]
    message = data[4:-_DIGEST_BYTES]
    if hashlib.md5(message).digest() != data[-_DIGEST_BYTES:]:  # noqa: S324 - format checksum
        return [(partition_key, data)]
    try:
        records = _parse_aggregated(message, partition_key)
    except (ValueError, UnicodeDecodeError):
        return [(partition_key, data)]
    return records
