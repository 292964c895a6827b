"""The order pipeline's shared model: the ``order.placed`` schema, its validation and the
idempotency key, used by both the inventory updater and the fraud detector (one code
directory, two functions).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from event_pipeline_runtime import ConsumerRecord

ORDER_PLACED = "order.placed"


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


def idempotency_key(record: ConsumerRecord) -> str:
    """``"<type>#<default key>"``: envelope ids of different event types never collide.

    Args:
        record: The decoded record.

    Returns:
        The idempotency key.
    """
    return f"{record.type or '-'}#{record.idempotency_key}"


def require_env(name: str, who: str) -> str:
    """The value of environment variable ``name``; raise naming it and ``who`` needs it."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required by the {who}")
    return value
