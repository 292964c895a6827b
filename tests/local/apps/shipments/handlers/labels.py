"""Print a label for each shipment (a row in the Labels table); a bad weight fails the record."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3

_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for record in event["Records"]:
        shipment = json.loads(base64.b64decode(record["kinesis"]["data"]))
        try:
            grams = int(float(shipment["weight_kg"]) * 1000)
        except (KeyError, TypeError, ValueError):
            # Kinesis partial batch response: this record and every later one are retried.
            return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
        _table.put_item(Item={"id": shipment["shipment_id"], "grams": grams, "to": shipment["to"]})
    return {"batchItemFailures": []}
