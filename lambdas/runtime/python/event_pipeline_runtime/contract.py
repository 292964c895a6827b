"""The contract between the constructs and the runtime: environment-variable names and limits.

Defined once, here. The constructs (``cdk_event_pipeline._defaults``) import these names to set
the variables on the functions they build; the runtime's modules import them to read them. This
module imports only ``os`` (the constructs import it at synth time, and importing it must not load
the producer, the consumer, boto3 or Powertools: ``event_pipeline_runtime/__init__.py`` is lazy).
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = [
    "AGGREGATE_ENV",
    "COMPRESS_ENV",
    "DEFAULT_MAX_HOPS",
    "IDEMPOTENCY_TABLE_ENV",
    "IDEMPOTENCY_TTL_ENV",
    "MAX_DECOMPRESSED_BYTES_ENV",
    "MAX_HOPS_ENV",
    "MAX_HOPS_LIMIT",
    "MAX_MESSAGE_GROUP_ID_CHARS",
    "MAX_MESSAGES_PER_SEND_BATCH",
    "MAX_PARTITION_KEY_CHARS",
    "MAX_RECORDS_PER_REQUEST",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_BYTES_ENV",
    "MAX_RECORD_BYTES_LIMIT",
    "MAX_REQUEST_BYTES",
    "MAX_REQUEST_BYTES_LIMIT",
    "QUEUE_FAIR_ENV",
    "QUEUE_URL_ENV",
    "STREAM_NAME_ENV",
    "TABLE_NAME_ENV",
    "WINDOW_STATE_LIMIT_BYTES",
    "window_state_json",
    "message_group_id_error",
    "require_env",
]

# --- environment variables the constructs set and the runtime reads -------------------------------

STREAM_NAME_ENV = "STREAM_NAME"
"""The stream a producer writes to (``EventStream.connect_producer``; ``EventProducer``'s default)."""
COMPRESS_ENV = "EVENT_PIPELINE_COMPRESS"
"""``EventProducer``'s default ``compress`` (``"true"``/``"false"``), set by ``connect_producer``."""
AGGREGATE_ENV = "EVENT_PIPELINE_AGGREGATE"
"""``EventProducer``'s default ``aggregate`` (``"true"``/``"false"``), set by ``connect_producer``."""
MAX_RECORD_BYTES_ENV = "EVENT_PIPELINE_MAX_RECORD_BYTES"
"""``EventProducer``'s default ``max_record_bytes`` (bytes, a decimal integer from 1 to 10 MiB): the
stream's maximum record size, set by ``connect_producer`` when the stream's ``max_record_size`` is set."""
MAX_HOPS_ENV = "EVENT_PIPELINE_MAX_HOPS"
"""The most hops a consumer accepts (set by the constructs' ``max_hops``; read by ``pipeline_handler``)."""
MAX_DECOMPRESSED_BYTES_ENV = "EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES"
"""The consumer's decode limit, in bytes (see ``event_pipeline_runtime.codec``)."""
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE_NAME"
"""The idempotency table of a consumer (set by the constructs' ``idempotency``; turns it on in
``pipeline_handler``)."""
IDEMPOTENCY_TTL_ENV = "IDEMPOTENCY_TTL_SECONDS"
"""How long ``pipeline_handler`` remembers an applied idempotency key, in seconds."""
QUEUE_URL_ENV = "QUEUE_URL"
"""The queue a producer sends to (``WorkQueue.connect_producer``'s default ``env_var``)."""
QUEUE_FAIR_ENV = "EVENT_PIPELINE_QUEUE_FAIR"
"""``QueueProducer``'s default ``fair`` (``"true"``/``"false"``), set to ``"true"`` by
``WorkQueue.connect_producer(fn, fair=True)``: every message needs a tenant key, sent as its
``MessageGroupId`` (SQS fair queues)."""
TABLE_NAME_ENV = "TABLE_NAME"
"""The table a reader or writer uses (``EntityTable.grant_*``'s default ``env_var``)."""


def require_env(name: str, who: str) -> str:
    """The value of environment variable ``name``; raise, naming it and ``who`` needs it, when unset or empty.

    Handlers read their settings at import time with this, so a missing variable fails the cold
    start with its name instead of a ``KeyError`` on the first record.
    """
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required by the {who}")
    return value

# --- the recursion guard (the library's own limits, not AWS's) -------------------------------------

DEFAULT_MAX_HOPS = 10
"""Hops a record may take before a consumer refuses it: ten consumer-to-producer passes is far more
than any pipeline of this library chains on purpose, and a loop stops after ten extra
invocations (AWS's own loop detection for SQS stops after about 16: "Use Lambda recursive loop
detection to prevent infinite loops", https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html)."""
MAX_HOPS_LIMIT = 1_000_000
"""The largest hop count an envelope may carry and the largest ``max_hops`` (a sanity bound)."""

# --- Lambda tumbling windows ----------------------------------------------------------------------

WINDOW_STATE_LIMIT_BYTES = 1024 * 1024
"""A tumbling window's state, at most 1 MB per shard: "Your state can be a maximum of 1 MB per shard. If
it exceeds that size, Lambda terminates the window early" ("Implementing stateful Kinesis Data Streams
processing in Lambda", https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html; the
DynamoDB Streams page, services-ddb-windows.html, says the same). Measured as the UTF-8 bytes of the
state's JSON text, :func:`window_state_json`."""


def window_state_json(state: Any, *, strict: bool = True) -> str:
    """A window state's JSON text, the one form its size is measured in (compact, UTF-8 counted by the
    caller): by ``window_handler`` before it returns a state and by the local runner when it decides to
    end a window early. ``strict`` refuses NaN and infinities (``ValueError``), which JSON cannot carry."""
    return json.dumps(state, separators=(",", ":"), allow_nan=not strict)

# --- Kinesis Data Streams limits ------------------------------------------------------------------
# "PutRecords", Amazon Kinesis Data Streams API Reference
# (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html), and "Quotas and
# limits", Kinesis Data Streams Developer Guide
# (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html), checked 2026-11.

MAX_RECORDS_PER_REQUEST = 500
"""PutRecords: at most 500 records per request (API_PutRecords.html)."""
MAX_RECORD_BYTES = 1024 * 1024
"""A stream's default maximum record size (data + partition key): 1 MiB (service-sizes-and-limits.html)."""
MAX_RECORD_BYTES_LIMIT = 10 * 1024 * 1024
"""The largest maximum record size a stream can be configured with: 10 MiB (UpdateMaxRecordSize,
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateMaxRecordSize.html)."""
MAX_REQUEST_BYTES = 5 * 1024 * 1024
"""Default PutRecords request budget (data + partition keys): 5 MiB, the long-standing limit, valid
for every stream (API_PutRecords.html)."""
MAX_REQUEST_BYTES_LIMIT = 10 * 1024 * 1024
"""The current PutRecords request limit: 10 MiB (API_PutRecords.html)."""
MAX_PARTITION_KEY_CHARS = 256
"""Partition keys are 1-256 Unicode characters (PutRecordsRequestEntry.PartitionKey,
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsRequestEntry.html)."""

# --- Amazon SQS limits ---------------------------------------------------------------------------
# "SendMessage" and "SendMessageBatch", Amazon SQS API Reference
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html,
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html), and
# "Amazon SQS fair queues", SQS Developer Guide
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html):
# on a standard queue, MessageGroupId names the tenant of a message; checked 2026-12.

