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
  queues (event source ARN ending in ``.fifo``) the same rule applies per ``MessageGroupId``;
  standard SQS queues have no order, so each message stands alone, even when it carries a
  ``MessageGroupId`` (a fair queue's tenant key: a failure never holds back that tenant).
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

Where the parts live: this module is the handler factory (:func:`pipeline_handler`, a list of
small steps); decoding, one function per source, is :mod:`event_pipeline_runtime.sources`; the
batch processor (ordering, failure logging) :mod:`event_pipeline_runtime.batch`; idempotency
:mod:`event_pipeline_runtime.idempotency`. Their public names are importable from here too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response

from event_pipeline_runtime.batch import PipelineBatchProcessor, SkippedAfterFailureError
from event_pipeline_runtime.codec import check_max_decompressed_bytes, default_max_decompressed_bytes
from event_pipeline_runtime.contract import IDEMPOTENCY_TABLE_ENV, IDEMPOTENCY_TTL_ENV, MAX_HOPS_ENV
from event_pipeline_runtime.hops import HopLimitExceededError, check_max_hops, consuming, default_max_hops
from event_pipeline_runtime.idempotency import DEFAULT_IDEMPOTENCY_TTL_SECONDS, DUPLICATE_METRIC, make_idempotent
from event_pipeline_runtime.sources import DECODERS, GROUPS, ConsumerRecord, UnsupportedVersionError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL_SECONDS",
    "DUPLICATE_METRIC",
    "ConsumerRecord",
    "HandlerSettings",
    "HopLimitExceededError",
    "PipelineBatchProcessor",
    "PipelineHandler",
    "SkippedAfterFailureError",
    "UnsupportedVersionError",
    "decoded_records",
    "handler_settings",
    "pipeline_handler",
]

_SOURCES: dict[str, tuple[EventType, str]] = {
    "kinesis": (EventType.KinesisDataStreams, "aws:kinesis"),
    "sqs": (EventType.SQS, "aws:sqs"),
    "dynamodb": (EventType.DynamoDBStreams, "aws:dynamodb"),
}

