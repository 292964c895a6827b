"""Payload encoding shared by producers, consumers and the command-line tools.

Wire format of one user record: compact JSON (UTF-8), optionally gzip-compressed. A reader
needs no flag to know which: gzip data starts with the magic bytes ``1f 8b``, which no JSON
text can start with. Kinesis records may additionally be KPL-aggregated
(:mod:`event_pipeline_runtime.aggregation`); :func:`decode_record_data` undoes both layers.

**Decoding is bounded.** A few KiB of gzip can inflate to gigabytes, and parsing JSON text of
N bytes can allocate far more than N: ``[[[]]]``-style nesting costs ~48 bytes of Python
objects per byte of text (measured, Python 3.11; ``[[],[],...]`` ~25x, plain strings ~1x).
So one record may decode to at most ``max_decompressed_bytes`` bytes of JSON text (for a KPL
aggregate: all of its user records together), whether it was compressed or not. Gzip is
inflated in chunks and abandoned as soon as the output passes the limit, so a bomb never
costs more than the limit plus one chunk. A record over the limit raises :class:`DecodeError`
(the consumer then fails that record alone, with the reason logged).

The limit (:func:`default_max_decompressed_bytes`) is, in order: the ``max_decompressed_bytes``
argument; env ``EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES`` (a positive integer, in bytes);
inside Lambda, derived from the function's memory (env ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, in
MB): ``(memory - 64 MB) / 128``, at least 1 MiB (1 MiB up to 192 MB, 1.5 MiB at 256 MB,
7.5 MiB at 1,024 MB). The worst record accepted then costs ~48x the limit on top of the
~70 MB a handler with boto3 and Powertools starts with: about 55% of a 256 MB function
(measured, ``docs/benchmarks.md``); the 1 MiB floor is what a plain (uncompressed) record of a
stream's default maximum size may cost anyway. Outside Lambda (the command-line tools): 64 MiB.

Deeply nested JSON that Python's parser refuses (``RecursionError``) and the non-JSON constants
``NaN``, ``Infinity`` and ``-Infinity`` (which Python's parser accepts by default) are a
:class:`DecodeError` too.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from event_pipeline_runtime.aggregation import AGGREGATION_MAGIC, deaggregate
from event_pipeline_runtime.contract import MAX_DECOMPRESSED_BYTES_ENV
from event_pipeline_runtime.envelope import Envelope, parse_envelope

__all__ = [
    "GZIP_MAGIC",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_DECOMPRESSED_BYTES_ENV",
    "DecodeError",
    "DecodeLimitError",
    "DecodedRecord",
    "decode_payload",
    "decode_record_data",
    "default_max_decompressed_bytes",
    "encode_payload",
]

GZIP_MAGIC = b"\x1f\x8b"
"""First two bytes of every gzip stream."""

MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
"""The decode limit outside Lambda (the command-line tools), when nothing else sets one."""

MEMORY_RESERVED_MB = 64
"""Memory left to the interpreter, Powertools, boto3 and the event when deriving the limit."""
MEMORY_DIVISOR = 128
"""The limit is (memory - reserved) / this: the worst JSON costs ~48x its text (see above), so
the worst accepted record stays near half of the function's memory (``docs/benchmarks.md``)."""
MIN_DERIVED_LIMIT_BYTES = 1024 * 1024
"""The derived limit never goes below 1 MiB, a stream's default maximum record size."""

_INFLATE_CHUNK = 256 * 1024  # output bytes per inflate step: the overshoot past the limit
_GZIP_LEVEL = 6  # zlib's default trade-off; level 9 costs ~2x the CPU for ~1% less size on JSON.



def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or infinities)")


decode_json_text = json.JSONDecoder(parse_constant=_refuse_constant).decode
"""``json.loads`` for ``str`` input, minus its wrapper, refusing ``NaN``/``Infinity``/``-Infinity``
(Python's parser accepts them by default; producers here never write them)."""
_decode_json = decode_json_text
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class DecodeError(ValueError):
    """A record's data is not (gzip-compressed) UTF-8 JSON, or decodes beyond the limit."""


class DecodeLimitError(DecodeError):
    """A record decodes to more JSON text than ``max_decompressed_bytes`` allows."""


