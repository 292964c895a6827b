"""The order pipeline's shared model: the ``order.placed`` schema, its validation, the
idempotency key and what to do with a record that is not an order, used by both the inventory
updater and the fraud detector (one code directory, two functions).

Which records are orders: exactly those the consumers' event filter lets through, records
whose JSON body has ``"type": "order.placed"``. Such a record must then be a valid envelope
(see ``event_pipeline_runtime.envelope``: ``version`` an integer, ``id`` a non-empty string,
...) holding a valid order; if it is not, the record **fails** (``EnvelopeError`` /
:class:`MalformedOrderError`), so it is retried, bisected and ends in the on-failure
destination with its reason logged. It is never taken for "not an order".

Any other record (only possible when the filter is missing or wrong) is **ignored and
counted**: a WARNING line ``record.ignored`` with the reason and the metric ``RecordIgnored``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from event_pipeline_runtime import ConsumerRecord

ORDER_PLACED = "order.placed"
IGNORED_METRIC = "RecordIgnored"
"""Metric (Count) for a record that is not an ``order.placed`` record."""


class MalformedOrderError(ValueError):
    """An ``order.placed`` event whose data does not match the order schema."""


@dataclass(frozen=True, slots=True)
class Order:
    """A validated ``order.placed`` payload.

    Attributes:
        order_id: The order's id.
        sku: The stock-keeping unit ordered.
        quantity: Units ordered, > 0.
        amount: Order total, finite, >= 0.
        customer_id: Who ordered.
    """

    order_id: str
    sku: str
    quantity: int
    amount: float
    customer_id: str


def parse_order(data: Any) -> Order:
    """Validate an ``order.placed`` payload.

    Args:
        data: The envelope's ``data``.

    Returns:
        The order.

    Raises:
        MalformedOrderError: When a field is missing or invalid (the message names it).
    """
    if not isinstance(data, dict):
        raise MalformedOrderError(f"order data must be an object (given {type(data).__name__})")
    for name in ("order_id", "sku", "customer_id"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedOrderError(f"order {name} must be a non-empty string (given {value!r:.80})")
    quantity = data.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise MalformedOrderError(f"order quantity must be an int > 0 (given {quantity!r:.80})")
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
        raise MalformedOrderError(f"order amount must be a finite number >= 0 (given {amount!r:.80})")
    return Order(data["order_id"], data["sku"], quantity, amount, data["customer_id"])


def is_order_record(record: ConsumerRecord) -> bool:
    """Tell whether the record matches the order filter (``{"data": {"type": ["order.placed"]}}``).

    Args:
        record: The decoded record.

    Returns:
        True when the body is a JSON object whose ``type`` is ``"order.placed"``, valid
        envelope or not.
    """
    body = record.body
    return type(body) is dict and body.get("type") == ORDER_PLACED


def read_order(record: ConsumerRecord) -> Order | None:
    """The record's order, or None when the record is not an order record.

    Args:
        record: The decoded record.

    Returns:
        The validated order; None when :func:`is_order_record` is false.

    Raises:
        EnvelopeError: An order record that is not a valid envelope (e.g. ``version`` ``"1"``
            or ``1.0``, ``id`` missing or a number).
        MalformedOrderError: An order envelope whose data is not a valid order.
    """
    if not is_order_record(record):
        return None
    envelope = record.require_envelope()
    return parse_order(envelope.data)


def ignored_reason(record: ConsumerRecord) -> str:
    """Why a record that is not an order record was ignored (for the ``record.ignored`` line)."""
    if record.envelope is not None:
        return f"event type {record.envelope.type!r} is not {ORDER_PLACED}"
    return f"not an {ORDER_PLACED} record ({record.envelope_error})"


def count_ignored(record: ConsumerRecord, logger: Any, metrics: Any) -> None:
    """Log and count a record that is not an order record (an explicit outcome, not a failure).

    Args:
        record: The record.
        logger: The function's Powertools logger.
        metrics: The function's Powertools metrics.
    """
    logger.warning(
        "record.ignored",
        extra={"outcome": "ignored", "reason": ignored_reason(record), "record": record.where,
               "partition_key": record.partition_key},
    )
    metrics.add_metric(name=IGNORED_METRIC, unit="Count", value=1)


def idempotency_key(record: ConsumerRecord) -> str:
    """``"<type>#<default key>"``: envelope ids of different event types never collide.

    Args:
        record: The decoded record.

    Returns:
        The idempotency key.
    """
    return f"{record.type or '-'}#{record.idempotency_key}"


