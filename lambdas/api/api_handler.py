"""Items API behind a Lambda function URL (payload format 2.0), routed with Powertools.

Routes:

* ``PUT /items/{id}``: the request body is the item's content (text; a base64-encoded body,
  ``isBase64Encoded: true``, is decoded first and must be UTF-8). In this order, it

  1. stores the body in S3 at ``items/{id}`` (``s3:PutObject``);
  2. puts the item ``{"id", "content", "s3_key", "status": "created", "updated_at"}`` in the
     items table (``dynamodb:PutItem``, ``ReturnValues=ALL_OLD`` to tell create from replace);
  3. sends ``{"type": "job.created", "id", "content"}`` to the work queue (``sqs:SendMessage``);
  4. puts the audit record on the stream with the runtime producer (``kinesis:PutRecords``),
     partition key = the item id, so a key's audit records stay in order.

  Returns ``201`` with the item when it was created, ``200`` when it replaced one.
* ``GET /items/{id}``: the item (``dynamodb:GetItem``, strongly consistent) plus ``"body"``, the
  object read back from S3 (``s3:GetObject``); ``404`` for an unknown id.

Errors: ``400`` for an id that is not 1-256 characters of ``[A-Za-z0-9._-]``, a missing body,
a body that is not valid base64 or not UTF-8; ``413`` for content over ``MAX_CONTENT_BYTES``
or a job message over the SQS limit; ``503`` when the stream or a service throttles (or the
audit record is still rejected after ``PRODUCER_MAX_ATTEMPTS``); ``500`` for any other AWS
error. Unknown routes get Powertools' ``404``.

The audit record (compact UTF-8 JSON, a valid runtime envelope, version 1)::

    {"type": "item.put", "version": 1, "id": "<item id>", "at": "<ISO-8601 UTC, ms, Z>",
     "content": "<the body text>", "data": {"s3_key": "items/<id>", "status": "created"}}

``type``/``version``/``id``/``at`` are the envelope fields (``make_envelope`` builds them), and
``content`` stays at the top level as in the original audit format. ``data`` carries only
what is not already at the top level (where the body lives, the status written), so the
content is not sent twice. Note that ``id`` is the *item* id, as the audit format requires,
so it is not unique per event: two PUTs of one item give two records with the same ``id``.
Idempotent consumers of this stream (inventory, fraud) therefore scope their idempotency key
by event type, and must not de-duplicate ``item.put`` records by ``id`` alone.

Writes are not transactional. A failure after step *k* returns 5xx with steps before *k*
done; the client retries the PUT (every step is safe to repeat: last writer wins in S3 and
the table, the worker's update is idempotent, the audit log simply shows the retry). Two
concurrent PUTs of one id are last-writer-wins per store, so S3 and the table may briefly
hold different versions.

The function needs exactly: ``s3:PutObject`` and ``s3:GetObject`` on ``BUCKET_NAME``'s objects,
``dynamodb:PutItem`` and ``dynamodb:GetItem`` on ``TABLE_NAME``, ``sqs:SendMessage`` on
``QUEUE_URL``, ``kinesis:PutRecords`` (the producer's call) on ``STREAM_NAME``. It never
calls HeadObject, ListBucket or DescribeStream. (Without ``s3:ListBucket``, S3 answers
``AccessDenied`` rather than ``NoSuchKey`` for a missing object: both are handled the same.)

Environment: ``BUCKET_NAME``, ``TABLE_NAME``, ``QUEUE_URL``, ``STREAM_NAME`` (all required;
the function fails at init without them).

Metrics: ``ItemCreated``, ``ItemReplaced``, ``ItemRead`` (Count).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import warnings
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RequestEntityTooLargeError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from event_pipeline_runtime import UndeliveredRecordsError, encode_payload, make_envelope, put_events
from event_pipeline_runtime.envelope import utc_now_iso
from event_pipeline_runtime.producer import RETRYABLE_CALL_ERRORS

ITEM_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,256}")
"""Valid item ids: 1-256 characters of letters, digits, ``.``, ``_`` and ``-`` (safe as an S3
key segment, a DynamoDB key and a Kinesis partition key)."""

MAX_CONTENT_BYTES = 100 * 1024
"""Largest body (UTF-8 bytes) accepted. The content is written to a DynamoDB item (400 KB
limit), an SQS message (256 KiB, JSON-escaped) and an audit record that the audit consumer
logs as one CloudWatch Logs event (256 KiB, escaped twice); 100 KiB keeps ordinary text well
inside all of them. The encoded job message is also checked exactly."""

SQS_MAX_MESSAGE_BYTES = 256 * 1024
"""SQS's long-standing maximum message size; every queue accepts at least this."""

