"""The versioned event envelope every producer in the pipeline writes.

An envelope is a JSON object::

    {"type": "order.created", "version": 1, "id": "3f0c...", "at": "2026-11-22T02:00:00.000Z",
     "data": {...}}

* ``type`` names the event; ``version`` is the schema version of ``data`` for that type, so a
  consumer can refuse (and report) a version it does not understand instead of misreading it.
* ``id`` is unique per event and is the default idempotency key on the consumer side: a record
  re-sent by a producer retry keeps its ``id`` and is applied once.
* ``at`` is the UTC time the event was made, ISO-8601 with a ``Z`` suffix.
* ``hops`` (optional) counts how many times the event was produced again from inside a
  consumer invocation: a consumer that writes an event while it processes one writes it with
  the processed event's ``hops`` + 1 (:class:`~event_pipeline_runtime.EventProducer` does this
  by itself inside :func:`~event_pipeline_runtime.pipeline_handler`). Absent means 0, and the
  producer leaves it out at 0, so envelopes of first-hand producers are unchanged. A consumer
  refuses (fails) a record whose ``hops`` is over its limit: the recursion guard for Kinesis and
  DynamoDB Streams, which AWS's recursive loop detection does not cover.

Unknown extra top-level fields are kept (in :attr:`Envelope.body`), so the format can grow
without a version bump.

**Accepted shape** (anything else is *not* an envelope, and :func:`envelope_error` says why):

==========  =================================================================================
field       accepted
==========  =================================================================================
``type``    a non-empty string
``version`` an integer; not a bool (``true``), not a float (``1.0``), not a string (``"1"``)
``id``      a non-empty string (a number is refused, not converted)
``at``      optional: absent, ``null`` or a string
``data``    any JSON value (absent reads as ``None``)
``hops``    optional: absent (0) or a non-negative integer (not ``true``, ``1.0`` or ``"1"``)
==========  =================================================================================

The body must be a JSON object. Nothing is coerced: ``"version": "1"``, ``"id": 42`` or ``"hops": -1`` are
mistakes of a producer, and reading them as version 1 / id ``"42"`` would hide the mistake.

Two ways to read one:

* :func:`parse_envelope` returns ``None`` for a value that is not an envelope. Use it where a
  non-envelope is a legitimate input (the audit consumer logs any JSON).
* :func:`read_envelope` raises :class:`EnvelopeError`, whose message names the field, the value
  and the rule. Use it wherever a record *must* be an envelope: a record that was meant to be
  one but is malformed then fails (and reaches the DLQ with its reason) instead of passing as
  "not an envelope". The consumer exposes the same through
  :attr:`~event_pipeline_runtime.consumer.ConsumerRecord.envelope_error` and
  :meth:`~event_pipeline_runtime.consumer.ConsumerRecord.require_envelope`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from event_pipeline_runtime.contract import MAX_HOPS_LIMIT

__all__ = [
    "ENVELOPE_VERSION",
    "MAX_HOPS_LIMIT",
    "Envelope",
    "EnvelopeError",
    "envelope_error",
    "make_envelope",
    "parse_envelope",
    "read_envelope",
    "utc_now_iso",
]

ENVELOPE_VERSION = 1
"""The envelope version this runtime writes by default."""



class EnvelopeError(ValueError):
    """A value is not a valid envelope; the message says which field breaks which rule."""


def utc_now_iso() -> str:
    """Return the current UTC time as ISO-8601 with millisecond precision and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_envelope(
    type: str,  # noqa: A002 - the envelope field is called "type"
    data: Any,
    *,
    id: str | None = None,  # noqa: A002 - the envelope field is called "id"
    at: str | None = None,
    version: int = ENVELOPE_VERSION,
    hops: int = 0,
) -> dict[str, Any]:
    """Build an envelope dict.

    Args:
        type: Event type, e.g. ``"order.created"``; a non-empty string.
        data: The event payload (anything JSON-serialisable).
        id: Unique event id. Default: a new ``uuid4().hex``.
        at: Event time. Default: now, UTC, ISO-8601 with ``Z``.
        version: Schema version of ``data``. Default: ``ENVELOPE_VERSION`` (1).
        hops: Times the event was produced again from inside a consumer (see the module
            docstring), 0 to ``MAX_HOPS_LIMIT``. Default: 0 (the field is left out).

    Returns:
        ``{"type", "version", "id", "at", "data"}``, plus ``"hops"`` when it is not 0.

    Raises:
        ValueError: When ``type`` or ``id`` is empty or not a string, ``version`` is not an int,
            ``at`` is not a string, or ``hops`` is not an int in range.
    """
    if not isinstance(type, str) or not type:
        raise ValueError(f"envelope type must be a non-empty string (given {type!r})")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"envelope version must be an int (given {version!r})")
    if id is None:
        id = uuid.uuid4().hex  # noqa: A001
    elif not isinstance(id, str) or not id:
        raise ValueError(f"envelope id must be a non-empty string (given {id!r})")
    if at is not None and not isinstance(at, str):
        raise ValueError(f"envelope at must be a string (given {at!r})")
    if type_of(hops) is not int or not 0 <= hops <= MAX_HOPS_LIMIT:
        raise ValueError(f"envelope hops must be an int between 0 and {MAX_HOPS_LIMIT} (given {hops!r})")
    envelope = {
        "type": type,
        "version": version,
        "id": id,
        "at": at if at is not None else utc_now_iso(),
        "data": data,
    }
    if hops:
        envelope["hops"] = hops
    return envelope


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
        hops: Times the event was produced again from inside a consumer (0 when absent).
    """

    type: str
    version: int
    id: str
    at: str | None
    data: Any
    body: dict[str, Any]
    hops: int = 0


def parse_envelope(obj: Any) -> Envelope | None:
    """Read an envelope from a decoded JSON value, or ``None`` when it is not one.

    Args:
        obj: Any decoded JSON value.

    Returns:
        An :class:`Envelope` when ``obj`` has the accepted shape (see the module docstring);
        otherwise ``None``. :func:`envelope_error` tells why a value is not an envelope.
    """
    if type(obj) is not dict:
        return None
    event_type = obj.get("type")
    version = obj.get("version")
    event_id = obj.get("id")
    # Exact type checks: bool is an int subclass and must not pass as a version.
    if type(event_type) is not str or type(version) is not int or type(event_id) is not str:
        return None
    if not event_type or not event_id:
        return None
    at = obj.get("at")
    if at is not None and type(at) is not str:
        return None
    hops = obj.get("hops", 0)
    if type(hops) is not int or not 0 <= hops <= MAX_HOPS_LIMIT:
        return None
    # Hot path (once per consumed record): fill the slots directly instead of calling the
    # frozen dataclass __init__, which does the same through slower per-field calls.
    envelope = _new(Envelope)
    _set(envelope, "type", event_type)
    _set(envelope, "version", version)
    _set(envelope, "id", event_id)
    _set(envelope, "at", at)
    _set(envelope, "data", obj.get("data"))
    _set(envelope, "body", obj)
    _set(envelope, "hops", hops)
    return envelope


def _describe(value: Any) -> str:
    """``'1' (str)``: a short repr and the JSON-ish type name, for error messages."""
    return f"{value!r:.60} ({type(value).__name__})"


def envelope_error(obj: Any) -> str | None:
    """Say why ``obj`` is not an envelope.

    Args:
        obj: Any decoded JSON value.

    Returns:
        ``None`` when ``obj`` is a valid envelope (exactly when :func:`parse_envelope` returns
        one); otherwise the first broken rule, e.g. ``"envelope version must be an integer
        (given '1' (str))"``.
    """
    if type(obj) is not dict:
        return f"an envelope must be a JSON object (given a {type(obj).__name__})"
    event_type = obj.get("type", _MISSING)
    if type(event_type) is not str or not event_type:
        return "envelope type is missing" if event_type is _MISSING else (
            f"envelope type must be a non-empty string (given {_describe(event_type)})"
        )
    version = obj.get("version", _MISSING)
    if type(version) is not int:
        return "envelope version is missing" if version is _MISSING else (
            f"envelope version must be an integer (given {_describe(version)})"
        )
    event_id = obj.get("id", _MISSING)
    if type(event_id) is not str or not event_id:
        return "envelope id is missing" if event_id is _MISSING else (
            f"envelope id must be a non-empty string (given {_describe(event_id)})"
        )
    at = obj.get("at")
    if at is not None and type(at) is not str:
        return f"envelope at must be a string or null (given {_describe(at)})"
    hops = obj.get("hops", 0)
    if type(hops) is not int or not 0 <= hops <= MAX_HOPS_LIMIT:
        return f"envelope hops must be absent or an integer from 0 to {MAX_HOPS_LIMIT} (given {_describe(hops)})"
    return None


def read_envelope(obj: Any) -> Envelope:
    """Read an envelope from a decoded JSON value, strictly.

    Args:
        obj: Any decoded JSON value.

    Returns:
        The :class:`Envelope`.

    Raises:
        EnvelopeError: When ``obj`` is not a valid envelope; the message is
            :func:`envelope_error`'s reason.
    """
    envelope = parse_envelope(obj)
    if envelope is None:
        raise EnvelopeError(envelope_error(obj) or "not an envelope")
    return envelope


_MISSING: Any = object()
type_of = type  # ``type`` is shadowed by make_envelope's argument
_new = object.__new__
_set = object.__setattr__
