"""Stream consumers: a Lambda function + an event source mapping with safe failure handling.

:class:`StreamConsumerBase` holds everything Kinesis and DynamoDB Streams consumers share
(defaults, validation, the on-failure destination, the mapping itself); :class:`StreamConsumer`
adds what is Kinesis-specific (enhanced fan-out, AT_TIMESTAMP, the exact Kinesis read grants).

Defaults, each differing from AWS's for the reason given in :mod:`cdk_event_pipeline._defaults`:
bisect the batch on a function error, 10 retries, a record-age limit of half the stream's
retention, partial batch responses, and an encrypted, TLS-only SQS dead-letter queue as the
on-failure destination. Nothing blocks a shard for longer than the retry/age bounds, and nothing
is dropped without a record of it in the destination.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Unpack, cast

import jsii
from aws_cdk import Annotations, Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from . import _defaults as d
from ._accounts import account_of, crosses_accounts, principal_account
from ._destinations import ExactS3Destination, ExactSqsDestination
from ._kinds import (
    FunctionLike,
    FunctionOwner,
    HasNode,
    QueueLike,
    StreamLike,
    StreamSource,
    TableLike,
    as_function,
    as_queue,
    as_stream,
    as_table,
)
from ._nag import ON_FAILURE_QUEUE_HAS_NO_DLQ, acknowledge
from ._props import DeadLetterQueueProps, KinesisConsumerProps
from ._recursion import RecursionGraph
from ._validation import (
    PipelineValidationError,
    check_duration,
    check_exclusive,
    check_range,
    child_path,
    init_reports_path,
    seconds_of,
)
from .function import (
    PipelineFunction,
    build_handler_function,
    event_source_target,
    require_function_or_code,
    require_new_function_for_snap_start,
    resolve_function,
    set_max_hops,
)
from .monitoring import Monitored, PipelineMonitoring

#: The read actions Lambda's Kinesis event source mapping needs (AWS Lambda developer guide,
#: "Process Amazon Kinesis Data Streams records with Lambda": execution role permissions).
#: CDK's ``grant_read`` adds ListStreams and DescribeStreamConsumer on top, which it does not.
KINESIS_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)
#: What the runtime's idempotency (Powertools' DynamoDB persistence layer) calls on its table.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE_NAME"
#: Enhanced fan-out: the mapping subscribes through the registered consumer.
KINESIS_FAN_OUT_ACTIONS = ("kinesis:SubscribeToShard",)

RECORD_TOO_LARGE_FOR_LAMBDA_WARNING = "cdk-event-pipeline:RecordTooLargeForLambda"
BATCH_LARGER_THAN_LAMBDA_PAYLOAD_WARNING = "cdk-event-pipeline:BatchLargerThanLambdaPayload"


def lambda_payload_of_record(record_bytes: int) -> int:
    """Bytes one Kinesis record of ``record_bytes`` (data + partition key) takes in a Lambda event:
    its data base64-encoded (4 bytes per 3) plus the event fields around it."""
    return 4 * -(-record_bytes // 3) + d.KINESIS_EVENT_RECORD_OVERHEAD_BYTES


def records_per_lambda_payload(record_bytes: int) -> int:
    """How many records of ``record_bytes`` fit Lambda's 6 MB invocation payload (0: not one)."""
    return (d.LAMBDA_SYNC_PAYLOAD_BYTES - d.LAMBDA_EVENT_ENVELOPE_BYTES) // lambda_payload_of_record(record_bytes)