PRODUCER_MAX_ATTEMPTS = 5
"""Tries for the audit record (backoff capped at ``PRODUCER_MAX_DELAY_SECONDS``): an API call
should fail fast with 503 and let the client retry rather than hold the request for ~20 s."""
PRODUCER_MAX_DELAY_SECONDS = 1.0

_THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "RequestThrottled",
    }
)


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required by the items API")
    return value


BUCKET_NAME = _require_env("BUCKET_NAME")
TABLE_NAME = _require_env("TABLE_NAME")
QUEUE_URL = _require_env("QUEUE_URL")
STREAM_NAME = _require_env("STREAM_NAME")

# A request that ends in 4xx emits no metric; Powertools would warn about it on every such call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
app = LambdaFunctionUrlResolver()

_config = Config(retries={"mode": "standard"})
s3 = boto3.client("s3", config=_config)
dynamodb = boto3.client("dynamodb", config=_config)
sqs = boto3.client("sqs", config=_config)
kinesis = boto3.client("kinesis", config=_config)

_deserialize = TypeDeserializer().deserialize
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# --- helpers ---------------------------------------------------------------------------------


def validate_item_id(item_id: str) -> str:
    """Return ``item_id`` when valid.

    Args:
        item_id: The ``{id}`` path segment.

    Returns:
        The id.

    Raises:
        BadRequestError: When it is not 1-256 characters of ``[A-Za-z0-9._-]``.
    """
    if ITEM_ID_PATTERN.fullmatch(item_id) is None:
        raise BadRequestError("item id must be 1-256 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
    return item_id


def read_body(event: Any) -> tuple[str, bytes]:
    """Read the request body as text.

    Args:
        event: The resolver's current event (function URL, payload format 2.0).

    Returns:
        ``(content, raw)``: the body as text and as the UTF-8 bytes stored in S3.

    Raises:
        BadRequestError: No body, invalid base64, or not UTF-8.
        RequestEntityTooLargeError: Body over ``MAX_CONTENT_BYTES``.
    """
    body = event.body
    if body is None or body == "":
        raise BadRequestError("request body is required")
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestError("body is marked base64-encoded but is not valid base64") from exc
        if not raw:
            raise BadRequestError("request body is required")
    else:
        raw = body.encode("utf-8")
    if len(raw) > MAX_CONTENT_BYTES:
        raise RequestEntityTooLargeError(f"body is {len(raw)} bytes; the limit is {MAX_CONTENT_BYTES}")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("body must be UTF-8 text") from exc
    return content, raw


def audit_record(item_id: str, content: str, s3_key: str, at: str) -> dict[str, Any]:
    """Build the ``item.put`` audit record (see the module docstring for the format).

    Args:
        item_id: The item id (also the envelope ``id`` and the partition key).
        content: The body text.
        s3_key: Where the body is stored.
        at: The event time (the item's ``updated_at``).

    Returns:
        ``{"type", "version", "id", "at", "content", "data"}``.
    """
    envelope = make_envelope("item.put", {"s3_key": s3_key, "status": "created"}, id=item_id, at=at)
    return {
        "type": envelope["type"],
        "version": envelope["version"],
        "id": envelope["id"],
        "at": envelope["at"],
        "content": content,
        "data": envelope["data"],
    }


def _to_attributes(item: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in item.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_response(status_code: int, body: dict[str, Any]) -> Response:
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False, default=_json_default),
    )


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


# --- routes ----------------------------------------------------------------------------------


