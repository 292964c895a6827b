"""The SQS source: :class:`QueueWorker`, a Lambda function fed by a queue through an SQS event source
mapping (made by :meth:`WorkQueue.add_worker <cdk_event_pipeline.WorkQueue.add_worker>`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import Annotations, Duration, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import _defaults as d
from .._kinds import FunctionLike, HasNode, QueueLike, QueueSource, as_function, as_queue
from .._nag import MAPPING_DESTINATION, QUEUE_REDRIVE_IS_THE_DESTINATION, acknowledge_resource
from .._validation import (
    PipelineValidationError,
    check_duration,
    check_range,
    fmt_num,
    init_reports_path,
    require,
    seconds_of,
)
from ..monitoring import PipelineMonitoring
from ._base import FunctionConsumer
from ._mapping import check_filter_encryption_key, has_filters

#: What Lambda's SQS event source mapping needs on the queue (Amazon SQS developer guide,
#: "Configuring an Amazon SQS queue to trigger an AWS Lambda function": the execution role
#: must include sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage). CDK's
#: ``SqsEventSource`` grants ``grant_consume_messages``, which adds ChangeMessageVisibility and
#: GetQueueUrl on top.
QUEUE_WORKER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
#: KMS actions a worker needs on a customer key.
QUEUE_WORKER_KEY_ACTIONS = ("kms:Decrypt",)


@jsii.implements(iam.IGrantable)
class QueueWorker(FunctionConsumer):
    """A Lambda function fed by a :class:`WorkQueue` through an SQS event source mapping.

    Made by :meth:`WorkQueue.add_worker`. The function reports partial batch failures by
    default: only the failed messages return to the queue, and after ``max_receive_count``
    receives a message moves to the queue's dead-letter queue. A worker is an
    ``iam.IGrantable`` standing for its function.

    Args:
        scope: The :class:`WorkQueue` (the worker is its child), or any construct.
        id: Construct id.
        work_queue: The queue to consume: a :class:`WorkQueue` (its visibility timeout follows
            the worker's timeout) or any ``sqs.IQueue`` (not checked: a warning says so).
        function: An existing function instead of a new one (any ``lambda_.IFunction``, e.g. a
            :class:`PipelineFunction`). Mutually exclusive with ``code``/``handler``.
            Default: - a new :class:`PipelineFunction`.
        code: Code of the new function. Required unless ``function`` is given.
        handler: ``module.function`` of the new function. Required unless ``function`` is given.
        environment: Extra environment variables of the new function. Default: - none.
        memory_size: MB of the new function, 128-10240. Default: 256.
        timeout: Timeout of the new function, 1-900 seconds; the queue's visibility timeout
            follows it (6 x timeout + ``max_batching_window``). Default: 30 seconds.
        log_retention: Retention of the new function's log group. Default: one month.
        tracing: Active X-Ray tracing on the new function. Default: False.
        batch_size: Messages per invocation: 1-10; up to 10000 with a ``max_batching_window``
            of at least 1 second; at most 10 for a FIFO queue. Default: 10 (AWS's default).
        max_batching_window: Time to gather messages before invoking, 0-300 seconds; not
            supported for FIFO queues. Default: - none.
        report_batch_item_failures: The function returns partial batch responses.
            Default: True.
        max_concurrency: Most concurrent invocations this mapping makes, 2-1000.
            Default: - no limit beyond the function's and the account's concurrency.
        filters: Event filter patterns (``lambda_.FilterCriteria.filter(...)``); messages that
            do not match are deleted without invoking. Default: - every message.
        filter_encryption_key: The KMS key that encrypts the mapping's filter criteria at rest
            (``KmsKeyArn``; see :class:`~cdk_event_pipeline.StreamConsumerBase`). Only with ``filters``.
            Default: - the queue's customer key (a :class:`WorkQueue`'s ``encryption_key``, a ``kms.Key``
            of this app) when there are filters; otherwise none.
        enabled: Whether the mapping polls. Default: True.
        alarms: Make this worker's alarms (see :meth:`build_alarms`) through the stack's
            :class:`PipelineMonitoring`. Default: True.
        provisioned_pollers: ``(minimum, maximum)`` event pollers dedicated to this mapping
            (provisioned mode): minimum 2-200, maximum 2-10,000, minimum <= maximum ("Configuring
            scaling behavior for SQS event source mappings",
            https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html; "Lambda
            parameters for Amazon SQS event source mappings",
            https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html). Each poller
            handles up to 1 MB/s and 10 concurrent invocations; pollers are billed while
            provisioned (event poller units), even when the queue is empty. Mutually exclusive with
            ``max_concurrency`` (Lambda's ScalingConfig and ProvisionedPollerConfig exclude each
            other). Alarms and dashboard are the same either way. Default: - standard mode (Lambda
            scales pollers by itself).
        max_hops: The most hops a consumed envelope may carry, 0-1000000 (see
            :class:`~cdk_event_pipeline.StreamConsumerBase`): sets ``EVENT_PIPELINE_MAX_HOPS``.
            Default: - the runtime's 10.
        snap_start: Build the function with Lambda SnapStart; the mapping invokes its ``live``
            alias (see :class:`PipelineFunction`). Only for a function the worker builds.
            Default: False.
    """

    grants_hint = "the queue permissions yourself (see QueueWorker.grant_queue_read)"

    @init_reports_path
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        work_queue: QueueLike,
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
        report_batch_item_failures: bool | None = None,
        max_concurrency: int | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        filter_encryption_key: kms.IKey | None = None,
        enabled: bool | None = None,
        alarms: bool = True,
        provisioned_pollers: tuple[int, int] | None = None,
        max_hops: int | None = None,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, id)
        #: The WorkQueue consumed, or ``None`` when given a plain ``sqs.IQueue``.
        self.work_queue: QueueSource | None = work_queue if isinstance(work_queue, QueueSource) else None
        self.queue: sqs.IQueue = as_queue(work_queue)
        self.fifo: bool = self.work_queue.fifo if self.work_queue is not None else bool(self.queue.fifo)
        self.encryption_key: kms.IKey | None = (
            self.work_queue.encryption_key if self.work_queue is not None else self.queue.encryption_master_key
        )
        given_function = as_function(function) if function is not None else None
        self._check_function_props(given_function, code, handler)
        self._check_batching(batch_size, max_batching_window)
        check_range("max_concurrency", max_concurrency, d.MAX_CONCURRENCY_MIN, d.MAX_CONCURRENCY_MAX)
        self.provisioned_pollers = _check_provisioned_pollers(provisioned_pollers, max_concurrency)
        self._check_function_options(given_function, max_hops, snap_start)
        check_filter_encryption_key(filters, filter_encryption_key)
        self.batch_size = batch_size if batch_size is not None else d.QUEUE_BATCH_SIZE
        self.report_batch_item_failures = (
            report_batch_item_failures if report_batch_item_failures is not None else True
        )
        self._attach_function(
            given_function, code=code, handler=handler, environment=environment, memory_size=memory_size,
            timeout=timeout, log_retention=log_retention, tracing=tracing, snap_start=snap_start, max_hops=max_hops,
        )
        self._register_with_queue(_function_timeout(given_function, timeout), max_batching_window)
        # --- grants, then the mapping ---------------------------------------------------
        if self.role is not None:  # without a known role the warning above asks for the grants
            self.grant_queue_read(self.function)
        self.event_source_mapping = self.build_event_source_mapping(
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            filters=filters,
            enabled=enabled,
        )
        self._finish_event_source_mapping(filters, filter_encryption_key)
        if self._has_redrive_policy():
            acknowledge_resource(self.event_source_mapping, MAPPING_DESTINATION, QUEUE_REDRIVE_IS_THE_DESTINATION)
        self.alarms: dict[str, cloudwatch.Alarm] = PipelineMonitoring.of(self).watch(self, alarms=alarms)

    # --- the steps of __init__ ------------------------------------------------------------

    def _check_batching(self, batch_size: int | None, max_batching_window: Duration | None) -> None:
        """``batch_size`` and ``max_batching_window`` within SQS's rules (FIFO: no window, 10 at most;
        standard: above 10 needs a window of at least 1 second)."""
        check_duration("max_batching_window", max_batching_window, 0, d.MAX_BATCHING_WINDOW_MAX_SECONDS)
        window_s = seconds_of(max_batching_window)
        if self.fifo:
            require(max_batching_window is None,
                    "max_batching_window is not supported for FIFO queues (Lambda rejects it)")
            check_range("batch_size", batch_size, d.BATCH_SIZE_MIN, d.FIFO_BATCH_SIZE_MAX)
            return
        check_range("batch_size", batch_size, d.BATCH_SIZE_MIN, d.QUEUE_BATCH_SIZE_MAX)
        if (batch_size is not None and batch_size > d.QUEUE_BATCH_SIZE_MAX_WITHOUT_WINDOW
                and window_s is not None and window_s < 1):
            raise PipelineValidationError(
                f"batch_size above {d.QUEUE_BATCH_SIZE_MAX_WITHOUT_WINDOW} needs a max_batching_window "
                f"of at least 1 second (given batch_size {batch_size} and a {fmt_num(window_s)}-second window)"
            )
        if (batch_size is not None and batch_size > d.QUEUE_BATCH_SIZE_MAX_WITHOUT_WINDOW
                and max_batching_window is None):
            raise PipelineValidationError(
                f"batch_size above {d.QUEUE_BATCH_SIZE_MAX_WITHOUT_WINDOW} needs a max_batching_window "
                f"of at least 1 second (given batch_size {batch_size} and no max_batching_window)"
            )

    def _register_with_queue(self, function_timeout: Duration | None, window: Duration | None) -> None:
        """The WorkQueue's visibility-timeout guardrail, or a warning for a plain queue."""
        if self.work_queue is not None:
            self.work_queue._register_worker(self, function_timeout, window)
            return
        Annotations.of(self).add_warning_v2(
            "cdk-event-pipeline:ImportedQueueVisibilityUnchecked",
            "The queue is not managed by a WorkQueue: make sure its visibility timeout is at "
            "least 6 times the worker's function timeout plus its max_batching_window (AWS's guidance "
            "for SQS event sources).",
        )

    def _has_redrive_policy(self) -> bool:
        """The queue is known to move failed messages to a dead-letter queue (a WorkQueue's own, or a
        plain ``sqs.Queue`` built with ``dead_letter_queue``)."""
        if self.work_queue is not None:
            return self.work_queue.dead_letter_queue is not None
        return isinstance(self.queue, sqs.Queue) and self.queue.dead_letter_queue is not None

    def _recursion_source(self) -> tuple[HasNode, str]:
        return (self.work_queue if self.work_queue is not None else self.queue), "queue"

    # --- extension points ---------------------------------------------------------------

    def build_alarms(self, monitoring: PipelineMonitoring) -> dict[str, cloudwatch.Alarm]:
        """The worker's alarms, by role. Override to add, drop or change alarms.

        * ``Errors``: Lambda ``Errors`` Sum >= 1 on a 5-minute period (a failed batch returns to
          the queue; the queue's own alarms watch the backlog and the dead-letter queue);
        * ``FailedInvokeEvents``: the mapping's ``FailedInvokeEventCount`` Sum >= 1 (messages of
          failed invocations or reported batch item failures: they return to the queue);
        * ``DroppedEvents``: the mapping's ``DroppedEventCount`` Sum >= 1 (messages Lambda gave up on).

        The last two need the mapping's ``EventCount`` metrics, turned on by this worker.
        """
        name = PipelineMonitoring.role_path(self)
        monitoring.claim_errors_alarm(self.function)
        return {
            "Errors": monitoring.add_alarm(
                self, "Errors", self.metric_errors_sum(d.ALARM_PERIOD), threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"The function of {name} failed (exception, timeout "
                "or out of memory): its messages return to the queue and, after max_receive_count "
                "receives, move to the dead-letter queue.",
            ),
            "FailedInvokeEvents": monitoring.add_alarm(
                self, "FailedInvokeEvents", self.metric_failed_invoke_events_sum(d.ALARM_PERIOD),
                threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"Messages of {name} were in failed invocations or reported as batch item failures: "
                "they return to the queue and, after max_receive_count receives, move to the dead-letter queue.",
            ),
            "DroppedEvents": monitoring.add_alarm(
                self, "DroppedEvents", self.metric_dropped_events_sum(d.ALARM_PERIOD),
                threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"The event source mapping of {name} dropped messages: check the mapping's "
                "state and the function's permissions on the queue and its key.",
            ),
        }

    def add_to_dashboard(self, monitoring: PipelineMonitoring) -> None:
        """Put the worker's function errors, failed-invoke and dropped events on the dashboard."""
        name = PipelineMonitoring.role_path(self)
        monitoring.add_to_dashboard("consumer_errors", self.metric_errors_sum().with_(label=f"{name} errors"))
        monitoring.add_to_dashboard(
            "consumer_dropped",
            self.metric_failed_invoke_events_sum().with_(label=f"{name} failed-invoke"),
            self.metric_dropped_events_sum().with_(label=f"{name} dropped"),
        )

    # --- the mapping's EventCount metrics (AWS/Lambda, EventSourceMappingUUID) ---------------

    def metric_failed_invoke_events_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Messages of invocations that failed or reported them as batch item failures (Sum;
        ``AWS/Lambda`` ``FailedInvokeEventCount``, ``EventSourceMappingUUID``)."""
        return self.metric_event_source_mapping("FailedInvokeEventCount", period=period)

    def metric_dropped_events_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Messages the mapping dropped (Sum; ``AWS/Lambda`` ``DroppedEventCount``,
        ``EventSourceMappingUUID``)."""
        return self.metric_event_source_mapping("DroppedEventCount", period=period)

    def build_event_source_mapping(
        self,
        *,
        max_batching_window: Duration | None,
        max_concurrency: int | None,
        filters: Sequence[Mapping[str, Any]] | None,
        enabled: bool | None,
    ) -> lambda_.EventSourceMapping:
        """Build the SQS event source mapping with the resolved settings."""
        mapping = lambda_.EventSourceMapping(
            self,
            "EventSourceMapping",
            target=self.target,
            event_source_arn=self.queue.queue_arn,
            batch_size=self.batch_size,
            max_batching_window=max_batching_window,
            report_batch_item_failures=self.report_batch_item_failures,
            max_concurrency=max_concurrency,
            filters=list(filters) if has_filters(filters) else None,  # CloudFormation needs 1+ filters
            enabled=enabled,
            # The mapping's own EventCount metrics (AWS/Lambda, dimension EventSourceMappingUUID):
            # PolledEventCount, FilteredOutEventCount, InvokedEventCount, FailedInvokeEventCount,
            # DeletedEventCount, DroppedEventCount (Lambda developer guide, "Event source mapping
            # metrics", https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
            # #event-source-mapping-metrics; MetricsConfig in the AWS::Lambda::EventSourceMapping
            # schema; issue 17 item 9). Off by default on a mapping: without it the alarms below see nothing.
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        )
        if self.provisioned_pollers is not None:
            # On the L1: aws-cdk-lib 2.275's L2 still refuses a maximum above 2,000 (the Kafka limit);
            # SQS allows 10,000 (see SQS_MAX_POLLERS_MAX; validated in _check_provisioned_pollers).
            cfn = mapping.node.default_child
            assert isinstance(cfn, lambda_.CfnEventSourceMapping)
            minimum, maximum = self.provisioned_pollers
            cfn.provisioned_poller_config = lambda_.CfnEventSourceMapping.ProvisionedPollerConfigProperty(
                minimum_pollers=minimum, maximum_pollers=maximum)
        return mapping

    def grant_queue_read(self, grantee: iam.IGrantable) -> None:
        """Exactly ReceiveMessage, DeleteMessage and GetQueueAttributes on this queue, plus
        ``kms:Decrypt`` on a customer key."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(QUEUE_WORKER_ACTIONS),
            resource_arns=[self.queue.queue_arn],
        )
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, *QUEUE_WORKER_KEY_ACTIONS)


def _check_provisioned_pollers(
    pollers: tuple[int, int] | None, max_concurrency: int | None
) -> tuple[int, int] | None:
    """``(minimum, maximum)`` within Lambda's SQS ranges, minimum <= maximum, no ``max_concurrency``."""
    if pollers is None:
        return None
    if not isinstance(pollers, (tuple, list)) or len(pollers) != 2:
        raise PipelineValidationError(
            f"provisioned_pollers must be a (minimum, maximum) pair of pollers (given {pollers!r})"
        )
    minimum, maximum = pollers
    check_range("provisioned_pollers minimum", minimum, d.SQS_MIN_POLLERS_MIN, d.SQS_MIN_POLLERS_MAX)
    check_range("provisioned_pollers maximum", maximum, d.SQS_MAX_POLLERS_MIN, d.SQS_MAX_POLLERS_MAX)
    if not Token.is_unresolved(minimum) and not Token.is_unresolved(maximum) and minimum > maximum:
        raise PipelineValidationError(
            f"provisioned_pollers minimum must not exceed its maximum (given ({minimum}, {maximum})): pass "
            f"({maximum}, {minimum}) or raise the maximum"
        )
    if max_concurrency is not None:
        raise PipelineValidationError(
            f"provisioned_pollers and max_concurrency are mutually exclusive (given provisioned_pollers "
            f"{tuple(pollers)} and max_concurrency {max_concurrency}): Lambda accepts either provisioned mode or a "
            "maximum concurrency on an SQS event source mapping; bound concurrency with the maximum pollers (each "
            "runs up to 10 concurrent invocations) or drop provisioned_pollers"
        )
    return (minimum, maximum)


def _function_timeout(given_function: lambda_.IFunction | None, timeout: Duration | None) -> Duration | None:
    """The worker's function timeout when it is known: the new function's, or a given
    ``lambda_.Function``'s (Lambda's 3-second default when it has none)."""
    if given_function is None:
        return timeout if timeout is not None else d.TIMEOUT
    if isinstance(given_function, lambda_.Function):
        return given_function.timeout if given_function.timeout is not None else d.LAMBDA_SERVICE_DEFAULT_TIMEOUT
    return None
