"""Label printer: writes a shipping label to S3 for every ``shipment.dispatched`` event.

Built on the library's runtime layer (``event_pipeline_runtime.pipeline_handler``: decoding,
envelopes, partial batch responses) and Powertools (the layer the library attaches). A shipment
without a carrier or postcode raises, so its record is reported failed, retried and, after the
consumer's retries, sent to its dead-letter queue.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from event_pipeline_runtime import ConsumerRecord, pipeline_handler

logger = Logger()
metrics = Metrics()
_clients: dict[str, Any] = {}


class InvalidShipmentError(ValueError):
    """A shipment event that cannot be printed."""


def label_text(shipment: dict[str, Any]) -> str:
    """The label of one shipment: ``<CARRIER> <postcode> <shipment id>``.

    Raises:
        InvalidShipmentError: a field the label needs is missing or empty.
    """
    missing = [field for field in ("shipment_id", "carrier", "postcode") if not shipment.get(field)]
    if missing:
        raise InvalidShipmentError(f"shipment {shipment.get('shipment_id')!r} lacks {', '.join(missing)}")
    return f"{str(shipment['carrier']).upper()} {shipment['postcode']} {shipment['shipment_id']}"


def _s3() -> Any:
    if "s3" not in _clients:
        _clients["s3"] = boto3.client("s3")
    return _clients["s3"]


def process(record: ConsumerRecord) -> None:
    """Print one shipment's label (other event types are not for this consumer)."""
    if record.envelope is None or record.envelope.type != "shipment.dispatched":
        logger.info("Not a dispatched shipment; nothing to print", extra={"partition_key": record.partition_key})
        return
    shipment = record.data
    text = label_text(shipment)
    _s3().put_object(
        Bucket=os.environ["LABEL_BUCKET"], Key=f"labels/{shipment['shipment_id']}.txt", Body=text.encode()
    )
    logger.info("Label printed", extra={"shipment_id": shipment["shipment_id"]})
    metrics.add_metric(name="LabelsPrinted", unit=MetricUnit.Count, value=1)


_process_batch = pipeline_handler(process, source="kinesis", logger=logger)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the Kinesis event source (partial batch responses)."""
    return _process_batch(event, context)
