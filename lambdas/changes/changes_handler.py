"""Change consumer on the items table's DynamoDB stream: logs every change.

For each stream record it logs one INFO line, message ``item.changed``, with ``event_name``
(``INSERT`` / ``MODIFY`` / ``REMOVE``), ``keys`` (the item's key, e.g. ``{"id": "k1"}``),
``old_status`` and ``new_status`` (the ``status`` attribute of the old and new images; left
out of the line when the image or the attribute is absent, e.g. ``old_status`` on INSERT,
``new_status`` on REMOVE, both with a ``KEYS_ONLY`` stream: Powertools drops null fields),
``sequence_number`` and ``expired_by_ttl`` (a REMOVE made by DynamoDB's TTL process), and
adds one to the metric named for the event (``ItemInserted``, ``ItemModified``,
``ItemRemoved``). Values are logged as JSON: numbers as numbers, binary values (``B``) as
base64 text, sets as sorted lists (a value the log serializer cannot write would lose the
line).

A record with another event name, or an image or keys that cannot be deserialized (an invalid
attribute value, ``B``/``BS`` values that are not strictly valid base64, an invalid number) is
reported failed (retried, bisected, then sent to the on-failure destination) with the reason
logged. No record is skipped: every other record is logged and counted. Logging is naturally
repeatable, so the runtime's idempotency is not used.

No AWS calls: the function needs only the stream read actions its event source mapping uses.

Metrics: ``ItemInserted``, ``ItemModified``, ``ItemRemoved`` (Count).
"""

from __future__ import annotations

import base64
import warnings
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from event_pipeline_runtime import ConsumerRecord, pipeline_handler

METRIC_BY_EVENT_NAME = {"INSERT": "ItemInserted", "MODIFY": "ItemModified", "REMOVE": "ItemRemoved"}
"""The metric each stream event name adds one to."""

# A batch in which every record fails emits no metric; Powertools would warn every time.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()


class UnknownChangeError(ValueError):
    """A stream record whose event name is not INSERT, MODIFY or REMOVE."""


def _status(image: dict[str, Any] | None) -> Any:
    return jsonable(image.get("status")) if image else None


def jsonable(value: Any) -> Any:
    """A deserialized DynamoDB value as plain JSON data (bytes as base64, sets as sorted lists).

    Args:
        value: A value from boto3's ``TypeDeserializer``.

    Returns:
        The value with ``Binary``/bytes, ``Decimal`` and sets converted.
    """
    raw = getattr(value, "value", value)  # boto3.dynamodb.types.Binary wraps bytes
    if isinstance(raw, (bytes, bytearray)):
        return base64.b64encode(raw).decode("ascii")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    return value


def process(record: ConsumerRecord) -> None:
    """Log one change and count it.

    Args:
        record: The decoded DynamoDB stream record.

    Raises:
        UnknownChangeError: An event name other than INSERT, MODIFY or REMOVE.
    """
    event_name = record.event_name
    metric = METRIC_BY_EVENT_NAME.get(event_name or "")
    if metric is None:
        raise UnknownChangeError(f"stream record {record.sequence_number}: unknown event name {event_name!r}")
    keys = jsonable(record.keys or {})  # decoded by the runtime (binary keys included)
    identity = record.raw.get("userIdentity") or {}
    logger.info(
        "item.changed",
        extra={
            "event_name": event_name,
            "keys": keys,
            "old_status": _status(record.old_image),
            "new_status": _status(record.new_image),
            "sequence_number": record.sequence_number,
            "expired_by_ttl": identity.get("type") == "Service"
            and identity.get("principalId") == "dynamodb.amazonaws.com",
        },
    )
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


_process_batch = pipeline_handler(process, source="dynamodb", idempotent=False, logger=logger, metrics=metrics)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the DynamoDB Streams event source.

    Args:
        event: DynamoDB Streams event.
        context: Lambda context.

    Returns:
        ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}``.
    """
    return _process_batch(event, context)
