"""Items API behind a Lambda function URL (payload format 2.0), routed with Powertools.

Lambda hands the function the HTTP request as a payload-format-2.0 event (``rawPath``,
``headers`` with lower-case names and repeated headers joined by commas,
``requestContext.http.method``, ``body``, ``isBase64Encoded``: true when the body is binary)
and turns the returned ``{"statusCode", "headers", "body", "isBase64Encoded"}`` into the HTTP
response (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads).

Routes:

* ``PUT /items/{id}``: the request body is the item's content (UTF-8 text; a base64-encoded
  body, ``isBase64Encoded: true``, is decoded first and must be UTF-8). In this order, it

  1. stores the body in S3 at ``items/{id}`` (``s3:PutObject``) with a normalized content type
     (see *Content types*);
  2. puts the item ``{"id", "content", "s3_key", "status": "created", "updated_at"}`` in the
     items table (``dynamodb:PutItem``, ``ReturnValues=ALL_OLD`` to tell create from replace);
  3. sends ``{"type": "job.created", "id", "content"}`` to the work queue (``sqs:SendMessage``);
  4. puts the audit record on the stream with the runtime producer (``kinesis:PutRecords``),
     partition key = the item id, so a key's audit records stay in order.

  Returns ``201`` with the item when it was created, ``200`` when it replaced one.
* ``GET /items/{id}``: the item (``dynamodb:GetItem``, strongly consistent) plus ``"body"``, the
  object read back from S3 (``s3:GetObject``); ``404`` for an unknown id.

Item ids (``ITEM_ID_PATTERN``): 1-256 characters of ``[A-Za-z0-9._-]``, the first a letter or a
digit. That rules out the path segments ``.`` and ``..`` (S3 keys ``items/.``, ``items/..``
that tools syncing the bucket to a file system resolve as directories), hidden-file names
(``.env``) and a leading ``-`` that command-line tools read as an option. 256 is Kinesis's
partition key limit (the id is the audit record's partition key).

Content types (``CONTENT_TYPES``): the request's ``content-type`` is parsed as a media type
(``type/subtype *(; name=value)``); only ``application/json``, ``text/plain``, ``text/csv``,
``text/markdown`` and ``application/octet-stream`` are accepted, and the object is stored with
the canonical form of that type (``text/*`` with ``; charset=utf-8``, every other parameter
dropped), never with the client's string. No header (or an empty one) means ``text/plain;
charset=utf-8``. A ``charset`` other than UTF-8 (or its subset US-ASCII) is refused: the body is
read as UTF-8.

Responses (every one JSON ``{"statusCode", "message"}`` except the item bodies):

* ``400``: an id outside the pattern (also ``/items/`` with no id), a content type that is
  longer than ``MAX_CONTENT_TYPE_CHARS``, holds a control or non-ASCII character (CR/LF
  included) or is not a media type (two ``content-type`` headers, joined by a comma, are not);
  a missing or empty body; a body that is not valid Unicode (a lone surrogate), not strict
  base64 when ``isBase64Encoded`` (padding, alphabet, nothing after the padding), or not UTF-8.
* ``404``: an unknown path, or ``GET`` of an unknown id.
* ``405`` with ``Allow: GET, PUT``: any other method (``POST``, ``DELETE``, ``PATCH``,
  ``HEAD``, ``OPTIONS``, ...) on ``/items/{id}``.
* ``413``: content over ``MAX_CONTENT_BYTES``, or a job message over the SQS limit.
* ``415``: a media type outside ``CONTENT_TYPES``, or a non-UTF-8 ``charset``.
* ``503`` with ``Retry-After: RETRY_AFTER_SECONDS``: a transient AWS failure after the bounded
  retries: throttling, a 5xx answer, a connection error or timeout (connect or read) of any
  call, and the audit record still undelivered when the producer gives up for such reasons
  (its ``UndeliveredRecordsError``).
* ``500``: any other AWS error (access denied, a missing queue or stream, a validation error),
  a body missing from S3 on ``GET``, or a bug. No exception leaves :func:`handler`.

Client input never causes a 5xx: everything the client sends is checked before the first write.

Time budget: every AWS client connects within ``CONNECT_TIMEOUT_SECONDS`` and reads within
``READ_TIMEOUT_SECONDS``; S3, DynamoDB and SQS calls are tried ``SDK_MAX_ATTEMPTS`` times
(botocore's standard retry mode); the Kinesis client makes one attempt per call because the
runtime producer does the retrying (``PRODUCER_MAX_ATTEMPTS``, backoff capped at
``PRODUCER_MAX_DELAY_SECONDS``). An unreachable service is thus answered with ``503`` well
inside the function's 30 s timeout, instead of the function timing out on botocore's default
60 s connect timeout (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).

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

The job message escapes U+FFFE and U+FFFF (``\\ufffe``): SQS accepts only the XML character
set in a message body (#x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF;
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html),
and JSON already escapes the control characters. The worker's ``json.loads`` gives the
content back unchanged.

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

Metrics: ``ItemCreated``, ``ItemReplaced``, ``ItemRead``, ``RequestRejected`` (every 4xx but a
``GET`` of an unknown id), ``ServiceUnavailable`` (every 503) (Count). Each 4xx and 5xx is also
logged with its status and reason (never the client's input).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import warnings
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    RequestEntityTooLargeError,
    ServiceError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from event_pipeline_runtime import UndeliveredRecordsError, contract, encode_payload, make_envelope, put_events
from event_pipeline_runtime.contract import require_env
from event_pipeline_runtime.envelope import utc_now_iso
from event_pipeline_runtime.producer import RETRYABLE_CALL_ERRORS

ITEM_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
"""Valid item ids: 1-256 characters of letters, digits, ``.``, ``_`` and ``-``, the first a
letter or a digit (see the module docstring for why)."""

ITEM_PATH = re.compile(r"/items/[^/]*")
"""A path this API knows, whatever the id: other methods on it get 405, bad ids 400."""

ALLOWED_METHODS = ("GET", "PUT")
"""Methods of ``/items/{id}``, in the ``Allow`` header of a 405."""

MAX_CONTENT_BYTES = 100 * 1024
"""Largest body (UTF-8 bytes) accepted. The content is written to a DynamoDB item (400 KB
limit), an SQS message (256 KiB, JSON-escaped) and an audit record that the audit consumer
logs as one CloudWatch Logs event (256 KiB, escaped twice); 100 KiB keeps ordinary text well
inside all of them. The encoded job message is also checked exactly."""

_MAX_BASE64_CHARS = 4 * -(-MAX_CONTENT_BYTES // 3)
"""Longest base64 body that can decode to at most ``MAX_CONTENT_BYTES`` (checked before decoding)."""

SQS_MAX_MESSAGE_BYTES = 256 * 1024
"""SQS's long-standing maximum message size; every queue accepts at least this."""

DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"
"""Stored when the request has no ``content-type`` (or an empty one)."""

CONTENT_TYPES = {
    "application/json": "application/json",
    "application/octet-stream": "application/octet-stream",
    "text/csv": "text/csv; charset=utf-8",
    "text/markdown": "text/markdown; charset=utf-8",
    "text/plain": "text/plain; charset=utf-8",
}
"""Accepted media types (lower case) and the content type stored for each. None of them is
rendered as active content by a browser (no HTML, SVG or XML)."""

UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})
"""``charset`` values compatible with reading the body as UTF-8 (case-insensitive)."""

MAX_CONTENT_TYPE_CHARS = 256
"""Longest ``content-type`` value accepted; real ones are a few dozen characters."""

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110 section 5.6.2
_MEDIA_TYPE = re.compile(rf"[ \t]*({_TOKEN})/({_TOKEN})")
_PARAMETER = re.compile(rf'[ \t]*;[ \t]*(?:({_TOKEN})=({_TOKEN}|"(?:[\t !#-\[\]-~]|\\[\t -~])*"))?')
_TRAILING_SPACE = re.compile(r"[ \t]*")
_HEADER_TEXT = re.compile(r"[\t -~]*")
"""Visible ASCII, space and tab: what a header value may hold here (no CR, LF, NUL, DEL, non-ASCII)."""

_SQS_UNSAFE = re.compile("[\ufffe\uffff]")
"""Characters JSON leaves unescaped that SQS does not accept in a message body."""

RETRY_AFTER_SECONDS = 1
"""``Retry-After`` of a 503: throttling and connection failures usually pass within seconds."""

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
SDK_MAX_ATTEMPTS = 2
"""Tries per S3/DynamoDB/SQS call (botocore standard mode: throttling, 5xx, connection errors)."""