MAX_MESSAGE_GROUP_ID_CHARS = 128
"""SendMessage.MessageGroupId: at most 128 characters (and at least one: an empty one is refused)."""
_MESSAGE_GROUP_ID_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_MESSAGE_GROUP_ID_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + _MESSAGE_GROUP_ID_PUNCTUATION
)
"""SendMessage.MessageGroupId: "alphanumeric characters and punctuation" (ASCII letters, digits and
``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``; no space)."""
MAX_MESSAGES_PER_SEND_BATCH = 10
"""SendMessageBatch: at most 10 entries per request (API_SendMessageBatch.html)."""


def message_group_id_error(value: object) -> str | None:
    """Why ``value`` is not a valid SQS ``MessageGroupId`` (see the limits above), or None when it is."""
    if not isinstance(value, str):
        return f"must be a string (given {type(value).__name__})"
    if not 1 <= len(value) <= MAX_MESSAGE_GROUP_ID_CHARS:
        return f"must be 1-{MAX_MESSAGE_GROUP_ID_CHARS} characters long (given {len(value)})"
    bad = sorted({c for c in value if c not in _MESSAGE_GROUP_ID_CHARS})
    if bad:
        shown = "".join(bad[:10])
        return (f"may contain only ASCII letters, digits and the punctuation {_MESSAGE_GROUP_ID_PUNCTUATION} "
                f"(given {value[:40]!r}, with {shown!r})")
    return None
