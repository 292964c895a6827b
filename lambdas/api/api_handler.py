"""Producer: puts one ordered audit record per item on the stream (partition key = item id)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
kinesis = boto3.client("kinesis")


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    item_id = event["id"]
    record = {"type": "item.put", "id": item_id, "content": event.get("content"),
              "at": datetime.now(timezone.utc).isoformat()}
    kinesis.put_record(StreamName=os.environ["STREAM_NAME"], PartitionKey=item_id,
                       Data=json.dumps(record).encode("utf-8"))
    return {"statusCode": 200}