PRODUCER_MAX_ATTEMPTS = 5
"""Tries for the audit record (backoff capped at ``PRODUCER_MAX_DELAY_SECONDS``): an API call
should fail fast with 503 and let the client retry rather than hold the request for ~20 s."""
PRODUCER_MAX_DELAY_SECONDS = 1.0

_TRANSIENT_CODES = RETRYABLE_CALL_ERRORS | frozenset(
    {
        # botocore's standard retry mode: throttled and transient error codes
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        # 5xx and KMS throttling codes of S3, DynamoDB, SQS, Kinesis
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "KmsThrottled",
        "KMSThrottlingException",
    }
)
"""AWS error codes answered with 503: the request may succeed if the client tries again."""

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})

_CONNECTION_ERRORS = (BotoConnectionError, HTTPClientError)
"""botocore's connection-level failures: connect/read timeouts, refused or closed connections."""



BUCKET_NAME_ENV = "BUCKET_NAME"  # set by app.py, the one variable of this app that is not the library's
BUCKET_NAME = require_env(BUCKET_NAME_ENV, "items API")
TABLE_NAME = require_env(contract.TABLE_NAME_ENV, "items API")
QUEUE_URL = require_env(contract.QUEUE_URL_ENV, "items API")
STREAM_NAME = require_env(contract.STREAM_NAME_ENV, "items API")

# A request that ends in 4xx emits no metric; Powertools would warn about it on every such call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
app = LambdaFunctionUrlResolver()

_config = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "total_max_attempts": SDK_MAX_ATTEMPTS},
)
s3 = boto3.client("s3", config=_config)
dynamodb = boto3.client("dynamodb", config=_config)
sqs = boto3.client("sqs", config=_config)
kinesis = boto3.client(
    "kinesis",
    config=_config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1})),  # the producer retries
)

_deserialize = TypeDeserializer().deserialize
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# --- request checks ---------------------------------------------------------------------------


class UnsupportedMediaTypeError(ServiceError):
    """415: the request's media type or charset is not accepted."""

    def __init__(self, msg: str) -> None:
        super().__init__(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, msg)


def validate_item_id(item_id: str) -> str:
    """Return ``item_id`` when valid.

    Args:
        item_id: The ``{id}`` path segment.

    Returns:
        The id.

    Raises:
        BadRequestError: When it does not match ``ITEM_ID_PATTERN``.
    """
    if ITEM_ID_PATTERN.fullmatch(item_id) is None:
        raise BadRequestError(
            "item id must be 1-256 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or a digit"
        )
    return item_id


def parse_media_type(value: str) -> tuple[str, dict[str, str]] | None:
    """Parse a ``content-type`` value (RFC 9110 section 8.3.1).

    Args:
        value: The header value (visible ASCII, space and tab only).

    Returns:
        ``(type/subtype in lower case, {parameter name in lower case: unquoted value})``, or
        ``None`` when the value is not a media type.
    """
    match = _MEDIA_TYPE.match(value)
    if match is None:
        return None
    media_type = f"{match.group(1)}/{match.group(2)}".lower()
    params: dict[str, str] = {}
    pos = match.end()
    while pos < len(value):
        param = _PARAMETER.match(value, pos)
        if param is None or param.end() == pos:
            tail = _TRAILING_SPACE.match(value, pos)
            return (media_type, params) if tail is not None and tail.end() == len(value) else None
        if param.group(1):
            raw = param.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[param.group(1).lower()] = raw
        pos = param.end()
    return media_type, params


def normalized_content_type(value: str | None) -> str:
    """The content type to store for the request's ``content-type`` header.

    Args:
        value: The header value, ``None`` when absent.

    Returns:
        ``DEFAULT_CONTENT_TYPE`` for no (or an empty) header, else the canonical type from
        ``CONTENT_TYPES``.

    Raises:
        BadRequestError: Too long, a control or non-ASCII character, or not a media type.
        UnsupportedMediaTypeError: A type outside ``CONTENT_TYPES`` or a non-UTF-8 charset.
    """
    if value is None:
        return DEFAULT_CONTENT_TYPE
    if not isinstance(value, str):
        raise BadRequestError("content-type must be a string")
    if value.strip(" \t") == "":
        return DEFAULT_CONTENT_TYPE
    if len(value) > MAX_CONTENT_TYPE_CHARS:
        raise BadRequestError(f"content-type is {len(value)} characters; the limit is {MAX_CONTENT_TYPE_CHARS}")
    if _HEADER_TEXT.fullmatch(value) is None:
        raise BadRequestError("content-type may hold only visible ASCII characters, spaces and tabs")
    parsed = parse_media_type(value)
    if parsed is None:
        raise BadRequestError("content-type must be one media type: type/subtype[; name=value]...")
    media_type, params = parsed
    stored = CONTENT_TYPES.get(media_type)
    if stored is None:
        raise UnsupportedMediaTypeError(f"content-type must be one of {', '.join(sorted(CONTENT_TYPES))}")
    charset = params.get("charset")
    if charset is not None and charset.lower() not in UTF8_CHARSETS:
        raise UnsupportedMediaTypeError("the body must be UTF-8: charset must be utf-8 or us-ascii when given")
    return stored


