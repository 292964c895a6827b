"""The stream consumers' base: everything Kinesis and DynamoDB Streams consumers share (defaults,
validation, the on-failure destination, idempotency, the mapping itself, alarms and metrics).

Defaults, each differing from AWS's for the reason given in :mod:`cdk_event_pipeline._defaults`:
bisect the batch on a function error, 10 retries, a record-age limit of half the stream's
retention, partial batch responses, and an encrypted, TLS-only SQS dead-letter queue as the
on-failure destination. Nothing blocks a shard for longer than the retry/age bounds, and nothing
is dropped without a record of it in the destination.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import jsii
from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import _defaults as d
from .._destinations import ExactS3Destination, ExactSqsDestination
from .._kinds import FunctionLike, QueueLike, TableLike, as_function, as_queue, as_table
from .._nag import acknowledge_dead_letter_queue
from .._props import DeadLetterQueueProps
from .._validation import (
    PipelineValidationError,
    check_duration,
    check_exclusive,
    check_range,
    init_reports_path,
    seconds_of,
)
from ..monitoring import PipelineMonitoring
from ._mapping import check_filter_encryption_key, has_filters
from ._stream_alarms import StreamConsumerAlarms
from ._stream_checks import check_max_record_age, check_standard_on_failure_queue, check_starting_position

#: What the runtime's idempotency (Powertools' DynamoDB persistence layer) calls on its table.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


@jsii.implements(iam.IGrantable)
class StreamConsumerBase(StreamConsumerAlarms):
    """What every stream consumer (Kinesis, DynamoDB Streams) shares. Not used directly.

    A consumer is an ``iam.IGrantable`` standing for its function: ``bucket.grant_read(consumer)``
    grants the consumer's function.

    Subclasses implement :meth:`_event_source_arn`, :meth:`grant_source_read` and
    :meth:`_recursion_source`, and may
    override the ``build_*`` methods to change one decision (how the function is built, what
    the dead-letter queue looks like, how the mapping is made).

    Args:
        scope: Parent construct.
        id: Construct id.
        function: An existing function to attach instead of building one (any
            ``lambda_.IFunction``, e.g. a :class:`PipelineFunction`, or another consumer's or
            worker's function). Mutually exclusive with ``code``/``handler``.
            Default: - a new :class:`PipelineFunction`.
        code: Code of the new function. Required unless ``function`` is given.
        handler: ``module.function`` of the new function. Required unless ``function`` is given.
        environment: Extra environment variables of the new function. Default: - none.
        memory_size: MB of the new function. Default: 256.
        timeout: Timeout of the new function. Default: 30 seconds.
        log_retention: Retention of the new function's log group. Default: one month.
        tracing: Active X-Ray tracing on the new function. Default: False.
        batch_size: Records per invocation, 1-10000. Default: 100.
        max_batching_window: Time to gather records before invoking, 0-300 seconds.
            Default: - no window (invoke as soon as records are available).
        starting_position: Where to begin reading. Default: LATEST (TRIM_HORIZON for a table's change
            consumer).
        starting_position_timestamp: With ``starting_position`` AT_TIMESTAMP (Kinesis only), the Unix
            time in seconds to start reading from; required then, rejected otherwise. Default: - none.
        bisect_batch_on_error: Split a failing batch in two and retry each half. Default: True.
        retry_attempts: Retries of a failing batch, 0-10000 (never infinite). Default: 10.
        max_record_age: Oldest record sent to the function, 60 seconds - 7 days and not longer
            than the source's retention. Default: - half the source's retention.
        report_batch_item_failures: The function returns partial batch responses. Default: True.
        parallelization_factor: Concurrent batches per shard, 1-10 (order is kept per
            partition key). Default: 1.
        tumbling_window: Aggregation window, 0-900 seconds. Default: - none.
        filters: Event filter patterns (``lambda_.FilterCriteria.filter(...)``).
            Default: - every record.
        filter_encryption_key: The KMS key that encrypts the mapping's filter criteria at rest
            (``KmsKeyArn``; otherwise Lambda uses a key AWS owns). Only with ``filters``. A
            ``kms.Key`` of this app gets the key-policy statements Lambda needs; for any other key a
            warning gives them. Default: - the source's customer key (an :class:`EventStream`'s or an
            :class:`EntityTable`'s ``encryption_key``, a ``kms.Key`` of this app) when there are filters;
            otherwise none.
        enabled: Whether the mapping polls. Default: True.
        dead_letter_queue: Your own SQS queue (an ``sqs.IQueue`` or a :class:`WorkQueue`) as the
            on-failure destination (gets metadata of the failed batch: shard, sequence range).
            Mutually exclusive with ``failure_bucket``.
            Default: - an encrypted, TLS-only queue with 14-day retention, made for this consumer.
        failure_bucket: An S3 bucket as the on-failure destination: keeps the whole failed
            records (not just metadata). Default: - the dead-letter queue above.
        source_retention: Retention of the source, to bound and derive ``max_record_age``.
            Default: 24 hours (the minimum of both Kinesis and DynamoDB Streams).
        idempotency: Apply each record at most once per key (Kinesis and DynamoDB Streams are
            at-least-once). ``True`` creates a DynamoDB table for this consumer (partition key
            ``id``, TTL ``expiration``); or pass your own table with that schema (a
            ``dynamodb.ITable`` or an :class:`EntityTable`). The function
            gets ``IDEMPOTENCY_TABLE_NAME`` and exactly GetItem/PutItem/UpdateItem/DeleteItem
            on the table, which the runtime's ``pipeline_handler`` uses. Default: False.
        alarms: Make this consumer's alarms (see :meth:`build_alarms`) through the stack's
            :class:`PipelineMonitoring`. Default: True.
        max_hops: The most hops (see the envelope's ``hops``) a record may carry when it reaches
            this consumer, 0-1000000; a record with more fails before the handler runs and goes to
            the on-failure destination: the run-time recursion guard. Sets
            ``EVENT_PIPELINE_MAX_HOPS`` on the function. Default: - the runtime's 10.
        snap_start: Build the function with Lambda SnapStart (Python 3.12+): a published version,
            an alias ``live`` the mapping invokes, and a snapshot of the initialized function each
            new environment resumes from (see :class:`PipelineFunction`). Only for a function the
            consumer builds. Default: False.
    """

    #: The largest batch size the source allows.
    max_batch_size: int = d.BATCH_SIZE_MAX
    #: Starting positions the source accepts.
    #: Where a mapping starts reading when ``starting_position`` is not given.
    _default_starting_position: lambda_.StartingPosition = lambda_.StartingPosition.LATEST
    allowed_starting_positions: tuple[lambda_.StartingPosition, ...] = (
        lambda_.StartingPosition.LATEST,
        lambda_.StartingPosition.TRIM_HORIZON,
    )
    grants_hint = "the read and on-failure permissions yourself (see StreamConsumer.grant_source_read)"

    @init_reports_path
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: FunctionLike | None = None,
        code: lambda_.Code | None = None,
        handler: str | None = None,
        environment: Mapping[str, str] | None = None,
        memory_size: int | None = None,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays | None = None,
        tracing: bool = False,
        batch_size: int | None = None,
        max_batching_window: Duration | None = None,
        starting_position: lambda_.StartingPosition | None = None,
        starting_position_timestamp: float | None = None,
        bisect_batch_on_error: bool | None = None,
        retry_attempts: int | None = None,
        max_record_age: Duration | None = None,
        report_batch_item_failures: bool | None = None,
        parallelization_factor: int | None = None,
        tumbling_window: Duration | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        filter_encryption_key: kms.IKey | None = None,
        enabled: bool | None = None,
        dead_letter_queue: QueueLike | None = None,
        failure_bucket: s3.IBucket | None = None,
        source_retention: Duration | None = None,
        idempotency: bool | TableLike | None = None,
        alarms: bool = True,
        max_hops: int | None = None,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.source_retention = source_retention if source_retention is not None else d.STREAM_RETENTION
        given_function = as_function(function) if function is not None else None
        self._validate_props(
            given_function, code=code, handler=handler, dead_letter_queue=dead_letter_queue,
            failure_bucket=failure_bucket, batch_size=batch_size, max_batching_window=max_batching_window,
            retry_attempts=retry_attempts, parallelization_factor=parallelization_factor,
            tumbling_window=tumbling_window, max_record_age=max_record_age, starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp, max_hops=max_hops, snap_start=snap_start,
        )
        check_filter_encryption_key(filters, filter_encryption_key)
        self._resolve_settings(
            batch_size=batch_size, retry_attempts=retry_attempts, max_record_age=max_record_age,
            bisect_batch_on_error=bisect_batch_on_error, report_batch_item_failures=report_batch_item_failures,
            parallelization_factor=parallelization_factor, starting_position=starting_position,
        )
        self._attach_function(
            given_function, code=code, handler=handler, environment=environment, memory_size=memory_size,
            timeout=timeout, log_retention=log_retention, tracing=tracing, snap_start=snap_start, max_hops=max_hops,
        )
        self._add_idempotency(idempotency)
        self._add_on_failure_destination(dead_letter_queue, failure_bucket)
        if self.role is not None:  # without a known role the warning above asks for the grants
            self.grant_source_read(self.function)
            self.on_failure.grant(self.function)
        self.event_source_mapping = self.build_event_source_mapping(
            max_batching_window=max_batching_window,
            starting_position_timestamp=starting_position_timestamp,
            tumbling_window=tumbling_window,
            filters=filters,
            enabled=enabled,
        )
        self._finish_event_source_mapping(filters, filter_encryption_key)
        self.alarms: dict[str, cloudwatch.Alarm] = PipelineMonitoring.of(self).watch(self, alarms=alarms)

    # --- the steps of __init__ ------------------------------------------------------------

    def _validate_props(
        self,
        given_function: lambda_.IFunction | None,
        *,
        code: lambda_.Code | None,
        handler: str | None,
        dead_letter_queue: QueueLike | None,
        failure_bucket: s3.IBucket | None,
        batch_size: int | None,
        max_batching_window: Duration | None,
        retry_attempts: int | None,
        parallelization_factor: int | None,
        tumbling_window: Duration | None,
        max_record_age: Duration | None,
        starting_position: lambda_.StartingPosition | None,
        starting_position_timestamp: float | None,
        max_hops: int | None,
        snap_start: bool,
    ) -> None:
        """Every prop, before any resource exists."""
        self._check_function_props(given_function, code, handler)
        check_exclusive(dead_letter_queue=dead_letter_queue, failure_bucket=failure_bucket)
        check_standard_on_failure_queue(as_queue(dead_letter_queue) if dead_letter_queue is not None else None)
        check_range("batch_size", batch_size, d.BATCH_SIZE_MIN, self.max_batch_size)
        check_duration("max_batching_window", max_batching_window, 0, d.MAX_BATCHING_WINDOW_MAX_SECONDS)
        check_range("retry_attempts", retry_attempts, d.RETRY_ATTEMPTS_MIN, d.RETRY_ATTEMPTS_MAX)
        check_range("parallelization_factor", parallelization_factor,
                    d.PARALLELIZATION_FACTOR_MIN, d.PARALLELIZATION_FACTOR_MAX)
        check_duration("tumbling_window", tumbling_window, 0, d.TUMBLING_WINDOW_MAX_SECONDS)
        check_max_record_age(max_record_age, seconds_of(self.source_retention))
        position = starting_position if starting_position is not None else self._default_starting_position
        self._validate_starting_position(position, starting_position_timestamp)
        self._check_function_options(given_function, max_hops, snap_start)

    def _resolve_settings(
        self,
        *,
        batch_size: int | None,
        retry_attempts: int | None,
        max_record_age: Duration | None,
        bisect_batch_on_error: bool | None,
        report_batch_item_failures: bool | None,
        parallelization_factor: int | None,
        starting_position: lambda_.StartingPosition | None,
    ) -> None:
        """The resolved settings (public, read-only by convention)."""
        self.batch_size = batch_size if batch_size is not None else d.BATCH_SIZE
        self.retry_attempts = retry_attempts if retry_attempts is not None else d.RETRY_ATTEMPTS
        self.max_record_age = max_record_age if max_record_age is not None else self.default_max_record_age()
        self.bisect_batch_on_error = bisect_batch_on_error if bisect_batch_on_error is not None else True
        self.report_batch_item_failures = report_batch_item_failures if report_batch_item_failures is not None else True
        self.parallelization_factor = parallelization_factor if parallelization_factor is not None else (
            d.PARALLELIZATION_FACTOR)
        self.starting_position = (
            starting_position if starting_position is not None else self._default_starting_position)

    def _add_idempotency(self, idempotency: bool | TableLike | None) -> None:
        """The idempotency table (built, or given), its environment variable and exact grants."""
        self.idempotency_table: dynamodb.ITable | None = None
        if idempotency is None or idempotency is False:
            return
        if not isinstance(self.function, lambda_.Function):
            raise PipelineValidationError(
                "idempotency needs a function whose environment can be set: pass code/handler, "
                "or set IDEMPOTENCY_TABLE_NAME and the grants on your function yourself"
            )
        self.idempotency_table = self.build_idempotency_table() if idempotency is True else as_table(idempotency)
        self.function.add_environment(d.IDEMPOTENCY_TABLE_ENV, self.idempotency_table.table_name)
        self.idempotency_table.grant(self.function, *IDEMPOTENCY_ACTIONS)

    def _add_on_failure_destination(
        self, dead_letter_queue: QueueLike | None, failure_bucket: s3.IBucket | None
    ) -> None:
        """The on-failure destination: the bucket, the given queue, or :meth:`build_dead_letter_queue`."""
        self.dead_letter_queue: sqs.IQueue | None = None
        self.failure_bucket: s3.IBucket | None = failure_bucket
        if failure_bucket is not None:
            self.on_failure: ExactSqsDestination | ExactS3Destination = ExactS3Destination(failure_bucket)
            return
        self.dead_letter_queue = (
            as_queue(dead_letter_queue) if dead_letter_queue is not None else self.build_dead_letter_queue()
        )
        self.on_failure = ExactSqsDestination(self.dead_letter_queue)
        retention_s = seconds_of(self.source_retention)
        if retention_s is not None and retention_s > d.DLQ_RETENTION_MAX_SECONDS:
            Annotations.of(self).add_warning_v2(
                "cdk-event-pipeline:RetentionLongerThanDlq",
                "The source keeps records longer than SQS keeps the on-failure metadata "
                "(14 days): use failure_bucket to keep failed records for as long.",
            )

    # --- extension points ---------------------------------------------------------------

    def build_dead_letter_queue(self, **overrides: Unpack[DeadLetterQueueProps]) -> sqs.IQueue:
        """Build the on-failure queue: SQS-managed encryption, TLS only, 14-day retention.

        Override to change it; change one setting without touching the L1 by calling
        ``super().build_dead_letter_queue(visibility_timeout=Duration.minutes(5))`` (any of
        :class:`DeadLetterQueueProps`; the rest keep these defaults).
        """
        props: DeadLetterQueueProps = {
            "encryption": sqs.QueueEncryption.SQS_MANAGED,
            "retention_period": d.DLQ_RETENTION,
            **overrides,
        }
        queue = sqs.Queue(self, "DeadLetterQueue", enforce_ssl=True, **props)
        acknowledge_dead_letter_queue(queue, aws_solutions=True)
        return queue

    def build_idempotency_table(self) -> dynamodb.ITable:
        """The consumer's idempotency table: on-demand, partition key ``id``, TTL ``expiration``.

        Its items are transient markers (expired by TTL after a day), so the table is destroyed
        with the stack rather than retained.
        """
        return dynamodb.TableV2(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def default_max_record_age(self) -> Duration:
        """Half the source's retention, within Lambda's 60 s - 7 days."""
        retention_s = seconds_of(self.source_retention)
        if retention_s is None:
            retention_s = d.STREAM_RETENTION_MIN_HOURS * 3600
        seconds = int(retention_s * d.MAX_RECORD_AGE_FRACTION_OF_RETENTION)
        seconds = max(d.MAX_RECORD_AGE_MIN_SECONDS, min(d.MAX_RECORD_AGE_MAX_SECONDS, seconds))
        return Duration.seconds(seconds)

    def build_event_source_mapping(
        self,
        *,
        max_batching_window: Duration | None,
        starting_position_timestamp: float | None,
        tumbling_window: Duration | None,
        filters: Sequence[Mapping[str, Any]] | None,
        enabled: bool | None,
    ) -> lambda_.EventSourceMapping:
        """Build the event source mapping with the resolved settings."""
        return lambda_.EventSourceMapping(
            self,
            "EventSourceMapping",
            target=self.target,
            event_source_arn=self._event_source_arn(),
            batch_size=self.batch_size,
            max_batching_window=max_batching_window,
            starting_position=self.starting_position,
            starting_position_timestamp=starting_position_timestamp,
            bisect_batch_on_error=self.bisect_batch_on_error,
            retry_attempts=self.retry_attempts,
            max_record_age=self.max_record_age,
            report_batch_item_failures=self.report_batch_item_failures,
            parallelization_factor=self.parallelization_factor,
            tumbling_window=tumbling_window,
            filters=list(filters) if has_filters(filters) else None,  # CloudFormation needs 1+ filters
            enabled=enabled,
            on_failure=self.on_failure,
            # PolledEventCount, FilteredOutEventCount, InvokedEventCount, FailedInvokeEventCount,
            # DroppedEventCount, OnFailureDestinationDeliveredEventCount (Kinesis, DynamoDB).
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        )

    # --- the source -------------------------------------------------------------------------

    def grant_source_read(self, grantee: iam.IGrantable) -> None:
        """Grant exactly what the mapping needs to read the source."""
        raise NotImplementedError

    def _event_source_arn(self) -> str:
        raise NotImplementedError

    def _validate_starting_position(
        self, position: lambda_.StartingPosition, timestamp: float | None
    ) -> None:
        check_starting_position(position, timestamp, self.allowed_starting_positions)
