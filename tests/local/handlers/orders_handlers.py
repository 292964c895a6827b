"""Order-pipeline consumers for the 10,000-record scenario (inventory and fraud).

Built on the runtime library's ``pipeline_handler`` with idempotency on a DynamoDB table
(``IDEMPOTENCY_TABLE_NAME`` from the template). An order whose ``quantity`` is not an integer
is malformed: both consumers reject it until ``FIXED`` is set (the "fix" that the redrive
then delivers to). ``APPLIED`` counts applications per order id, to check exactly-once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from event_pipeline_runtime import ConsumerRecord, pipeline_handler

APPLIED: Counter[str] = Counter()
FIXED = False
WORDS = {"one": 1, "two": 2, "three": 3}


def _apply(record: ConsumerRecord) -> None:
    order = record.data
    quantity = order["quantity"]
    if not isinstance(quantity, int):
        if not FIXED:
            raise ValueError(f"order {order['order_id']}: quantity {quantity!r} is not an integer")
        quantity = WORDS[str(quantity)]  # the fix: spelled-out quantities are accepted
    APPLIED[order["order_id"]] += 1


handler = pipeline_handler(_apply, source="kinesis")


def set_fixed(value: bool) -> None:
    """Deploy (or roll back) the fix."""
    global FIXED  # noqa: PLW0603 - test switch
    FIXED = value