def read_body(event: Any) -> tuple[str, bytes]:
    """Read the request body as text.

    Args:
        event: The resolver's current event (function URL, payload format 2.0).

    Returns:
        ``(content, raw)``: the body as text and as the UTF-8 bytes stored in S3.

    Raises:
        BadRequestError: No body, not valid Unicode (a lone surrogate), invalid base64, or not UTF-8.
        RequestEntityTooLargeError: Body over ``MAX_CONTENT_BYTES``.
    """
    body = event.body
    if body is None or body == "":
        raise BadRequestError("request body is required")
    if not isinstance(body, str):
        raise BadRequestError("request body must be a string")
    too_large = f"body is over {MAX_CONTENT_BYTES} bytes"
    if event.is_base64_encoded:
        if len(body) > _MAX_BASE64_CHARS:
            raise RequestEntityTooLargeError(too_large)
        try:
            raw = binascii.a2b_base64(body.encode("ascii"), strict_mode=True)
        except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
            raise BadRequestError("body is marked base64-encoded but is not valid base64") from exc
        if not raw:
            raise BadRequestError("request body is required")
    else:
        if len(body) > MAX_CONTENT_BYTES:  # every character is at least one UTF-8 byte
            raise RequestEntityTooLargeError(too_large)
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate (a JSON "\ud800" escape in the event)
            raise BadRequestError("body is not valid Unicode text") from exc
    if len(raw) > MAX_CONTENT_BYTES:
        raise RequestEntityTooLargeError(f"body is {len(raw)} bytes; the limit is {MAX_CONTENT_BYTES}")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("body must be UTF-8 text") from exc
    return content, raw


# --- helpers ---------------------------------------------------------------------------------


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


def job_message(item_id: str, content: str) -> str:
    """The ``job.created`` message: compact JSON with U+FFFE/U+FFFF escaped (see the module docstring)."""
    job = _dumps({"type": "job.created", "id": item_id, "content": content})
    return _SQS_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", job)


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


def _json_response(status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False, default=_json_default),
        headers=headers,
    )


