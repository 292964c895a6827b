"""AWS platform rules the constructs enforce at construction (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import EntityTable, EventStream, PipelineValidationError, bundled_code


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


@pytest.mark.parametrize("source", ["stream", "table"])
def test_a_stream_consumers_on_failure_queue_must_be_standard(stack, source):
    # Lambda's Kinesis / DynamoDB Streams on-failure destination is a standard queue (item 5)
    fifo = sqs.Queue(stack, "Failed", fifo=True)
    with pytest.raises(PipelineValidationError) as error:
        if source == "stream":
            EventStream(stack, "Events").add_consumer("C", dead_letter_queue=fifo, **code())
        else:
            EntityTable(stack, "Items").add_change_consumer("C", dead_letter_queue=fifo, **code())
    assert str(error.value).endswith(
        f"dead_letter_queue must be a standard SQS queue (given the FIFO queue {stack.node.path}/Failed): "
        "Lambda sends a Kinesis or DynamoDB stream's failed-batch records only to a standard queue, "
        "an SNS topic or an S3 bucket; pass a standard queue, failure_bucket=, or leave it unset")


def test_a_standard_on_failure_queue_is_accepted(stack):
    queue = sqs.Queue(stack, "Failed")
    consumer = EventStream(stack, "Events").add_consumer("C", dead_letter_queue=queue, **code())
    assert consumer.dead_letter_queue is queue
