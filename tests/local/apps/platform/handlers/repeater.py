"""Counts every event it consumes in the ``Seen`` table; re-emits each ``echo.loop`` event.

The re-emitted event is a new event (a new id) of the same type and data, put on the stream the
function reads: a recursive loop. ``event_pipeline_runtime`` writes it with the consumed
record's hop count + 1, and refuses a record whose count is over the limit before ``process``
runs, so the loop ends in the consumer's dead-letter queue.
"""

from __future__ import annotations

import os

import boto3

from event_pipeline_runtime import ConsumerRecord, EventProducer, pipeline_handler

_table = boto3.client("dynamodb")
_producer = EventProducer()


def process(record: ConsumerRecord) -> None:
    envelope = record.envelope
    assert envelope is not None, "every record on this stream is an envelope"
    _table.update_item(
        TableName=os.environ["TABLE_NAME"], Key={"id": {"S": envelope.data["name"]}},
        UpdateExpression="ADD seen :one", ExpressionAttributeValues={":one": {"N": "1"}},
    )
    if envelope.type == "echo.loop":
        _producer.put_event("echo.loop", envelope.data, partition_key=envelope.data["name"])
        _producer.flush()


handler = pipeline_handler(process, source="kinesis")