def default_max_decompressed_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The decode limit in force (see the module docstring).

    Args:
        environ: Environment to read. Default: ``os.environ``.

    Returns:
        The most bytes of JSON text one record may decode to.

    Raises:
        ValueError: When ``EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES`` or
            ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` is set but not a positive integer.
    """
    env = os.environ if environ is None else environ
    configured = env.get(MAX_DECOMPRESSED_BYTES_ENV)
    if configured:
        return _positive_int(MAX_DECOMPRESSED_BYTES_ENV, configured)
    memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if memory:
        memory_mb = _positive_int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
        derived = (memory_mb - MEMORY_RESERVED_MB) * 1024 * 1024 // MEMORY_DIVISOR
        return max(MIN_DERIVED_LIMIT_BYTES, derived)
    return MAX_DECOMPRESSED_BYTES


def check_max_decompressed_bytes(value: int) -> int:
    """Return ``value`` when it is a valid limit (an int >= 1), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_decompressed_bytes must be an integer >= 1 (given {value!r})")
    return value


def _positive_int(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"environment variable {name} must be a positive integer (given {text!r:.40})")
    return value


def _resolve_limit(limit: int | None) -> int:
    return default_max_decompressed_bytes() if limit is None else check_max_decompressed_bytes(limit)


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


def _gunzip(data: bytes, limit: int, whole_limit: int | None = None) -> bytearray:
    """Inflate every gzip member of ``data`` into one buffer, refusing more than ``limit`` bytes.

    Output is produced ``_INFLATE_CHUNK`` bytes at a time, so a bomb costs at most
    ``limit + _INFLATE_CHUNK`` bytes before it is refused.
    """
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        pending = rest
        while True:
            chunk = inflater.decompress(pending, _INFLATE_CHUNK)
            out += chunk
            if len(out) > limit:
                raise DecodeLimitError(f"gzip payload inflates {_beyond(limit, whole_limit)}")
            if inflater.eof:
                break
            pending = inflater.unconsumed_tail
            if not pending and not chunk:
                raise DecodeError("truncated gzip payload")
        rest = inflater.unused_data
        if rest and rest[:2] != GZIP_MAGIC:
            break  # trailing garbage after the last member: ignore it, as gzip(1) does
    return out


def _parse_text(data: bytes | bytearray, what: str) -> Any:
    """Parse UTF-8 JSON bytes; every failure becomes a :class:`DecodeError` naming ``what``."""
    try:
        return _decode_json(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        raise DecodeError(f"{what} is not UTF-8 JSON ({len(data)} bytes): {exc}") from exc
    except RecursionError as exc:
        raise DecodeError(f"{what} is JSON nested too deeply to parse ({len(data)} bytes)") from exc


def _over_limit(what: str, size: int, budget: int, limit: int | None = None) -> DecodeLimitError:
    return DecodeLimitError(f"{what} is {size} bytes of JSON text, {_beyond(budget, limit)}")


def _beyond(budget: int, limit: int | None) -> str:
    """``over the limit of N bytes (...)``, or what was left of it for a KPL user record."""
    where = f"set by {MAX_DECOMPRESSED_BYTES_ENV} or the function's memory"
    if limit is None or limit == budget:
        return f"over the limit of {budget} bytes ({where})"
    return (
        f"over the {budget} bytes left of the limit of {limit} bytes that the aggregate's "
        f"user records share ({where})"
    )


def _decode_bounded(data: bytes, budget: int, limit: int | None = None) -> tuple[Any, int]:
    """Decode one payload within ``budget`` bytes of JSON text; return (value, bytes of text).

    ``limit`` is the whole limit when ``budget`` is what is left of it (KPL user records).
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytearray, memoryview)):
            raise DecodeError(f"payload must be bytes (given {type(data).__name__})")
        data = bytes(data)
    if data[:2] == GZIP_MAGIC:
        try:
            text = _gunzip(data, budget, limit)
        except zlib.error as exc:
            raise DecodeError(f"invalid gzip payload: {exc}") from exc
        return _parse_text(text, "payload (after gzip)"), len(text)
    if len(data) > budget:
        raise _over_limit("payload", len(data), budget, limit)
    return _parse_text(data, "payload"), len(data)


def decode_payload(data: bytes, *, max_decompressed_bytes: int | None = None) -> Any:
    """Decode one payload: gunzip when it starts with ``1f 8b``, then parse JSON.

    Args:
        data: Payload bytes.
        max_decompressed_bytes: The most bytes of JSON text the payload may decode to (after
            gzip, or as given when not compressed). Default:
            :func:`default_max_decompressed_bytes`.

    Returns:
        The decoded JSON value.

    Raises:
        DecodeError: When the data is empty, a broken or truncated gzip stream, over the
            limit, not UTF-8, not JSON, or nested too deeply.
        ValueError: When ``max_decompressed_bytes`` is not an integer >= 1.
    """
    return _decode_bounded(data, _resolve_limit(max_decompressed_bytes))[0]


def decode_record_data(
    data: bytes, partition_key: str, *, max_decompressed_bytes: int | None = None
) -> list[DecodedRecord]:
    """Decode a Kinesis record's data into its user records.

    De-aggregates KPL records first, then decodes every user record with
    :func:`decode_payload` and reads its envelope.

    Args:
        data: The Kinesis record's data (base64-decoded).
        partition_key: The Kinesis record's partition key.
        max_decompressed_bytes: The most bytes of JSON text the record may decode to, all of
            its user records together. Default: :func:`default_max_decompressed_bytes`.

    Returns:
        One :class:`DecodedRecord` per user record, in order.

    Raises:
        DecodeError: When any user record cannot be decoded, the record decodes beyond the
            limit, or an aggregated record holds no user record (nothing is returned then,
            so a caller never acts on part of a broken aggregate).
        ValueError: When ``max_decompressed_bytes`` is not an integer >= 1.
    """
    budget = _resolve_limit(max_decompressed_bytes)
    if data[:4] != AGGREGATION_MAGIC:
        body = _decode_bounded(data, budget)[0]
        return [DecodedRecord(partition_key, body, parse_envelope(body), None)]
    parts = deaggregate(data, partition_key)
    if len(parts) == 1 and parts[0][1] is data:  # magic prefix but not a valid aggregate
        body = _decode_bounded(data, budget)[0]
        return [DecodedRecord(partition_key, body, parse_envelope(body), None)]
    if not parts:
        raise DecodeError("aggregated record holds no user records")
    out: list[DecodedRecord] = []
    left = budget
    for index, (key, payload) in enumerate(parts):
        try:
            body, used = _decode_bounded(payload, left, budget)
        except DecodeLimitError as exc:
            raise DecodeLimitError(f"user record {index} of an aggregated record: {exc}") from exc
        except DecodeError as exc:
            raise DecodeError(f"user record {index} of an aggregated record: {exc}") from exc
        left -= used
        out.append(DecodedRecord(key, body, parse_envelope(body), index))
    return out
