"""One entry point that turns ``process(record)`` into a batch Lambda handler.

:func:`pipeline_handler` builds a handler for Kinesis, SQS or DynamoDB Streams events. For
every event record it decodes (base64, gzip detected by magic bytes, JSON, KPL
de-aggregation for Kinesis), reads the envelope, checks its version, and calls ``process``
once per user record with a :class:`ConsumerRecord`. The response is the partial batch
response ``{"batchItemFailures": [{"itemIdentifier": ...}]}`` built by Powertools'
``BatchProcessor`` and ``process_partial_response``; the event source mapping must have
``ReportBatchItemFailures`` on (the constructs set it).

Failure semantics:

* A record ``process`` raises on, a record that cannot be decoded and a record whose envelope
  version is not in ``supported_versions`` (:class:`UnsupportedVersionError`) are reported as
  failed, with the reason logged. They never fail the whole batch and are never skipped
  silently: the mapping retries them and, with the constructs' settings, bisects and finally
  sends them to the on-failure destination / DLQ. "Cannot be decoded" (:class:`DecodeError`)
  is: base64 that is not strictly valid (junk or whitespace around valid base64 included; the
  same check as ``base64.b64decode(validate=True)``, also for DynamoDB ``B``/``BS`` values),
  a broken or truncated gzip stream, data over the decode limit (below), not UTF-8, not JSON
  (``NaN`` and infinities included), JSON nested too deeply for the parser, or a KPL aggregate
  that holds no user record.
* **Decode limit.** One Kinesis record (all of its KPL user records together) or SQS body may
  decode to at most ``max_decompressed_bytes`` bytes of JSON text. Gzip is inflated in chunks
  and refused as soon as it passes the limit. Default: env
  ``EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES``, else derived from the function's memory (see
  :mod:`event_pipeline_runtime.codec`), so one small hostile record cannot run the function out
  of memory; it fails alone.
* **Envelopes.** A body that is not a valid envelope (see :mod:`event_pipeline_runtime.envelope`
  for the accepted shape) reaches ``process`` with ``envelope=None``;
  :attr:`ConsumerRecord.envelope_error` says why and :meth:`ConsumerRecord.require_envelope`
  raises :class:`~event_pipeline_runtime.envelope.EnvelopeError` with that reason. A consumer
  that relies on envelopes calls it, so a malformed envelope fails instead of passing as "not
  an envelope".
* **Recursion guard (hop count).** A record whose envelope ``hops`` is over ``max_hops`` (env
  ``EVENT_PIPELINE_MAX_HOPS``, default 10) fails with :class:`HopLimitExceededError` before
  ``process`` sees it (for a KPL aggregate: before any of its user records is processed), so a
  consumer that writes back into its own source, directly or through other streams, stops after
  ``max_hops`` passes and the looping record ends in the on-failure destination with that reason.
  While ``process`` runs, the record's hop count is in a context variable, and every envelope an
  :class:`~event_pipeline_runtime.EventProducer` writes meanwhile carries it + 1 (see
  :mod:`event_pipeline_runtime.hops`). Records without an envelope count as 0 hops.
* **Ordering (Kinesis and DynamoDB Streams).** Lambda resumes a stream from the lowest failed
  sequence number, so every record after a failure is delivered again anyway. To keep side
  effects in stream order, after the first failed record of a shard the handler does **not**
  process the later records of that shard in the batch; it reports them as failed too and
  they come back, in order, from the checkpoint. (A Lambda stream batch holds one shard; the
  handler still groups by shard, from ``eventID``, in case it is given several.) For SQS FIFO
  queues the same rule applies per ``MessageGroupId``; standard SQS queues have no order, so
  each message stands alone.
* **KPL aggregates.** All user records of an aggregated Kinesis record are decoded before any
  is processed (a broken one fails the record with no side effect). If ``process`` fails on
  user record *k*, the whole Kinesis record is reported failed and comes back; user records
  before *k* are then skipped by idempotency (their default key includes the sub-record index)
  or, without idempotency, processed again.
* **Idempotency** (``idempotent=True``, or env ``IDEMPOTENCY_TABLE_NAME`` set): each user
  record is applied at most once per key with Powertools' idempotency utility on a DynamoDB
  table (partition key ``id``, TTL attribute ``expiration``; expiry env
  ``IDEMPOTENCY_TTL_SECONDS``, default one day). The default key is the envelope ``id``, else
  ``shardId:sequenceNumber`` (plus ``:subSequence`` inside KPL aggregates) for Kinesis, the
  ``messageId`` for SQS and the ``eventID`` for DynamoDB Streams. A record whose key was
  already applied is skipped and counts as a success: an explicit, counted outcome (the
  metric ``DuplicateRecordSkipped`` and an INFO line ``Record already applied; skipped`` with
  the key). If ``process`` raises, the key is
  released (deleted) so the retry applies it. A record whose key is still in progress (another
  invocation is applying it) fails and comes back later. The DynamoDB actions used are
  ``PutItem`` (conditional), ``UpdateItem`` and ``DeleteItem`` (and ``GetItem`` only with a
  boto3 too old to return the item on a failed condition).
"""