def _error(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json_response(status_code, {"statusCode": status_code, "message": message}, headers)


def _rejected(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A 4xx for the client's input: counted, logged with its reason, never with the input."""
    metrics.add_metric(name="RequestRejected", unit=MetricUnit.Count, value=1)
    logger.info("Request rejected", extra={"status_code": status_code, "reason": message})
    return _error(status_code, message, headers)


def _unavailable(message: str) -> Response:
    metrics.add_metric(name="ServiceUnavailable", unit=MetricUnit.Count, value=1)
    return _error(503, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether an AWS call failed for a reason a retry of the request may not meet.

    Throttling and transient error codes, a 5xx status, or a connection-level failure
    (connect or read timeout, connection refused or closed), after the client's own retries.

    Args:
        exc: What the call raised.

    Returns:
        True for a transient failure (answer 503), False otherwise (500).
    """
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return _error_code(exc) in _TRANSIENT_CODES or status in _TRANSIENT_STATUS
    return isinstance(exc, _CONNECTION_ERRORS)


def undelivered_is_transient(exc: UndeliveredRecordsError) -> bool:
    """Whether the producer gave up on the audit record for transient reasons only.

    Args:
        exc: The producer's error: a ``RetriesExhaustedError`` (throttling, 5xx or connection
            failures until the attempts ran out; ``retryable`` is True) or a
            ``DeliveryRejectedError`` (a non-retryable error).

    Returns:
        True when only the attempts ran out on retryable errors (answer 503), False otherwise.
    """
    return exc.retryable


# --- routes ----------------------------------------------------------------------------------


@app.put("/items/<item_id>")
@tracer.capture_method(capture_response=False)  # responses carry item content: keep it out of traces
def put_item(item_id: str) -> Response:
    """Store an item (see the module docstring)."""
    event = app.current_event
    validate_item_id(item_id)
    content_type = normalized_content_type(event.headers.get("content-type"))
    content, raw = read_body(event)
    now = utc_now_iso()
    s3_key = f"items/{item_id}"
    item = {"id": item_id, "content": content, "s3_key": s3_key, "status": "created", "updated_at": now}
    job = job_message(item_id, content)
    if len(job.encode("utf-8")) > SQS_MAX_MESSAGE_BYTES:
        raise RequestEntityTooLargeError(f"the job message would exceed SQS's {SQS_MAX_MESSAGE_BYTES} bytes")
    record = encode_payload(audit_record(item_id, content, s3_key, now))

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
        # A response, not NotFoundError: that exception means "no such route" (see _no_route).
        return _error(404, f"item {item_id} not found")
    item = {name: _deserialize(value) for name, value in found.items()}
    s3_key = f"items/{item_id}"
    try:
        obj = s3.get_object(Bucket=BUCKET_NAME, Key=s3_key)
    except ClientError as exc:
        if _error_code(exc) in {"NoSuchKey", "AccessDenied", "404", "403"}:
            # The PUT writes S3 before the table, so an item without its object was deleted
            # out of band (S3 says AccessDenied for a missing key when ListBucket is not granted).
            logger.error(
                "Item body missing in S3", extra={"item_id": item_id, "s3_key": s3_key, "error": _error_code(exc)}
            )
            return _error(500, f"body of item {item_id} is unavailable")
        raise
    item["body"] = obj["Body"].read().decode("utf-8", errors="replace")
    metrics.add_metric(name="ItemRead", unit=MetricUnit.Count, value=1)
    return _json_response(200, item)


# --- errors ----------------------------------------------------------------------------------


@app.not_found
def _no_route(_: NotFoundError) -> Response:
    """No route matched: 405 for another method on ``/items/{id}``, 400 for an id the route
    pattern refuses (``/items/`` or characters Powertools does not match), else 404."""
    event = app.current_event
    if ITEM_PATH.fullmatch(event.path) is None:
        return _rejected(404, "Not found")
    if event.http_method.upper() not in ALLOWED_METHODS:
        return _rejected(405, f"method not allowed; use {' or '.join(ALLOWED_METHODS)}",
                         {"Allow": ", ".join(ALLOWED_METHODS)})
    try:
        validate_item_id(event.path.removeprefix("/items/"))
    except BadRequestError as exc:
        return _rejected(400, str(exc.msg))
    return _rejected(404, "Not found")  # pragma: no cover - a valid id always matches the route


@app.exception_handler(ServiceError)
def _client_error(exc: ServiceError) -> Response:
    status = int(exc.status_code)
    if status >= 500:
        logger.error("Request failed", extra={"status_code": status, "reason": str(exc.msg)})
        return _error(status, str(exc.msg))
    return _rejected(status, str(exc.msg))


@app.exception_handler(UndeliveredRecordsError)
def _stream_unavailable(exc: UndeliveredRecordsError) -> Response:
    logger.error("Audit record not delivered to the stream", extra={"error_codes": exc.error_codes})
    if undelivered_is_transient(exc):
        return _unavailable("the audit stream is unavailable; retry the request")
    return _error(500, "internal error")


@app.exception_handler([ClientError, BotoCoreError])
def _aws_error(exc: Exception) -> Response:
    code = _error_code(exc)
    logger.exception("AWS call failed", extra={"error_code": code})
    if is_transient(exc):
        return _unavailable("service busy or unreachable; retry the request")
    return _error(500, "internal error")


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
        The function URL response (``statusCode``, ``headers``, ``body``, ``isBase64Encoded``);
        a 500 response, never an exception, for anything unexpected (the exception is logged).
    """
    try:
        return app.resolve(event, context)
    except Exception:  # noqa: BLE001 - the last line of defence: a client sees 500, the log has the traceback
        logger.exception("Unhandled error")
        return {
            "statusCode": 500,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps({"statusCode": 500, "message": "internal error"}),
            "isBase64Encoded": False,
        }
