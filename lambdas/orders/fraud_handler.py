"""Fraud detector (order pipeline): flags suspicious ``order.placed`` events.

Rule (deliberately simple, documented, and the same for every order): an order is
**suspicious** when ``amount >= AMOUNT_THRESHOLD`` (5000) **or** ``quantity >
QUANTITY_THRESHOLD`` (20). A suspicious order gives one WARNING line whose message is
``fraud.suspected`` with the fields ``order_id``, ``customer_id``, ``sku``, ``quantity``,
``amount`` and ``reasons`` (``["amount>=5000"]``, ``["quantity>20"]`` or both), and the metric
``FraudSuspected``. The detector only reports: it does not block the order.

Which records are orders, and what happens to the others, is shared with the inventory
updater (``orders_model``): a record whose body has ``"type": "order.placed"`` (what the event
filter matches) must be a valid envelope (integer ``version``, non-empty string ``id``, ...)
holding a valid order (``order_id``/``sku``/``customer_id`` non-empty strings, ``quantity`` an
int > 0, ``amount`` a finite number >= 0), else it raises (``EnvelopeError`` /
``MalformedOrderError``): the record is reported failed and ends in the on-failure destination
after the mapping's retries and bisection. Any other record (only with a missing or wrong
filter) is ignored and counted: WARNING ``record.ignored`` with the reason, metric
``RecordIgnored``. A redelivered record already applied is skipped and counted by the runtime
(``DuplicateRecordSkipped``).

Idempotency: on (the runtime's, key ``"<type>#<envelope id>"``, see the inventory updater), so a
redelivered order is not reported twice.

No AWS calls besides the runtime's idempotency table (``PutItem``, ``UpdateItem``,
``DeleteItem``).

Environment: ``IDEMPOTENCY_TABLE_NAME`` (required).

Metrics: ``OrderScreened``, ``FraudSuspected``, ``RecordIgnored``, ``DuplicateRecordSkipped``
(Count).
"""

from __future__ import annotations

import warnings
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from event_pipeline_runtime import ConsumerRecord, pipeline_handler
from event_pipeline_runtime.contract import IDEMPOTENCY_TABLE_ENV, require_env
from orders_model import Order, count_ignored, idempotency_key, read_order

AMOUNT_THRESHOLD = 5000
"""Orders of at least this amount are suspicious."""
QUANTITY_THRESHOLD = 20
"""Orders of more than this many units are suspicious."""


def fraud_reasons(order: Order) -> list[str]:
    """Apply the rule.

    Args:
        order: A validated order.

    Returns:
        Why the order is suspicious; empty when it is not.
    """
    reasons = []
    if order.amount >= AMOUNT_THRESHOLD:
        reasons.append(f"amount>={AMOUNT_THRESHOLD}")
    if order.quantity > QUANTITY_THRESHOLD:
        reasons.append(f"quantity>{QUANTITY_THRESHOLD}")
    return reasons


IDEMPOTENCY_TABLE_NAME = require_env(IDEMPOTENCY_TABLE_ENV, "fraud detector")

# A batch with no orders (only other event types) emits no metric; Powertools would warn.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
dynamodb = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))


@tracer.capture_method
def process(record: ConsumerRecord) -> None:
    """Screen one stream record: orders are checked, anything else is ignored and counted.

    Args:
        record: The decoded Kinesis user record.

    Raises:
        EnvelopeError: An ``order.placed`` record that is not a valid envelope.
        MalformedOrderError: An ``order.placed`` with invalid data.
    """
    order = read_order(record)
    if order is None:
        count_ignored(record, logger, metrics)
        return
    metrics.add_metric(name="OrderScreened", unit=MetricUnit.Count, value=1)
    reasons = fraud_reasons(order)
    if not reasons:
        return
    logger.warning(
        "fraud.suspected",
        extra={
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "sku": order.sku,
            "quantity": order.quantity,
            "amount": order.amount,
            "reasons": reasons,
            "event_id": record.envelope.id if record.envelope is not None else None,
        },
    )
    metrics.add_metric(name="FraudSuspected", unit=MetricUnit.Count, value=1)


_process_batch = pipeline_handler(
    process,
    source="kinesis",
    idempotent=True,
    idempotency_table_name=IDEMPOTENCY_TABLE_NAME,
    idempotency_key=idempotency_key,
    dynamodb_client=dynamodb,
    logger=logger,
    metrics=metrics,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the Kinesis event source.

    Args:
        event: Kinesis event.
        context: Lambda context.

    Returns:
        ``{"batchItemFailures": [{"itemIdentifier": <sequenceNumber>}, ...]}``.
    """
    return _process_batch(event, context)