Apply = Callable[[ConsumerRecord], Any]


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
    settings = handler_settings(source, supported_versions, max_decompressed_bytes, max_hops, logger)
    limit, hop_limit, logger = settings.limit, settings.hop_limit, settings.logger
    apply, config, store = _idempotency(
        process, idempotent=idempotent, table_name=idempotency_table_name, ttl_seconds=idempotency_ttl_seconds,
        key_prefix=idempotency_key_prefix, key_of=idempotency_key, boto3_client=dynamodb_client, logger=logger,
        metrics=metrics,
    )
    record_handler = _record_handler(settings, apply)
    processor = settings.processor(raise_on_entire_batch_failure=raise_on_entire_batch_failure)

    def handler(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        if isinstance(event, dict) and "window" in event and "isFinalInvokeForWindow" in event:
            raise ValueError(
                "a tumbling-window event (the mapping has TumblingWindowInSeconds): pipeline_handler returns "
                "no 'state', so Lambda would fail every invocation; build the handler with window_handler"
            )
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


# --- the steps of pipeline_handler -----------------------------------------------------------------


def _source_key(source: str) -> str:
    """``"kinesis"``, ``"sqs"`` or ``"dynamodb"`` from ``source`` (``aws:`` prefix and case ignored)."""
    source_key = source.lower().removeprefix("aws:")
    if source_key not in _SOURCES:
        raise ValueError(f"source must be one of {sorted(_SOURCES)} (given {source!r})")
    return source_key


def _idempotency(
    process: Apply,
    *,
    idempotent: bool | None,
    table_name: str | None,
    ttl_seconds: int | None,
    key_prefix: str | None,
    key_of: Callable[[ConsumerRecord], str] | None,
    boto3_client: Any,
    logger: Any,
    metrics: Any,
) -> tuple[Apply, Any, Any]:
    """``(apply, config, store)``: ``process`` made idempotent when asked (or env
    ``IDEMPOTENCY_TABLE_NAME`` is set), else ``(process, None, None)``."""
    table = table_name or os.environ.get(IDEMPOTENCY_TABLE_ENV) or ""
    if idempotent is None:
        idempotent = bool(table)
    if not idempotent:
        return process, None, None
    if not table:
        raise ValueError(f"idempotent=True needs idempotency_table_name or env {IDEMPOTENCY_TABLE_ENV}")
    if ttl_seconds is None:
        ttl_seconds = int(os.environ.get(IDEMPOTENCY_TTL_ENV) or DEFAULT_IDEMPOTENCY_TTL_SECONDS)
    if ttl_seconds < 1:
        raise ValueError(f"idempotency_ttl_seconds must be at least 1 (given {ttl_seconds})")
    return make_idempotent(
        process,
        table_name=table,
        ttl_seconds=ttl_seconds,
        key_prefix=key_prefix or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local",
        key_of=key_of,
        boto3_client=boto3_client,
        logger=logger,
        metrics=metrics,
    )


def _record_handler(settings: HandlerSettings, apply: Apply) -> Callable[[dict[str, Any]], None]:
    """What the batch processor runs per event record: decode, check every hop count, then apply."""

    def record_handler(record: dict[str, Any]) -> None:
        for user_record in decoded_records(record, settings):
            envelope = user_record.envelope
            with consuming(envelope.hops if envelope is not None else 0):
                apply(user_record)

    return record_handler


# --- what pipeline_handler and window_handler share ----------------------------------------------


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """The settings of a batch handler, checked: which source, what it decodes, the limits, the logger."""

    source_key: str
    versions: frozenset[int]
    limit: int
    hop_limit: int
    logger: Any

    @property
    def decode(self) -> Callable[[dict[str, Any], Collection[int], int], list[ConsumerRecord]]:
        """The source's decoder (:data:`event_pipeline_runtime.sources.DECODERS`)."""
        return DECODERS[self.source_key]

    def processor(self, *, raise_on_entire_batch_failure: bool) -> PipelineBatchProcessor:
        """The batch processor for this source (ordering per shard / FIFO group, failure logging)."""
        return PipelineBatchProcessor(
            _SOURCES[self.source_key][0], GROUPS[self.source_key], self.logger,
            raise_on_entire_batch_failure=raise_on_entire_batch_failure,
        )


def handler_settings(
    source: str,
    supported_versions: Collection[int],
    max_decompressed_bytes: int | None,
    max_hops: int | None,
    logger: Any,
) -> HandlerSettings:
    """Check and complete a handler's settings (arguments, else environment, else defaults).

    Raises:
        ValueError: Unknown ``source``, empty ``supported_versions``, an invalid decode or hop limit.
    """
    source_key = _source_key(source)
    versions = frozenset(supported_versions)
    if not versions:
        raise ValueError("supported_versions must name at least one envelope version")
    limit = (
        default_max_decompressed_bytes()
        if max_decompressed_bytes is None
        else check_max_decompressed_bytes(max_decompressed_bytes)
    )
    hop_limit = default_max_hops() if max_hops is None else check_max_hops(max_hops)
    if logger is None:
        from aws_lambda_powertools import Logger  # noqa: PLC0415

        logger = Logger()
    return HandlerSettings(source_key, versions, limit, hop_limit, logger)


def decoded_records(record: dict[str, Any], settings: HandlerSettings) -> list[ConsumerRecord]:
    """The user records of one event record, decoded, their versions and every hop count checked
    before any is returned (so a looping KPL aggregate fails before any of it is applied).

    Raises:
        DecodeError: The record cannot be decoded.
        UnsupportedVersionError: An envelope's version is not supported.
        HopLimitExceededError: An envelope has taken more hops than the limit.
    """
    user_records = settings.decode(record, settings.versions, settings.limit)
    for user_record in user_records:
        _check_hops(user_record, settings.hop_limit)
    return user_records


def _check_hops(user_record: ConsumerRecord, hop_limit: int) -> None:
    envelope = user_record.envelope
    if envelope is not None and envelope.hops > hop_limit:
        raise HopLimitExceededError(
            f"{user_record.where}: event {envelope.id!r} of type {envelope.type!r} has taken "
            f"{envelope.hops} hops, over the limit of {hop_limit} (set by max_hops or "
            f"{MAX_HOPS_ENV}): a consumer keeps producing it back into its own source, a recursive "
            "loop; not processed"
        )