from __future__ import annotations

import binascii
import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from event_pipeline_runtime.aggregation import AGGREGATION_MAGIC
from event_pipeline_runtime.codec import (
    GZIP_MAGIC,
    MAX_DECOMPRESSED_BYTES_ENV,
    DecodeError,
    DecodeLimitError,
    check_max_decompressed_bytes,
    decode_json_text,
    decode_record_data,
    default_max_decompressed_bytes,
)
from event_pipeline_runtime.envelope import Envelope, EnvelopeError, envelope_error, parse_envelope
from event_pipeline_runtime.hops import (
    MAX_HOPS_ENV,
    HopLimitExceededError,
    check_max_hops,
    consuming,
    default_max_hops,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL_SECONDS",
    "DUPLICATE_METRIC",
    "ConsumerRecord",
    "HopLimitExceededError",
    "SkippedAfterFailureError",
    "UnsupportedVersionError",
    "pipeline_handler",
]

DEFAULT_IDEMPOTENCY_TTL_SECONDS = 3600 * 24
"""How long an applied key is remembered when ``IDEMPOTENCY_TTL_SECONDS`` is not set."""

DUPLICATE_METRIC = "DuplicateRecordSkipped"
"""Metric (Count) added for every record skipped because its idempotency key was applied."""

_SOURCES: dict[str, tuple[EventType, str]] = {
    "kinesis": (EventType.KinesisDataStreams, "aws:kinesis"),
    "sqs": (EventType.SQS, "aws:sqs"),
    "dynamodb": (EventType.DynamoDBStreams, "aws:dynamodb"),
}

_a2b = binascii.a2b_base64
_decode_json = decode_json_text  # json.loads minus its wrapper; refuses NaN and infinities


class UnsupportedVersionError(ValueError):
    """An envelope's version is not one the handler supports."""


class SkippedAfterFailureError(RuntimeError):
    """Not processed because an earlier record of the same shard (or FIFO group) failed."""


@dataclass(slots=True)
class ConsumerRecord:
    """One user record handed to ``process``.

    Attributes:
        body: The decoded JSON value (Kinesis, SQS) or, for DynamoDB Streams, the new image
            (the old image for REMOVE, the keys when the stream carries no image).
        envelope: The envelope when ``body`` is envelope-shaped (never for DynamoDB).
        partition_key: Kinesis partition key (the user record's, inside KPL aggregates); the
            ``MessageGroupId`` for SQS FIFO; else None.
        sequence_number: Kinesis / DynamoDB sequence number; SQS FIFO ``SequenceNumber``.
        shard_id: Kinesis shard id (from ``eventID``); else None.
        event_source: ``"aws:kinesis"``, ``"aws:sqs"`` or ``"aws:dynamodb"``.
        raw: The original event record.
        message_id: SQS ``messageId``.
        new_image: DynamoDB ``NewImage`` as plain Python (boto3 ``TypeDeserializer``).
        old_image: DynamoDB ``OldImage`` as plain Python.
        event_name: DynamoDB ``INSERT`` / ``MODIFY`` / ``REMOVE``.
        idempotency_key: The default idempotency key (see the module docstring).
        sub_sequence: Index inside a KPL aggregated record; None when not aggregated.
        keys: DynamoDB ``Keys`` as plain Python; else None.
    """

    body: Any
    envelope: Envelope | None
    partition_key: str | None
    sequence_number: str | None
    shard_id: str | None
    event_source: str
    raw: dict[str, Any]
    message_id: str | None = None
    new_image: dict[str, Any] | None = None
    old_image: dict[str, Any] | None = None
    event_name: str | None = None
    idempotency_key: str = ""
    sub_sequence: int | None = None
    keys: dict[str, Any] | None = None

    @property
    def data(self) -> Any:
        """The envelope's ``data`` when there is an envelope, else ``body``."""
        envelope = self.envelope
        return envelope.data if envelope is not None else self.body

    @property
    def type(self) -> str | None:
        """The envelope's ``type``, or None."""
        envelope = self.envelope
        return envelope.type if envelope is not None else None

    @property
    def envelope_error(self) -> str | None:
        """Why ``body`` is not a valid envelope; None when :attr:`envelope` is set."""
        if self.envelope is not None:
            return None
        if self.event_source == "aws:dynamodb":
            return "a DynamoDB stream record carries no envelope"
        return envelope_error(self.body) or "not an envelope"

    def require_envelope(self) -> Envelope:
        """The envelope; raise when the record has none.

        Returns:
            :attr:`envelope`.

        Raises:
            EnvelopeError: When ``body`` is not a valid envelope; the message names the record
                and the broken rule (e.g. ``envelope version must be an integer (given '1' (str))``).
        """
        envelope = self.envelope
        if envelope is not None:
            return envelope
        raise EnvelopeError(f"{self.where}: {self.envelope_error}")

    @property
    def where(self) -> str:
        """The record named for messages: ``Kinesis record <seq>[ user record <n>]``, ..."""
        if self.event_source == "aws:sqs":
            return f"SQS message {self.message_id}"
        if self.event_source == "aws:dynamodb":
            return f"DynamoDB stream record {self.sequence_number}"
        if self.sub_sequence is not None:
            return f"Kinesis record {self.sequence_number} user record {self.sub_sequence}"
        return f"Kinesis record {self.sequence_number}"


