"""Inventory updater (order pipeline): decrements stock for every ``order.placed`` event.

Input: runtime envelopes on the Kinesis stream. An ``order.placed`` envelope (version 1) has
``data = {"order_id": str, "sku": str, "quantity": int > 0, "amount": number >= 0,
"customer_id": str}``. The consumer's event filter lets only records whose body has
``"type": "order.placed"`` through. Such a record that is not a valid envelope (``version``
``"1"`` or ``1.0``, ``id`` missing or a number, ...; see ``orders_model``) fails with
``EnvelopeError``. Any other record (e.g. the API's ``item.put`` audit records, which share the
stream, when the filter is missing or wrong) is ignored and counted: a WARNING
``record.ignored`` line with the reason and the metric ``RecordIgnored``.

For an order, one conditional ``UpdateItem`` on the inventory table (partition key ``sku``,
number attribute ``stock``)::

    SET stock = stock - :q   IF stock >= :q

so stock never goes below zero, whatever the concurrency (no overselling). When the
condition fails (not enough stock, or an unknown SKU) the order is **rejected**: a WARNING
``order.rejected`` line (order id, sku, quantity, reason ``insufficient_stock`` /
``unknown_sku``, the stock seen) and the metric ``OrderRejected``. A rejection is a business
outcome, not a processing failure: the record succeeds (retrying would not change the answer
and would hold back the shard), and it is remembered by idempotency, so a redelivery does not
re-judge it after a restock. Acting on rejections (cancel, notify) belongs downstream.

A malformed order (data not an object; ``sku``, ``order_id`` or ``customer_id`` missing or not a
non-empty string; ``quantity`` not an int or <= 0; ``amount`` not a finite number >= 0) raises
:class:`MalformedOrderError`: the record is reported failed, retried and bisected by the
mapping, and ends in the on-failure destination. So does any DynamoDB error other than the
failed condition.

Idempotency: on (the runtime's, keyed by the envelope ``id``, scoped by event type: the key is
``"<type>#<envelope id>"``, because the API's ``item.put`` records carry the item id as their
envelope id, which a caller chooses). The same order delivered twice decrements once.

The function needs exactly ``dynamodb:UpdateItem`` on ``INVENTORY_TABLE_NAME`` plus the
idempotency table actions the runtime uses (``PutItem``, ``UpdateItem``, ``DeleteItem``).

Environment: ``INVENTORY_TABLE_NAME`` and ``IDEMPOTENCY_TABLE_NAME`` (both required).

Metrics: ``OrderApplied``, ``OrderRejected``, ``RecordIgnored``, ``DuplicateRecordSkipped`` (the
runtime's: a redelivered record already applied) (Count).
"""

from __future__ import annotations

import warnings
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError

from event_pipeline_runtime import ConsumerRecord, pipeline_handler
from event_pipeline_runtime.contract import IDEMPOTENCY_TABLE_ENV, require_env
from orders_model import Order, count_ignored, idempotency_key, read_order

INVENTORY_TABLE_NAME = require_env("INVENTORY_TABLE_NAME", "inventory updater")
IDEMPOTENCY_TABLE_NAME = require_env(IDEMPOTENCY_TABLE_ENV, "inventory updater")

# A batch with no orders (only other event types) emits no metric; Powertools would warn.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
dynamodb = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))


def reserve_stock(order: Order) -> bool:
    """Decrement the SKU's stock by the order's quantity unless that would go below zero.

    Args:
        order: A validated order.

    Returns:
        True when the stock was decremented, False when the order was rejected.

    Raises:
        botocore.exceptions.ClientError: Any DynamoDB error but the failed condition.
    """
    try:
        dynamodb.update_item(
            TableName=INVENTORY_TABLE_NAME,
            Key={"sku": {"S": order.sku}},
            UpdateExpression="SET #stock = #stock - :q",
            ConditionExpression="#stock >= :q",
            ExpressionAttributeNames={"#stock": "stock"},
            ExpressionAttributeValues={":q": {"N": str(order.quantity)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        current = exc.response.get("Item")
        stock = current.get("stock", {}).get("N") if current else None
        logger.warning(
            "order.rejected",
            extra={
                "order_id": order.order_id,
                "sku": order.sku,
                "quantity": order.quantity,
                "stock": int(stock) if stock is not None and stock.lstrip("-").isdigit() else stock,
                "reason": "unknown_sku" if current is None else "insufficient_stock",
            },
        )
        metrics.add_metric(name="OrderRejected", unit=MetricUnit.Count, value=1)
        return False
    metrics.add_metric(name="OrderApplied", unit=MetricUnit.Count, value=1)
    logger.info("order.applied", extra={"order_id": order.order_id, "sku": order.sku, "quantity": order.quantity})
    return True


@tracer.capture_method
def process(record: ConsumerRecord) -> None:
    """Apply one stream record: reserve stock for orders; anything else is ignored and counted.

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
    reserve_stock(order)


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
