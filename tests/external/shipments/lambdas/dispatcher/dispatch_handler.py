"""Dispatcher: records a shipment, announces it on the stream, queues returns.

A plain function (boto3 only). The library's ``connect_producer`` / ``connect_writer`` set
``STREAM_NAME``, ``QUEUE_URL`` and ``TABLE_NAME`` and grant exactly what this code calls.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Dispatch one shipment: ``{"shipment_id", "carrier", "postcode", "returning"?}``."""
    shipment = {k: event[k] for k in ("shipment_id", "carrier", "postcode")}
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={"id": {"S": shipment["shipment_id"]}, "carrier": {"S": shipment["carrier"]}},
    )
    envelope = {
        "type": "shipment.dispatched", "version": 1, "id": uuid.uuid4().hex,
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "data": shipment,
    }
    boto3.client("kinesis").put_record(
        StreamName=os.environ["STREAM_NAME"], PartitionKey=shipment["shipment_id"],
        Data=json.dumps(envelope).encode(),
    )
    if event.get("returning"):
        boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(shipment))
    return {"dispatched": shipment["shipment_id"]}
