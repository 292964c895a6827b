"""Records read from a stream, the Lambda event shapes built from them, and time parsing.

The record type, the event shapes and their strict decoder live in the runtime
(:mod:`event_pipeline_runtime.lambda_events`), the one implementation the consumer, the tools
and the local runner share; they are re-exported here under their old names.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from event_pipeline_runtime.contract import MAX_PARTITION_KEY_CHARS
from event_pipeline_runtime.lambda_events import (
    DYNAMODB_EVENT_VERSION,
    EVENT_VERSION,
    KINESIS_SCHEMA_VERSION,
    SEQUENCE_NUMBER,
    SourceRecord,
    dynamodb_event_record,
    jsonable,
    kinesis_event_record,
    lambda_event,
    record_from_lambda_event,
    short,
    strict_b64decode,
)

__all__ = [
    "DYNAMODB_EVENT_VERSION",
    "EVENT_VERSION",
    "KINESIS_SCHEMA_VERSION",
    "MAX_PARTITION_KEY_CHARS",
    "SEQUENCE_NUMBER",
    "SourceRecord",
    "dynamodb_event_record",
    "jsonable",
    "kinesis_event_record",
    "lambda_event",
    "parse_time",
    "record_from_lambda_event",
    "short",
    "strict_b64decode",
]

_RELATIVE = re.compile(r"-?([0-9]{1,12}(?:\.[0-9]{1,9})?)\s*([smhdw])", re.ASCII)
_EPOCH = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The widest span a relative time may name (keeps ``timedelta`` far from its limits).
_MAX_RELATIVE_SECONDS = 100 * 365 * 86400


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """Parse a ``--from`` / ``--to`` value (the range is checked by the caller).

    Accepted: ISO 8601 (``2024-05-01T12:00:00Z``, an offset, or naive = UTC), Unix epoch
    seconds (``1714564800`` or with a fraction, ASCII digits only: no sign, exponent, ``inf``
    or ``nan``), or a duration ago (``15m``, ``-2h``, ``1d``; units s, m, h, d, w).

    Args:
        text: The value.
        now: "Now" for relative values (default: the current time).

    Returns:
        An aware UTC datetime.

    Raises:
        ValueError: Not a recognised time, or not representable (every overflow is
            reported as a ValueError).
    """
    value = text.strip()
    match = _RELATIVE.fullmatch(value)
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if not math.isfinite(seconds) or seconds > _MAX_RELATIVE_SECONDS:
            raise ValueError(f"{short(text)} is more than 100 years ago")
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    if _EPOCH.fullmatch(value):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"epoch seconds out of range: {short(text)}") from exc
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(
            f"not a time: {short(text)} (use ISO 8601, epoch seconds, or a duration ago like 2h)"
        ) from exc
