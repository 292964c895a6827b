"""Counts every event it processes in the ``Seen`` table (a stream consumer and a queue worker)."""

from __future__ import annotations

import os

import boto3

from event_pipeline_runtime import ConsumerRecord, pipeline_handler

_table = boto3.client("dynamodb")


def process(record: ConsumerRecord) -> None:
    envelope = record.envelope
    assert envelope is not None, "every record is an envelope"
    _table.update_item(
        TableName=os.environ["TABLE_NAME"], Key={"id": {"S": envelope.data["name"]}},
        UpdateExpression="ADD seen :one", ExpressionAttributeValues={":one": {"N": "1"}},
    )


stream_handler = pipeline_handler(process, source="kinesis")
queue_handler = pipeline_handler(process, source="sqs")