# --- decoding, one function per source -----------------------------------------------------


def _check_version(envelope: Envelope, supported: Collection[int], where: str) -> None:
    if envelope.version not in supported:
        raise UnsupportedVersionError(
            f"{where}: envelope version {envelope.version} of event type {envelope.type!r} "
            f"(id {envelope.id!r}) is not supported (supported: {sorted(supported)})"
        )


def _kinesis_records(raw: dict[str, Any], supported: Collection[int], limit: int) -> list[ConsumerRecord]:
    kinesis = raw["kinesis"]
    sequence = kinesis["sequenceNumber"]
    partition_key = kinesis["partitionKey"]
    event_id = raw.get("eventID")
    shard = event_id.partition(":")[0] if event_id else None
    try:
        data = _a2b(kinesis["data"], strict_mode=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise DecodeError(f"Kinesis record {sequence}: data is not valid base64: {exc}") from exc
    head = data[:4]
    if head != AGGREGATION_MAGIC and head[:2] != GZIP_MAGIC:
        # Hot path: one plain JSON user record.
        if len(data) > limit:
            raise DecodeLimitError(
                f"Kinesis record {sequence}: payload is {len(data)} bytes of JSON text, over the limit "
                f"of {limit} bytes (set by {MAX_DECOMPRESSED_BYTES_ENV} or the function's memory)"
            )
        try:
            body = _decode_json(data.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
            raise DecodeError(f"Kinesis record {sequence}: payload is not UTF-8 JSON: {exc}") from exc
        except RecursionError as exc:
            raise DecodeError(f"Kinesis record {sequence}: payload is JSON nested too deeply to parse") from exc
        envelope = parse_envelope(body)
        if envelope is not None:
            if envelope.version not in supported:
                _check_version(envelope, supported, f"Kinesis record {sequence}")
            key = envelope.id
        else:
            key = f"{shard}:{sequence}"
        return [
            ConsumerRecord(
                body, envelope, partition_key, sequence, shard, "aws:kinesis", raw, None, None, None, None, key
            )
        ]
    try:
        decoded = decode_record_data(data, partition_key, max_decompressed_bytes=limit)
    except DecodeError as exc:
        raise type(exc)(f"Kinesis record {sequence}: {exc}") from exc
    out = []
    for user in decoded:
        envelope = user.envelope
        sub = user.sub_sequence
        where = f"Kinesis record {sequence}" if sub is None else f"Kinesis record {sequence} user record {sub}"
        if envelope is not None:
            _check_version(envelope, supported, where)
            key = envelope.id
        elif sub is None:
            key = f"{shard}:{sequence}"
        else:
            key = f"{shard}:{sequence}:{sub}"
        out.append(
            ConsumerRecord(
                user.body, envelope, user.partition_key, sequence, shard, "aws:kinesis", raw,
                idempotency_key=key, sub_sequence=sub,
            )
        )
    return out


def _sqs_records(raw: dict[str, Any], supported: Collection[int], limit: int) -> list[ConsumerRecord]:
    message_id = raw["messageId"]
    body_text = raw.get("body")
    if not isinstance(body_text, str):
        raise DecodeError(f"SQS message {message_id}: no body")
    if len(body_text) > limit:
        raise DecodeLimitError(
            f"SQS message {message_id}: body is {len(body_text)} characters of JSON text, over the limit "
            f"of {limit} (set by {MAX_DECOMPRESSED_BYTES_ENV} or the function's memory)"
        )
    try:
        body = _decode_json(body_text)
    except ValueError as exc:
        raise DecodeError(f"SQS message {message_id}: body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise DecodeError(f"SQS message {message_id}: body is JSON nested too deeply to parse") from exc
    envelope = parse_envelope(body)
    if envelope is not None:
        _check_version(envelope, supported, f"SQS message {message_id}")
        key = envelope.id
    else:
        key = message_id
    attributes = raw.get("attributes") or {}
    return [
        ConsumerRecord(
            body, envelope, attributes.get("MessageGroupId"), attributes.get("SequenceNumber"), None,
            "aws:sqs", raw, message_id=message_id, idempotency_key=key,
        )
    ]


_deserializer: Any = None


def _deserialize_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    global _deserializer  # noqa: PLW0603 - one lazily built, stateless deserializer
    if image is None:
        return None
    if _deserializer is None:
        from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415 - only DynamoDB needs boto3

        _deserializer = TypeDeserializer()
    deserialize = _deserializer.deserialize
    return {name: deserialize(_binary_to_bytes(value)) for name, value in image.items()}


def _binary_to_bytes(value: Any) -> Any:
    """Lambda's DynamoDB Streams events carry ``B``/``BS`` values as base64 text; boto3's
    ``TypeDeserializer`` wants bytes. Decode them strictly, also inside ``M`` and ``L`` values."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (tag, inner), = value.items()
    if tag == "B" and isinstance(inner, str):
        return {"B": _a2b(inner, strict_mode=True)}
    if tag == "BS" and isinstance(inner, list):
        return {"BS": [_a2b(v, strict_mode=True) if isinstance(v, str) else v for v in inner]}
    if tag == "M" and isinstance(inner, dict):
        return {"M": {k: _binary_to_bytes(v) for k, v in inner.items()}}
    if tag == "L" and isinstance(inner, list):
        return {"L": [_binary_to_bytes(v) for v in inner]}
    return value


def _dynamodb_records(raw: dict[str, Any], supported: Collection[int], limit: int) -> list[ConsumerRecord]:
    change = raw.get("dynamodb") or {}
    event_id = raw.get("eventID")
    try:
        new_image = _deserialize_image(change.get("NewImage"))
        old_image = _deserialize_image(change.get("OldImage"))
        keys = _deserialize_image(change.get("Keys"))
    # binascii.Error is a ValueError; decimal's InvalidOperation / Inexact are ArithmeticErrors.
    except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise DecodeError(f"DynamoDB stream record {event_id}: cannot deserialize image: {exc}") from exc
    body = new_image if new_image is not None else old_image if old_image is not None else keys
    sequence = change.get("SequenceNumber")
    return [
        ConsumerRecord(
            body, None, None, sequence, None, "aws:dynamodb", raw,
            new_image=new_image, old_image=old_image, event_name=raw.get("eventName"),
            idempotency_key=str(event_id if event_id is not None else sequence), keys=keys,
        )
    ]


_DECODERS: dict[str, Callable[[dict[str, Any], Collection[int], int], list[ConsumerRecord]]] = {
    "kinesis": _kinesis_records,
    "sqs": _sqs_records,
    "dynamodb": _dynamodb_records,
}


def _kinesis_group(raw: dict[str, Any]) -> str | None:
    event_id = raw.get("eventID")
    if event_id:
        return event_id.partition(":")[0]
    return raw.get("eventSourceARN") or ""


def _dynamodb_group(raw: dict[str, Any]) -> str | None:
    return raw.get("eventSourceARN") or ""


def _sqs_group(raw: dict[str, Any]) -> str | None:
    attributes = raw.get("attributes")
    return attributes.get("MessageGroupId") if attributes else None


_GROUPS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "kinesis": _kinesis_group,
    "sqs": _sqs_group,
    "dynamodb": _dynamodb_group,
}


def _item_identifier(raw: dict[str, Any]) -> str | None:
    if "kinesis" in raw:
        return raw["kinesis"].get("sequenceNumber")
    if "messageId" in raw:
        return raw["messageId"]
    return (raw.get("dynamodb") or {}).get("SequenceNumber")


# --- the batch processor ------------------------------------------------------------------


class PipelineBatchProcessor(BatchProcessor):
    """Powertools ``BatchProcessor`` with stream ordering and failure logging.

    Differences from the base class:

    * after a failure, later records of the same group (shard / FIFO group) are reported as
      failed without being processed (see the module docstring);
    * the record handler gets the raw event record (the runtime decodes it itself); the
      Powertools data class is only built for a failed record, to collect its identifier;
    * every failure is logged with its reason.
    """

    def __init__(
        self,
        event_type: EventType,
        group_of: Callable[[dict[str, Any]], str | None],
        logger: Any,
        *,
        raise_on_entire_batch_failure: bool = False,
    ) -> None:
        super().__init__(event_type, raise_on_entire_batch_failure=raise_on_entire_batch_failure)
        self._group_of = group_of
        self._log = logger

    def process(self) -> list[tuple]:
        """Process the records in order, holding back a group after its first failure."""
        results: list[tuple] = []
        append = results.append
        blocked: dict[str, str] = {}
        skipped = 0
        group_of = self._group_of
        for record in self.records:
            if blocked:
                group = group_of(record)
                if group is not None and group in blocked:
                    append(self._skip(record, group, blocked[group]))
                    skipped += 1
                    continue
            result = self._process_record(record)
            if result[0] == "fail":
                group = group_of(record)
                if group is not None:
                    blocked[group] = str(_item_identifier(record))
            append(result)
        if skipped:
            self._log.info(
                "Later records of a failed shard/group reported as failed without processing",
                extra={"skipped_records": skipped, "groups": sorted(blocked)},
            )
        return results

    def _skip(self, record: dict[str, Any], group: str, first_failed: str) -> tuple:
        exc = SkippedAfterFailureError(
            f"not processed: earlier record {first_failed} of {group} failed; it comes back from the checkpoint"
        )
        return self.failure_handler(
            record=self._to_batch_type(record=record, event_type=self.event_type),
            exception=(SkippedAfterFailureError, exc, None),
        )

    def _process_record(self, record: dict[str, Any]) -> tuple:
        try:
            result = self.handler(record)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            self._log_failure(record, exc)
            # Powertools keeps every failure's exception info until the next batch. A traceback
            # holds the frames that failed, and their locals hold the decoded record: drop them
            # (after logging), so failed records do not pile up in memory within a batch.
            _drop_tracebacks(exc)
            return self.failure_handler(
                record=self._to_batch_type(record=record, event_type=self.event_type),
                exception=(type(exc), exc, None),
            )
        self.success_messages.append(cast(Any, record))  # the raw record: Powertools only counts them
        return ("success", result, record)

    def _log_failure(self, record: dict[str, Any], exc: Exception) -> None:
        extra = {
            "item_identifier": _item_identifier(record),
            "event_source": record.get("eventSource"),
            "error_type": type(exc).__name__,
            "failure_reason": str(exc),
        }
        if isinstance(exc, (DecodeError, UnsupportedVersionError, EnvelopeError, HopLimitExceededError)):
            self._log.error(
                "Record cannot be consumed; reported as failed (it goes to the DLQ after retries)", extra=extra
            )
        else:
            self._log.exception("Record processing failed; reported as failed", extra=extra)


def _drop_tracebacks(exc: BaseException) -> None:
    """Detach the tracebacks of ``exc`` and of its cause/context chain (their frames' locals)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        if isinstance(current, json.JSONDecodeError):
            current.doc = ""  # it keeps the whole undecodable text
        elif isinstance(current, UnicodeDecodeError):
            current.object = b""  # it keeps the whole undecodable data
        current = current.__cause__ or current.__context__


# --- the entry point -----------------------------------------------------------------------


def _make_idempotent(
    process: Callable[[ConsumerRecord], Any],
    *,
    table_name: str,
    ttl_seconds: int,
    key_prefix: str,
    key_of: Callable[[ConsumerRecord], str] | None,
    boto3_client: Any,
    logger: Any,
    metrics: Any,
) -> tuple[Callable[[ConsumerRecord], Any], Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - only when idempotent
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="id", expiry_attr="expiration", boto3_client=boto3_client
    )
    if boto3_client is None:
        # Made at init: after a SnapStart restore its connections and credentials are the
        # snapshot's. Make a new one then (event_pipeline_runtime.snapstart).
        from event_pipeline_runtime.snapstart import on_restore  # noqa: PLC0415

        def new_client() -> None:
            import boto3  # noqa: PLC0415

            persistence.client = boto3.session.Session().client("dynamodb")

        on_restore(new_client)
    config = IdempotencyConfig(expires_after_seconds=ttl_seconds)
    if metrics is None:
        from aws_lambda_powertools import Metrics  # noqa: PLC0415 - shares the metric set of the handler's Metrics

        metrics = Metrics()
    called = [False]

    @idempotent_function(
        data_keyword_argument="idempotency_key", persistence_store=persistence, config=config, key_prefix=key_prefix
    )
    def apply_once(*, idempotency_key: str, record: ConsumerRecord) -> None:
        called[0] = True
        process(record)

    def apply(record: ConsumerRecord) -> None:
        key = key_of(record) if key_of is not None else record.idempotency_key
        if not key:
            raise ValueError(f"empty idempotency key for {record.event_source} record {record.sequence_number}")
        called[0] = False
        apply_once(idempotency_key=key, record=record)
        if not called[0]:
            # Powertools returned the stored result without calling process: a duplicate.
            metrics.add_metric(name=DUPLICATE_METRIC, unit="Count", value=1)
            logger.info(
                "Record already applied; skipped",
                extra={"outcome": "duplicate", "reason": "idempotency key already applied",
                       "idempotency_key": key, "record": record.where},
            )

    return apply, config, persistence


class PipelineHandler(Protocol):
    """What :func:`pipeline_handler` returns: the Lambda handler, with its settings readable
    (for tests and introspection)."""

    #: The Powertools batch processor that runs each record.
    processor: PipelineBatchProcessor
    #: The decode limit in force (argument, environment or derived default).
    max_decompressed_bytes: int
    #: The hop limit in force (argument, environment or default).
    max_hops: int
    #: The Powertools idempotency persistence layer, or None when not idempotent.
    idempotency_store: Any

    def __call__(self, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]: ...


def pipeline_handler(
    process: Callable[[ConsumerRecord], Any],
    *,
    source: str,
    idempotent: bool | None = None,
    supported_versions: Collection[int] = (1,),
    logger: Any = None,
    idempotency_key: Callable[[ConsumerRecord], str] | None = None,
    idempotency_table_name: str | None = None,
    idempotency_ttl_seconds: int | None = None,
    idempotency_key_prefix: str | None = None,
    dynamodb_client: Any = None,
    raise_on_entire_batch_failure: bool = False,
    max_decompressed_bytes: int | None = None,
    metrics: Any = None,
    max_hops: int | None = None,
) -> PipelineHandler:
    """Build a batch Lambda handler that calls ``process`` once per user record.

    Args:
        process: Called with each :class:`ConsumerRecord`; raise to fail the record.
        source: ``"kinesis"``, ``"sqs"`` or ``"dynamodb"``.
        idempotent: Apply each record at most once per key (see the module docstring).
            Default: on when env ``IDEMPOTENCY_TABLE_NAME`` is set.
        supported_versions: Envelope versions ``process`` understands. Default: ``(1,)``.
        logger: A Powertools ``Logger`` or ``logging.Logger``. Default: a Powertools Logger
            for ``POWERTOOLS_SERVICE_NAME``.
        idempotency_key: Computes the key from a record. Default: ``record.idempotency_key``.
        idempotency_table_name: Default: env ``IDEMPOTENCY_TABLE_NAME``.
        idempotency_ttl_seconds: How long an applied key is remembered. Default: env
            ``IDEMPOTENCY_TTL_SECONDS``, else 86400.
        idempotency_key_prefix: Scopes keys in a shared table. Default: env
            ``AWS_LAMBDA_FUNCTION_NAME`` (``local`` outside Lambda).
        dynamodb_client: boto3 DynamoDB client for the idempotency table. Default: a new one.
        raise_on_entire_batch_failure: Raise (a function error) instead of returning a response
            listing every record when all records failed. Default: False.
        max_decompressed_bytes: The most bytes of JSON text one Kinesis record (all of its KPL
            user records together) or SQS body may decode to; a record over it fails alone
            with a :class:`DecodeError`. Default: env ``EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES``,
            else derived from env ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` (see
            :func:`~event_pipeline_runtime.codec.default_max_decompressed_bytes`).
        metrics: Where the runtime's counted outcomes go (``DuplicateRecordSkipped``): a
            Powertools ``Metrics`` (anything with ``add_metric(name=, unit=, value=)``).
            Default: a new Powertools ``Metrics()``, which shares its metric set with the
            handler's own ``Metrics`` (flush them with ``@metrics.log_metrics``).
        max_hops: The most hops a consumed envelope may carry (0-1000000); a record with more
            fails with :class:`HopLimitExceededError` before ``process`` runs (see the module
            docstring). Default: env ``EVENT_PIPELINE_MAX_HOPS``, else 10.

    Returns:
        ``handler(event, context) -> {"batchItemFailures": [...]}``.

    Raises:
        ValueError: Unknown ``source``, empty ``supported_versions``, idempotency asked for
            without a table name, or an invalid decode limit or hop limit (argument or environment).
    """
    source_key = source.lower().removeprefix("aws:")
    if source_key not in _SOURCES:
        raise ValueError(f"source must be one of {sorted(_SOURCES)} (given {source!r})")
    versions = frozenset(supported_versions)
    if not versions:
        raise ValueError("supported_versions must name at least one envelope version")
    event_type, _ = _SOURCES[source_key]
    limit = (
        default_max_decompressed_bytes()
        if max_decompressed_bytes is None
        else check_max_decompressed_bytes(max_decompressed_bytes)
    )
    hop_limit = default_max_hops() if max_hops is None else check_max_hops(max_hops)
    table_name = idempotency_table_name or os.environ.get("IDEMPOTENCY_TABLE_NAME") or ""
    if idempotent is None:
        idempotent = bool(table_name)
    if logger is None:
        from aws_lambda_powertools import Logger  # noqa: PLC0415

        logger = Logger()

    apply: Callable[[ConsumerRecord], Any] = process
    config: Any = None
    store: Any = None
    if idempotent:
        if not table_name:
            raise ValueError("idempotent=True needs idempotency_table_name or env IDEMPOTENCY_TABLE_NAME")
        if idempotency_ttl_seconds is None:
            idempotency_ttl_seconds = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS") or DEFAULT_IDEMPOTENCY_TTL_SECONDS)
        if idempotency_ttl_seconds < 1:
            raise ValueError(f"idempotency_ttl_seconds must be at least 1 (given {idempotency_ttl_seconds})")
        apply, config, store = _make_idempotent(
            process,
            table_name=table_name,
            ttl_seconds=idempotency_ttl_seconds,
            key_prefix=idempotency_key_prefix or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local",
            key_of=idempotency_key,
            boto3_client=dynamodb_client,
            logger=logger,
            metrics=metrics,
        )

    decode = _DECODERS[source_key]

    def record_handler(record: dict[str, Any]) -> None:
        user_records = decode(record, versions, limit)
        for user_record in user_records:  # every user record is checked before any is processed
            envelope = user_record.envelope
            if envelope is not None and envelope.hops > hop_limit:
                raise HopLimitExceededError(
                    f"{user_record.where}: event {envelope.id!r} of type {envelope.type!r} has taken "
                    f"{envelope.hops} hops, over the limit of {hop_limit} (set by max_hops or "
                    f"{MAX_HOPS_ENV}): a consumer keeps producing it back into its own source, a recursive "
                    "loop; not processed"
                )
        for user_record in user_records:
            envelope = user_record.envelope
            with consuming(envelope.hops if envelope is not None else 0):
                apply(user_record)

    processor = PipelineBatchProcessor(
        event_type, _GROUPS[source_key], logger, raise_on_entire_batch_failure=raise_on_entire_batch_failure
    )

    def handler(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        if config is not None and context is not None and hasattr(context, "get_remaining_time_in_millis"):
            config.register_lambda_context(context)
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return cast(dict[str, Any], response)

    typed = cast(PipelineHandler, handler)  # the same function object, its attributes set below
    typed.processor = processor
    typed.max_decompressed_bytes = limit
    typed.max_hops = hop_limit
    typed.idempotency_store = store
    return typed