def largest_record_for_lambda_kib() -> int:
    """The largest ``max_record_size`` (KiB) whose records each still fit a Lambda invocation."""
    budget = d.LAMBDA_SYNC_PAYLOAD_BYTES - d.LAMBDA_EVENT_ENVELOPE_BYTES - d.KINESIS_EVENT_RECORD_OVERHEAD_BYTES
    return (budget // 4 * 3) // 1024


def data_filter_patterns(filters: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The filter patterns (JSON text) that test a record's ``data``: at the top level, or in a
    top-level ``$or`` branch (that branch can then never match a non-JSON record).

    Lambda applies a filter on ``data`` only to records whose data is JSON; any other record
    (gzip-compressed, KPL-aggregated, binary) fails that filter and is dropped without an
    invocation (AWS Lambda developer guide, "Control which events Lambda sends to your
    function": filtering Kinesis and DynamoDB events, "properly formatted JSON").
    """
    found: list[str] = []
    for criterion in filters or []:
        pattern = criterion.get("pattern") if isinstance(criterion, Mapping) else None
        if not isinstance(pattern, str) or ("${Token[" in pattern and Token.is_unresolved(pattern)):
            continue
        try:
            parsed = json.loads(pattern)
        except ValueError:
            continue
        if _tests_data(parsed):
            found.append(pattern)
    return found


def _tests_data(pattern: Any) -> bool:
    if not isinstance(pattern, dict):
        return False
    if "data" in pattern:
        return True
    branches = pattern.get("$or")
    return isinstance(branches, list) and any(_tests_data(branch) for branch in branches)


def _known_retention(stream: StreamLike, event_stream: StreamSource | None) -> Duration | None:
    """An EventStream's retention, or a ``kinesis.Stream``'s own ``RetentionPeriodHours``
    (its 24-hour default when unset); ``None`` for an imported stream."""
    if event_stream is not None:
        return event_stream.retention
    cfn = stream.node.default_child if isinstance(stream, kinesis.Stream) else None
    if isinstance(cfn, kinesis.CfnStream):
        hours = cfn.retention_period_hours
        if hours is None:
            return d.STREAM_RETENTION
        if isinstance(hours, (int, float)) and not Token.is_unresolved(hours):
            return Duration.hours(hours)
    return None


def consumer_scope(
    owner: Construct, function: lambda_.IFunction | None, source: IConstruct, method: str
) -> Construct:
    """Where ``add_consumer`` / ``add_change_consumer`` make a consumer: under ``owner``, or in the
    stack of a given function of another stack (a mapping in the source's stack would make the two
    stacks depend on each other, and across accounts it must be in the function's account).

    Raises:
        PipelineValidationError: an imported function of another account than the source's.
    """
    if function is None:
        return owner
    if not isinstance(function, lambda_.Function):
        if crosses_accounts(account_of(function), account_of(source)):
            raise PipelineValidationError(
                f"{method} needs a function of this app to read a stream of another account (given the imported "
                f"function {function.node.path} of account {account_of(function)}): an event source mapping is "
                "created in the function's account; define the consumer in that account's app"
            )
        return owner
    stack = Stack.of(function)
    return stack if stack.node.path != Stack.of(owner).node.path else owner


def _known_max_record_bytes(stream: StreamLike, event_stream: StreamSource | None) -> int | None:
    """An EventStream's ``max_record_size`` in bytes, or a ``kinesis.Stream``'s own
    ``MaxRecordSizeInKiB``; ``None`` when unset, a token, or the stream is imported."""
    if event_stream is not None:
        return event_stream.max_record_size_bytes
    cfn = stream.node.default_child if isinstance(stream, kinesis.Stream) else None
    if isinstance(cfn, kinesis.CfnStream):
        kib = cfn.max_record_size_in_kib
        if isinstance(kib, (int, float)) and not isinstance(kib, bool) and not Token.is_unresolved(kib):
            return int(kib) * 1024
    return None


def event_stream_of(stream: StreamLike) -> StreamSource | None:
    """The :class:`~cdk_event_pipeline.EventStream` behind ``stream``: itself, or the
    EventStream whose ``stream`` it is; ``None`` for any other stream."""
    if isinstance(stream, StreamSource):
        return stream
    scope = stream.node.scope
    if isinstance(scope, StreamSource) and scope.stream is stream:
        return scope
    return None


@jsii.implements(iam.IGrantable)
class StreamConsumerBase(Construct, FunctionOwner, Monitored):
    """What every stream consumer (Kinesis, DynamoDB Streams) shares. Not used directly.

    A consumer is an ``iam.IGrantable`` standing for its function: ``bucket.grant_read(consumer)``
    grants the consumer's function.

    Subclasses implement :meth:`_event_source_arn` and :meth:`grant_source_read`, and may
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
        starting_position: Where to begin reading. Default: LATEST.
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
    allowed_starting_positions: tuple[lambda_.StartingPosition, ...] = (
        lambda_.StartingPosition.LATEST,
        lambda_.StartingPosition.TRIM_HORIZON,
    )

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
        retention_s = seconds_of(self.source_retention)

        # --- validation: every prop, before any resource exists -------------------------
        given_function = as_function(function) if function is not None else None
        require_function_or_code(given_function, code, handler)
        check_exclusive(dead_letter_queue=dead_letter_queue, failure_bucket=failure_bucket)
        check_range("batch_size", batch_size, d.BATCH_SIZE_MIN, self.max_batch_size)
        check_duration("max_batching_window", max_batching_window, 0, d.MAX_BATCHING_WINDOW_MAX_SECONDS)
        check_range("retry_attempts", retry_attempts, d.RETRY_ATTEMPTS_MIN, d.RETRY_ATTEMPTS_MAX)
        check_range("parallelization_factor", parallelization_factor,
                    d.PARALLELIZATION_FACTOR_MIN, d.PARALLELIZATION_FACTOR_MAX)
        check_duration("tumbling_window", tumbling_window, 0, d.TUMBLING_WINDOW_MAX_SECONDS)
        age_max = (
            d.MAX_RECORD_AGE_MAX_SECONDS if retention_s is None else min(d.MAX_RECORD_AGE_MAX_SECONDS, retention_s)
        )
        if max_record_age is not None:
            age_s = seconds_of(max_record_age)
            if (age_s is not None and retention_s is not None
                    and retention_s < age_s <= d.MAX_RECORD_AGE_MAX_SECONDS):
                raise PipelineValidationError(
                    f"max_record_age must not exceed the source's retention of {int(retention_s)} seconds "
                    f"(given {int(age_s)} seconds): records older than the retention are already gone"
                )
            check_duration("max_record_age", max_record_age, d.MAX_RECORD_AGE_MIN_SECONDS, age_max)
        position = starting_position if starting_position is not None else lambda_.StartingPosition.LATEST
        self._validate_starting_position(position, starting_position_timestamp)
        check_range("max_hops", max_hops, d.MAX_HOPS_MIN, d.MAX_HOPS_MAX)
        require_new_function_for_snap_start(snap_start, given_function)

        # --- resolved settings (public, read-only by convention) -----------------------
        self.batch_size = batch_size if batch_size is not None else d.BATCH_SIZE
        self.retry_attempts = retry_attempts if retry_attempts is not None else d.RETRY_ATTEMPTS
        self.max_record_age = max_record_age if max_record_age is not None else self.default_max_record_age()
        self.bisect_batch_on_error = bisect_batch_on_error if bisect_batch_on_error is not None else True
        self.report_batch_item_failures = (
            report_batch_item_failures if report_batch_item_failures is not None else True
        )
        self.parallelization_factor = (
            parallelization_factor if parallelization_factor is not None else d.PARALLELIZATION_FACTOR
        )
        self.starting_position = position

        # --- the function -------------------------------------------------------------
        def build() -> PipelineFunction:
            assert code is not None and handler is not None  # require_function_or_code checked it
            extra: dict[str, Any] = {"snap_start": True} if snap_start else {}
            return self.build_function(
                code=code, handler=handler, environment=environment, memory_size=memory_size,
                timeout=timeout, log_retention=log_retention, tracing=tracing, **extra,
            )

        self.function, self.role, self.log_group = resolve_function(
            self,
            given_function,
            build,
            grants_hint="the read and on-failure permissions yourself (see StreamConsumer.grant_source_read)",
        )
        #: What the mapping invokes: the function, or its SnapStart alias.
        self.target: lambda_.IFunction = event_source_target(self, self.function)
        set_max_hops(self.function, max_hops)
        self.max_hops = max_hops
        source, kind = self._recursion_source()
        RecursionGraph.of(self).read(source, kind, self.function, self)

        # --- idempotency -----------------------------------------------------------------
        self.idempotency_table: dynamodb.ITable | None = None
        if idempotency is not None and idempotency is not False:
            if not isinstance(self.function, lambda_.Function):
                raise PipelineValidationError(
                    "idempotency needs a function whose environment can be set: pass code/handler, "
                    "or set IDEMPOTENCY_TABLE_NAME and the grants on your function yourself"
                )
            self.idempotency_table = (
                self.build_idempotency_table() if idempotency is True else as_table(idempotency)
            )
            self.function.add_environment(IDEMPOTENCY_TABLE_ENV, self.idempotency_table.table_name)
            self.idempotency_table.grant(self.function, *IDEMPOTENCY_ACTIONS)

        # --- the on-failure destination ----------------------------------------------
        self.dead_letter_queue: sqs.IQueue | None = None
        self.failure_bucket: s3.IBucket | None = failure_bucket
        if failure_bucket is not None:
            self.on_failure: ExactSqsDestination | ExactS3Destination = ExactS3Destination(failure_bucket)
        else:
            self.dead_letter_queue = (
                as_queue(dead_letter_queue) if dead_letter_queue is not None else self.build_dead_letter_queue()
            )
            self.on_failure = ExactSqsDestination(self.dead_letter_queue)
            if retention_s is not None and retention_s > d.DLQ_RETENTION_MAX_SECONDS:
                Annotations.of(self).add_warning_v2(
                    "cdk-event-pipeline:RetentionLongerThanDlq",
                    "The source keeps records longer than SQS keeps the on-failure metadata "
                    "(14 days): use failure_bucket to keep failed records for as long.",
                )

        # --- grants, then the mapping ---------------------------------------------------
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
        self.alarms: dict[str, cloudwatch.Alarm] = PipelineMonitoring.of(self).watch(self, alarms=alarms)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The principal of the consumer's function (a consumer is an ``iam.IGrantable``)."""
        return self.function.grant_principal

    # --- extension points ---------------------------------------------------------------

    def build_function(
        self,
        *,
        code: lambda_.Code,
        handler: str,
        environment: Mapping[str, str] | None,
        memory_size: int | None,
        timeout: Duration | None,
        log_retention: logs.RetentionDays | None,
        tracing: bool,
        snap_start: bool = False,
    ) -> PipelineFunction:
        """Build the consumer's function. Override to change how every function is made.

        ``snap_start`` is passed only when it is True (an override without the parameter keeps
        working for consumers without SnapStart)."""
        return build_handler_function(
            self, code=code, handler=handler, environment=environment, memory_size=memory_size,
            timeout=timeout, log_retention=log_retention, tracing=tracing, snap_start=snap_start,
        )

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
        acknowledge(queue, "AwsSolutions::AwsSolutions-SQS3", ON_FAILURE_QUEUE_HAS_NO_DLQ)
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
            filters=list(filters) if filters is not None else None,
            enabled=enabled,
            on_failure=self.on_failure,
            # PolledEventCount, FilteredOutEventCount, InvokedEventCount, FailedInvokeEventCount,
            # DroppedEventCount, OnFailureDestinationDeliveredEventCount (Kinesis, DynamoDB).
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        )

    def build_alarms(self, monitoring: PipelineMonitoring) -> dict[str, cloudwatch.Alarm]:
        """The consumer's alarms, by role. Override to add, drop or change alarms.

        * ``IteratorAge``: Lambda ``IteratorAge`` Maximum >= half of ``max_record_age``
          (records older than ``max_record_age`` go to the on-failure destination unprocessed);
        * ``Errors`` / ``Throttles``: Lambda ``Errors`` / ``Throttles`` Sum >= 1;
        * ``DlqDepth``: ``ApproximateNumberOfMessagesVisible`` Maximum >= 1 on the SQS
          on-failure destination (not made for an S3 destination: ``OnFailureDelivered`` covers it);
        * ``DroppedEvents``: the mapping's ``DroppedEventCount`` Sum >= 1 (records lost: past
          the age/retry limits and not delivered to the destination);
        * ``OnFailureDelivered``: the mapping's ``OnFailureDestinationDeliveredEventCount`` Sum >= 1.

        All on 5-minute periods, one period to alarm.
        """
        name = PipelineMonitoring.role_path(self)
        age_s = (
            seconds_of(self.max_record_age) or seconds_of(self.default_max_record_age()) or d.MAX_RECORD_AGE_MIN_SECONDS
        )
        monitoring.claim_errors_alarm(self.function)
        made = {
            "IteratorAge": monitoring.add_alarm(
                self, "IteratorAge", self.metric_iterator_age_max(d.ALARM_PERIOD),
                threshold=int(age_s * d.CONSUMER_ITERATOR_AGE_ALARM_FRACTION_OF_MAX_RECORD_AGE * 1000),
                description=f"{name} is more than half its max_record_age behind: at max_record_age its "
                "records go to the on-failure destination unprocessed. Check errors, duration, "
                "batch size and parallelization factor.",
            ),
            "Errors": monitoring.add_alarm(
                self, "Errors", self.metric_errors_sum(d.ALARM_PERIOD), threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"The function of {name} failed (exception, timeout or out of memory): "
                "the batch is bisected and retried.",
            ),
            "Throttles": monitoring.add_alarm(
                self, "Throttles", self.metric_throttles_sum(d.ALARM_PERIOD), threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"Invocations of {name} were throttled: raise its reserved or the account's concurrency.",
            ),
        }
        dlq_depth = self.metric_dlq_depth_max(d.ALARM_PERIOD)
        if dlq_depth is not None:
            made["DlqDepth"] = monitoring.add_alarm(
                self, "DlqDepth", dlq_depth, threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"Failed batches of {name} wait in its dead-letter queue: fix the cause and "
                "run `event-pipeline redrive` before the records expire from the stream.",
            )
        made["DroppedEvents"] = monitoring.add_alarm(
            self, "DroppedEvents", self.metric_dropped_events_sum(d.ALARM_PERIOD), threshold=d.ALARM_COUNT_THRESHOLD,
            description=f"{name} dropped records that also failed to reach its on-failure destination: "
            "they are lost unless replayed from the stream.",
        )
        made["OnFailureDelivered"] = monitoring.add_alarm(
            self, "OnFailureDelivered", self.metric_on_failure_delivered_sum(d.ALARM_PERIOD),
            threshold=d.ALARM_COUNT_THRESHOLD,
            description=f"{name} gave up on records and sent them to its on-failure destination: "
            "fix the cause and redrive them.",
        )
        return made

    def add_to_dashboard(self, monitoring: PipelineMonitoring) -> None:
        """Put the consumer's lag, errors, throttles, dropped events and DLQ depth on the dashboard."""
        name = PipelineMonitoring.role_path(self)
        monitoring.add_to_dashboard("consumer_lag", self.metric_iterator_age_max().with_(label=name))
        monitoring.add_to_dashboard(
            "consumer_errors",
            self.metric_errors_sum().with_(label=f"{name} errors"),
            self.metric_throttles_sum().with_(label=f"{name} throttles"),
        )
        monitoring.add_to_dashboard(
            "consumer_dropped",
            self.metric_dropped_events_sum().with_(label=f"{name} dropped"),
            self.metric_on_failure_delivered_sum().with_(label=f"{name} on-failure"),
        )
        dlq_depth = self.metric_dlq_depth_max()
        if dlq_depth is not None:
            monitoring.add_to_dashboard("dlq_depth", dlq_depth.with_(label=name))

    # --- metrics (dimensions set by the L2 helpers / the mapping's own id) -----------------

    def metric_iterator_age_max(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Age of the last record of each batch when it was sent to the function (ms, Maximum;
        ``AWS/Lambda`` ``IteratorAge``, dimension ``FunctionName``)."""
        return self.function.metric("IteratorAge", statistic="Maximum", period=period)

    def metric_errors_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Invocations that failed (count, Sum; ``AWS/Lambda`` ``Errors``, ``FunctionName``)."""
        return self.function.metric_errors(statistic="Sum", period=period)

    def metric_throttles_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Invocations throttled (count, Sum; ``AWS/Lambda`` ``Throttles``, ``FunctionName``)."""
        return self.function.metric_throttles(statistic="Sum", period=period)

    def metric_dlq_depth_max(self, period: Duration | None = None) -> cloudwatch.Metric | None:
        """Messages in the SQS on-failure destination (Maximum; ``AWS/SQS``
        ``ApproximateNumberOfMessagesVisible``, ``QueueName``), or ``None`` with an S3 destination."""
        if self.dead_letter_queue is None:
            return None
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=period)

    def metric_dropped_events_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Records the mapping dropped past its age/retry limits and could not deliver to the
        on-failure destination (Sum; ``AWS/Lambda`` ``DroppedEventCount``,
        ``EventSourceMappingUUID``; needs the mapping's ``EventCount`` metrics, enabled here)."""
        return self.metric_event_source_mapping("DroppedEventCount", period=period)

    def metric_on_failure_delivered_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Records sent to the on-failure destination (Sum; ``AWS/Lambda``
        ``OnFailureDestinationDeliveredEventCount``, ``EventSourceMappingUUID``)."""
        return self.metric_event_source_mapping("OnFailureDestinationDeliveredEventCount", period=period)

    def metric_event_source_mapping(
        self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None
    ) -> cloudwatch.Metric:
        """One of the mapping's own ``EventCount`` metrics (``PolledEventCount``,
        ``FilteredOutEventCount``, ``InvokedEventCount``, ``FailedInvokeEventCount``, ...),
        with the ``EventSourceMappingUUID`` dimension set to this mapping's id."""
        return cloudwatch.Metric(
            namespace="AWS/Lambda",
            metric_name=metric_name,
            dimensions_map={"EventSourceMappingUUID": self.event_source_mapping.event_source_mapping_id},
            statistic=statistic,
            period=period,
        )

    def grant_source_read(self, grantee: iam.IGrantable) -> None:
        """Grant exactly what the mapping needs to read the source."""
        raise NotImplementedError

    def _event_source_arn(self) -> str:
        raise NotImplementedError

    def _recursion_source(self) -> tuple[HasNode, str]:
        """The construct this consumer reads, and its kind, for the recursion check."""
        raise NotImplementedError

    def _validate_starting_position(
        self, position: lambda_.StartingPosition, timestamp: float | None
    ) -> None:
        allowed = self.allowed_starting_positions
        if position.name not in {p.name for p in allowed}:
            raise PipelineValidationError(
                f"starting_position must be one of {', '.join(p.name for p in allowed)} "
                f"(given {position.name})"
            )
        is_timestamp = position.name == "AT_TIMESTAMP"
        if is_timestamp and timestamp is None:
            raise PipelineValidationError(
                "starting_position AT_TIMESTAMP needs starting_position_timestamp: pass the Unix time "
                "(seconds) to start reading from"
            )
        if timestamp is not None and not is_timestamp:
            raise PipelineValidationError(
                f"starting_position_timestamp is only valid with starting_position AT_TIMESTAMP "
                f"(given starting_position {position.name})"
            )
        if timestamp is not None:
            _check_unix_seconds("starting_position_timestamp", timestamp)


#: 3000-01-01T00:00:00Z: a later "Unix seconds" value is a mistake (often milliseconds).
_LATEST_UNIX_SECONDS = 32_503_680_000


def _check_unix_seconds(prop: str, value: float) -> None:
    """A Unix time in seconds (token-aware); a millisecond value is named as such."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PipelineValidationError(f"{prop} must be a Unix time in seconds (given {value!r})")
    if 0 <= value <= _LATEST_UNIX_SECONDS or Token.is_unresolved(value):
        return
    if 0 <= value / 1000 <= _LATEST_UNIX_SECONDS:
        raise PipelineValidationError(
            f"{prop} must be a Unix time in seconds; {value:.0f} looks like milliseconds: "
            f"pass {value / 1000:g} (seconds)"
        )
    raise PipelineValidationError(
        f"{prop} must be a Unix time in seconds between 0 and {_LATEST_UNIX_SECONDS} (year 3000) "
        f"(given {value:g})"
    )


class StreamConsumer(StreamConsumerBase):
    """A Lambda consumer of a Kinesis data stream, with its own pace and failure handling.

    Many consumers can read one stream, each with its own mapping, batch size, destination and
    checkpoint. See :class:`StreamConsumerBase` for the shared props.

    Args:
        stream: The stream to read: an :class:`EventStream` (its retention and producers are
            known: ``max_record_age`` defaults to half the retention, as with
            :meth:`EventStream.add_consumer`) or any ``kinesis.IStream``.
        enhanced_fan_out: Register a dedicated (enhanced fan-out) stream consumer and read
            through it: 2 MB/s per shard for this consumer alone, ~70 ms latency. The role then
            gets ``kinesis:SubscribeToShard`` on that consumer only. Default: False.
        **props: See :class:`StreamConsumerBase` (typed as :class:`KinesisConsumerProps`);
            ``starting_position`` may also be AT_TIMESTAMP with ``starting_position_timestamp``
            (Unix seconds).

    Example::

        stream = EventStream(self, "Events")
        audit = stream.add_consumer("Audit", code=code_from_dir("lambdas/audit"),
                                    handler="audit_handler.handler", batch_size=50)
    """

    allowed_starting_positions = (
        lambda_.StartingPosition.LATEST,
        lambda_.StartingPosition.TRIM_HORIZON,
        lambda_.StartingPosition.AT_TIMESTAMP,
    )

    @init_reports_path
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stream: StreamLike,
        enhanced_fan_out: bool = False,
        **props: Unpack[KinesisConsumerProps],
    ) -> None:
        self.stream: kinesis.IStream = as_stream(stream)
        self.encryption_key: kms.IKey | None = self.stream.encryption_key
        self.enhanced_fan_out = enhanced_fan_out
        self.fan_out_consumer: kinesis.StreamConsumer | None = None
        #: The EventStream read (when the stream is one's): it knows its producers' encodings.
        self.event_stream = event_stream_of(stream)
        #: The filter patterns on the record ``data`` (JSON text): they only match JSON records.
        self.data_filters = data_filter_patterns(props.get("filters"))
        if props.get("source_retention") is None:
            props["source_retention"] = _known_retention(stream, self.event_stream)
        if self.event_stream is not None:
            # Before any resource exists: a data filter and a compressing/aggregating producer
            # on the same stream mean records that are silently filtered out.
            self.event_stream.check_consumer_filters(child_path(scope, id), self.data_filters)
        # The fan-out consumer must exist before the base class grants and maps; it is made in
        # _event_source_arn / grant_source_read on first use (under this construct, or under the
        # stream in the stream's stack when the stream belongs to another account).
        super().__init__(scope, id, **props)
        if self.event_stream is not None:
            self.event_stream.consumers.append(self)
        #: The stream's maximum record size in bytes when it is known (an EventStream's
        #: ``max_record_size``, or ``MaxRecordSizeInKiB`` of a kinesis.Stream of this app).
        self.source_max_record_bytes: int | None = _known_max_record_bytes(self.stream, self.event_stream)
        self.check_lambda_payload()

    def check_lambda_payload(self) -> None:
        """Warn when records of the stream's ``max_record_size`` cannot reach the function as
        batches of ``batch_size``.

        Lambda passes a batch "up to the payload limit for synchronous invocation (6 MB)"
        (CreateEventSourceMapping ``BatchSize``,
        https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html), and a
        Kinesis record's data is base64-encoded in the event (a third larger). So:

        * when one record of the maximum size cannot fit at all, Lambda cannot invoke the function
          with it: an error before invocation is retried until the record is older than
          ``max_record_age`` or expires, and then only its metadata goes to the on-failure
          destination ("Retain discarded batch records for a Kinesis Data Streams event source",
          https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html):
          ``cdk-event-pipeline:RecordTooLargeForLambda``;
        * when ``batch_size`` such records do not fit, Lambda stops filling the batch at the
          limit, so invocations carry fewer records than ``batch_size`` whenever records are
          large: ``cdk-event-pipeline:BatchLargerThanLambdaPayload`` (advice).

        Only when the stream's maximum record size is known. Override to change or drop the check.
        """
        record_bytes = self.source_max_record_bytes
        if record_bytes is None:
            return
        fit = records_per_lambda_payload(record_bytes)
        size = f"{record_bytes // 1024} KiB"
        in_event = lambda_payload_of_record(record_bytes)
        if fit == 0:
            Annotations.of(self).add_warning_v2(
                RECORD_TOO_LARGE_FOR_LAMBDA_WARNING,
                f"The stream accepts records of up to {size} (max_record_size); in a Lambda event such a record "
                f"takes {in_event} bytes (base64 adds a third, plus ~1 KiB of event fields), over Lambda's 6 MB "
                f"({d.LAMBDA_SYNC_PAYLOAD_BYTES}-byte) invocation payload limit. Lambda cannot invoke the function "
                "with it: it retries until the record is older than max_record_age "
                f"({int(seconds_of(self.max_record_age) or 0)} seconds), then sends only its metadata to the "
                "on-failure destination, unprocessed. Fix: set the stream's max_record_size to at most "
                f"{largest_record_for_lambda_kib()} KiB, or keep large payloads in S3 and put a reference on the "
                "stream.",
            )
        elif fit < self.batch_size:
            Annotations.of(self).add_warning_v2(
                BATCH_LARGER_THAN_LAMBDA_PAYLOAD_WARNING,
                f"batch_size {self.batch_size} records of up to {size} (max_record_size; {in_event} bytes each in a "
                f"Lambda event: base64 adds a third, plus ~1 KiB of event fields) do not fit Lambda's 6 MB "
                f"({d.LAMBDA_SYNC_PAYLOAD_BYTES}-byte) invocation payload: Lambda stops filling a batch at that "
                f"limit, so a batch of records that large holds only {fit}. Set batch_size to {fit} or lower to make "
                "the function's timeout and memory hold for the largest batch, or lower max_record_size.",
            )

    def _recursion_source(self) -> tuple[HasNode, str]:
        return (self.event_stream if self.event_stream is not None else self.stream), "stream"

    def _fan_out_cross_account(self) -> bool:
        return crosses_accounts(account_of(self), account_of(self.stream))

    def _fan_out(self) -> kinesis.StreamConsumer:
        if self.fan_out_consumer is None:
            if self._fan_out_cross_account():
                # A consumer is registered in the stream's account and shared with this function's
                # role through its own resource policy (grant_source_read).
                if not isinstance(self.stream, kinesis.Stream):
                    raise PipelineValidationError(
                        f"enhanced_fan_out needs a consumer registered in the stream's account "
                        f"({account_of(self.stream)}), which this app cannot do for an imported stream: register "
                        "it there, allow this function's role kinesis:SubscribeToShard in its resource policy, "
                        "and read it with your own event source mapping; or read with enhanced_fan_out=False"
                    )
                # An event stream is a Construct (EventStream); the kind only says what it offers.
                owner = cast(Construct, self.event_stream) if self.event_stream is not None else self.stream
                self.fan_out_consumer = kinesis.StreamConsumer(
                    owner,
                    f"FanOutConsumer{Names.unique_id(self)}",
                    stream=self.stream,
                    stream_consumer_name=Names.unique_resource_name(self, max_length=128),
                )
            else:
                self.fan_out_consumer = kinesis.StreamConsumer(
                    self,
                    "FanOutConsumer",
                    stream=self.stream,
                    stream_consumer_name=Names.unique_resource_name(self, max_length=128),
                )
        return self.fan_out_consumer

    def _event_source_arn(self) -> str:
        if self.enhanced_fan_out:
            fan_out = self._fan_out()
            if self._fan_out_cross_account():
                # The registered consumer's ARN ends with its registration time: only the L1's
                # attribute names it (aws-cdk-lib's stream_consumer_arn renders `<name>:*` across
                # environments); aws-cdk-lib passes it across accounts with Fn::GetStackOutput.
                cfn = fan_out.node.default_child
                assert isinstance(cfn, kinesis.CfnStreamConsumer)
                return cfn.attr_consumer_arn
            return fan_out.stream_consumer_arn
        return self.stream.stream_arn

    def grant_source_read(self, grantee: iam.IGrantable) -> None:
        """The five read actions on the stream; SubscribeToShard on the fan-out consumer only;
        ``kms:Decrypt`` on a customer key (the AWS-managed ``aws/kinesis`` key needs no grant).

        A function of another account gets the same actions in the stream's resource policy (and
        SubscribeToShard in the registered consumer's resource policy): aws-cdk-lib writes both for
        a grantee of another account (``AWS::Kinesis::ResourcePolicy``)."""
        if self.event_stream is not None:
            self.event_stream.grant(grantee, *KINESIS_READ_ACTIONS)
        else:
            self.stream.grant(grantee, *KINESIS_READ_ACTIONS)
        if self.enhanced_fan_out:
            fan_out = self._fan_out()
            if crosses_accounts(account_of(fan_out), principal_account(grantee)):
                # The role's statement names the registered consumer's exact ARN (aws-cdk-lib's grant
                # would name `<consumer>:*` across environments); the consumer's own resource policy
                # (an AWS::Kinesis::ResourcePolicy in the stream's stack) allows the role the same.
                iam.Grant.add_to_principal(
                    grantee=grantee, actions=list(KINESIS_FAN_OUT_ACTIONS), resource_arns=[self._event_source_arn()]
                )
                fan_out.add_to_resource_policy(iam.PolicyStatement(
                    actions=list(KINESIS_FAN_OUT_ACTIONS), principals=[grantee.grant_principal],
                    resources=[fan_out.stream_consumer_arn],
                ))
            else:
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=list(KINESIS_FAN_OUT_ACTIONS),
                    resource_arns=[fan_out.stream_consumer_arn],
                )
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, "kms:Decrypt")
