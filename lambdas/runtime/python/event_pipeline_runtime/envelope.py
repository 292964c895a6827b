"""The versioned event envelope every producer in the pipeline writes.

An envelope is a JSON object::

    {"type": "order.created", "version": 1, "id": "3f0c...", "at": "2026-11-22T02:00:00.000Z",
     "data": {...}}

* ``type`` names the event; ``version`` is the schema version of ``data`` for that type, so a
  consumer can refuse (and report) a version it does not understand instead of misreading it.
* ``id`` is unique per event and is the default idempotency key on the consumer side: a record
  re-sent by a producer retry keeps its ``id`` and is applied once.
* ``at`` is the UTC time the event was made, ISO-8601 with a ``Z`` suffix.

Unknown extra top-level fields are kept (in :attr:`Envelope.body`), so the format can grow
without a version bump.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["ENVELOPE_VERSION", "Envelope", "make_envelope", "parse_envelope", "utc_now_iso"]

ENVELOPE_VERSION = 1
"""The envelope version this runtime writes by default."""


def utc_now_iso() -> str:
    """Return the current UTC time as ISO-8601 with millisecond precision and a ``Z`` suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_envelope(
    type: str,  # noqa: A002 - the envelope field is called "type"
    data: Any,
    *,
    id: str | None = None,  # noqa: A002 - the envelope field is called "id"
    at: str | None = None,
    version: int = ENVELOPE_VERSION,
) -> dict[str, Any]:
    """Build an envelope dict.

    Args:
        type: Event type, e.g. ``"order.created"``; a non-empty string.
        data: The event payload (anything JSON-serialisable).
        id: Unique event id. Default: a new ``uuid4().hex``.
        at: Event time. Default: now, UTC, ISO-8601 with ``Z``.
        version: Schema version of ``data``. Default: ``ENVELOPE_VERSION`` (1).

    Returns:
        ``{"type", "version", "id", "at", "data"}``.

    Raises:
        ValueError: When ``type`` or ``id`` is empty or not a string, or ``version`` is not an int.
    """
    if not isinstance(type, str) or not type:
        raise ValueError(f"envelope type must be a non-empty string (given {type!r})")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"envelope version must be an int (given {version!r})")
    if id is None:
        id = uuid.uuid4().hex  # noqa: A001
    elif not isinstance(id, str) or not id:
        raise ValueError(f"envelope id must be a non-empty string (given {id!r})")
    return {
        "type": type,
        "version": version,
        "id": id,
        "at": at if at is not None else utc_now_iso(),
        "data": data,
    }


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope.

    Attributes:
        type: Event type.
        version: Schema version of ``data``.
        id: Unique event id.
        at: Event time as written by the producer (``None`` if absent).
        data: The payload.
        body: The whole decoded JSON object, including any fields this version does not know.
    """

    type: str
    version: int
    id: str
    at: str | None
    data: Any
    body: dict[str, Any]


def parse_envelope(obj: Any) -> Envelope | None:
    """Read an envelope from a decoded JSON value.

    Args:
        obj: Any decoded JSON value.

    Returns:
        An :class:`Envelope` when ``obj`` is a dict with a str ``type``, an int ``version``
        (not a bool) and a str ``id``; otherwise ``None`` (the value is not an envelope).
    """
    if type(obj) is not dict:
        return None
    event_type = obj.get("type")
    version = obj.get("version")
    event_id = obj.get("id")
    if type(event_type) is not str or type(version) is not int or type(event_id) is not str:
        return None
    at = obj.get("at")
    # Hot path (once per consumed record): fill the slots directly instead of calling the
    # frozen dataclass __init__, which does the same through slower per-field calls.
    envelope = _new(Envelope)
    _set(envelope, "type", event_type)
    _set(envelope, "version", version)
    _set(envelope, "id", event_id)
    _set(envelope, "at", at if type(at) is str else None)
    _set(envelope, "data", obj.get("data"))
    _set(envelope, "body", obj)
    return envelope


_new = object.__new__
_set = object.__setattr__