@app.put("/items/<item_id>")
@tracer.capture_method(capture_response=False)  # responses carry item content: keep it out of traces
def put_item(item_id: str) -> Response:
    """Store an item (see the module docstring)."""
    validate_item_id(item_id)
    content, raw = read_body(app.current_event)
    now = utc_now_iso()
    s3_key = f"items/{item_id}"
    item = {"id": item_id, "content": content, "s3_key": s3_key, "status": "created", "updated_at": now}
    job = _dumps({"type": "job.created", "id": item_id, "content": content})
    if len(job.encode("utf-8")) > SQS_MAX_MESSAGE_BYTES:
        raise RequestEntityTooLargeError(f"the job message would exceed SQS's {SQS_MAX_MESSAGE_BYTES} bytes")
    record = encode_payload(audit_record(item_id, content, s3_key, now))
    content_type = (app.current_event.headers or {}).get("content-type") or "text/plain; charset=utf-8"

    s3.put_object(Bucket=BUCKET_NAME, Key=s3_key, Body=raw, ContentType=content_type)
    previous = dynamodb.put_item(TableName=TABLE_NAME, Item=_to_attributes(item), ReturnValues="ALL_OLD").get(
        "Attributes"
    )
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=job)
    put_events(
        STREAM_NAME,
        [(item_id, record)],
        client=kinesis,
        max_attempts=PRODUCER_MAX_ATTEMPTS,
        max_delay=PRODUCER_MAX_DELAY_SECONDS,
    )

    created = previous is None
    metrics.add_metric(name="ItemCreated" if created else "ItemReplaced", unit=MetricUnit.Count, value=1)
    logger.info("Item stored", extra={"item_id": item_id, "item_created": created, "content_bytes": len(raw)})
    return _json_response(201 if created else 200, item)


@app.get("/items/<item_id>")
@tracer.capture_method(capture_response=False)  # responses carry item content: keep it out of traces
def get_item(item_id: str) -> Response:
    """Return an item with its body from S3 (see the module docstring)."""
    validate_item_id(item_id)
    found = dynamodb.get_item(TableName=TABLE_NAME, Key={"id": {"S": item_id}}, ConsistentRead=True).get("Item")
    if not found:
        raise NotFoundError(f"item {item_id} not found")
    item = {name: _deserialize(value) for name, value in found.items()}
    s3_key = f"items/{item_id}"
    try:
        obj = s3.get_object(Bucket=BUCKET_NAME, Key=s3_key)
    except ClientError as exc:
        if _error_code(exc) in {"NoSuchKey", "AccessDenied", "404", "403"}:
            # The PUT writes S3 before the table, so an item without its object was deleted
            # out of band (S3 says AccessDenied for a missing key when ListBucket is not granted).
            logger.error("Item body missing in S3", extra={"item_id": item_id, "s3_key": s3_key, "error": _error_code(exc)})
            raise InternalServerError(f"body of item {item_id} is unavailable") from exc
        raise
    item["body"] = obj["Body"].read().decode("utf-8", errors="replace")
    metrics.add_metric(name="ItemRead", unit=MetricUnit.Count, value=1)
    return _json_response(200, item)


@app.exception_handler(UndeliveredRecordsError)
def _stream_unavailable(exc: UndeliveredRecordsError) -> Response:
    logger.error("Audit record not delivered to the stream", extra={"error_codes": exc.error_codes})
    if set(exc.error_codes.values()) <= RETRYABLE_CALL_ERRORS:  # throttled / internal failure
        return _json_response(503, {"statusCode": 503, "message": "the audit stream is unavailable; retry the request"})
    return _json_response(500, {"statusCode": 500, "message": "internal error"})


@app.exception_handler([ClientError, BotoCoreError])
def _aws_error(exc: Exception) -> Response:
    code = _error_code(exc)
    logger.exception("AWS call failed", extra={"error_code": code})
    if code in _THROTTLING_CODES:
        return _json_response(503, {"statusCode": 503, "message": "service busy; retry the request"})
    return _json_response(500, {"statusCode": 500, "message": "internal error"})


# --- entry point -----------------------------------------------------------------------------


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the function URL.

    Args:
        event: Function URL event, payload format 2.0.
        context: Lambda context.

    Returns:
        The function URL response (``statusCode``, ``headers``, ``body``, ``isBase64Encoded``).
    """
    return app.resolve(event, context)
