"""Worker on the SQS work queue: marks items as processed.

Each message body is the API's job, ``{"type": "job.created", "id": "<item id>", "content": ...}``.
For a ``job.created`` job the worker sets the item's ``status`` to ``"processed"`` and
``processed_at`` (ISO-8601 UTC) with one ``UpdateItem`` conditioned on the item existing
(``attribute_exists(id)``), so it never creates a half item. The update is idempotent, so a
message delivered twice (SQS is at-least-once) does no harm and the runtime's idempotency
table is not used (``idempotent=False``).

Failures are reported per message (partial batch response, via the runtime's
``pipeline_handler``): a body that is not JSON (or JSON nested too deeply, or longer than the
runtime's decode limit) or not a JSON object, a job without a valid ``id``, an unknown
``type``, an item that does not exist, or any DynamoDB error make the message fail, with the
reason logged. No message is skipped: every message is either applied (``JobProcessed``) or
failed. SQS makes it visible again after the visibility timeout, and after the queue's
``max_receive_count`` receives it moves to the dead-letter queue.

The function needs exactly ``dynamodb:UpdateItem`` on ``TABLE_NAME``.

Environment: ``TABLE_NAME`` (required).

Metrics: ``JobProcessed`` (Count).
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
from event_pipeline_runtime.contract import TABLE_NAME_ENV, require_env
from event_pipeline_runtime.envelope import utc_now_iso

JOB_CREATED = "job.created"


class MalformedJobError(ValueError):
    """The message is not a job object with a string ``type`` and a non-empty string ``id``."""


class UnknownJobTypeError(ValueError):
    """The job's ``type`` is not one this worker handles."""


class ItemNotFoundError(LookupError):
    """The job names an item that is not in the table."""


TABLE_NAME = require_env(TABLE_NAME_ENV, "worker")

# A batch in which every message fails emits no metric; Powertools would warn every time.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
dynamodb = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))


def mark_processed(item_id: str) -> None:
    """Set the item's status to ``processed``.

    Args:
        item_id: The item's partition key.

    Raises:
        ItemNotFoundError: No such item.
        botocore.exceptions.ClientError: Any other DynamoDB error.
    """
    try:
        dynamodb.update_item(
            TableName=TABLE_NAME,
            Key={"id": {"S": item_id}},
            UpdateExpression="SET #status = :processed, #processed_at = :now",
            ConditionExpression="attribute_exists(#id)",
            ExpressionAttributeNames={"#id": "id", "#status": "status", "#processed_at": "processed_at"},
            ExpressionAttributeValues={":processed": {"S": "processed"}, ":now": {"S": utc_now_iso()}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise ItemNotFoundError(f"item {item_id!r} does not exist") from exc
        raise


@tracer.capture_method
def process(record: ConsumerRecord) -> None:
    """Apply one job message.

    Args:
        record: The decoded SQS message.

    Raises:
        MalformedJobError: Not a job object, or no valid ``id``.
        UnknownJobTypeError: A ``type`` other than ``job.created``.
        ItemNotFoundError: The item does not exist.
    """
    job = record.body
    if not isinstance(job, dict):
        raise MalformedJobError(f"message {record.message_id}: body is a JSON {type(job).__name__}, not an object")
    job_type = job.get("type")
    if job_type != JOB_CREATED:
        raise UnknownJobTypeError(f"message {record.message_id}: unknown job type {job_type!r}")
    item_id = job.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise MalformedJobError(f"message {record.message_id}: job.created needs a non-empty string id")
    mark_processed(item_id)
    metrics.add_metric(name="JobProcessed", unit=MetricUnit.Count, value=1)
    logger.info("Job processed", extra={"item_id": item_id, "message_id": record.message_id})


_process_batch = pipeline_handler(process, source="sqs", idempotent=False, logger=logger, metrics=metrics)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the SQS event source.

    Args:
        event: SQS event.
        context: Lambda context.

    Returns:
        ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}``.
    """
    return _process_batch(event, context)
