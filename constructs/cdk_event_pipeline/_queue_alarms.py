"""The alarms and dashboard entries of an SQS queue: :class:`QueueMonitoring`, the part of
:class:`~cdk_event_pipeline.PipelineMonitoring` that watches work queues (a plain mixin of it).

They live here, once, because they serve both a :class:`~cdk_event_pipeline.WorkQueue` (its
``build_alarms`` and ``add_to_dashboard`` call :meth:`QueueMonitoring.queue_alarms` and
:meth:`QueueMonitoring.queue_dashboard`) and any ``sqs.IQueue`` of the app
(:meth:`QueueMonitoring.monitor_queue`): the monitoring cannot import the queue's module above it.
"""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import Duration, IStableNumberProducer, Lazy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from . import _defaults as d
from ._kinds import QueueLike, QueueSource
from ._validation import seconds_of


class QueueMonitoring:
    """Work-queue alarms and widgets of :class:`~cdk_event_pipeline.PipelineMonitoring` (which
    provides the members declared first)."""

    #: Whether the stack's monitoring makes alarms at all.
    enabled: bool

    @staticmethod
    def role_path(owner: IConstruct) -> str:
        """See :meth:`PipelineMonitoring.role_path`."""
        raise NotImplementedError

    def add_alarm(
        self,
        owner: Construct,
        kind: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison_operator: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        evaluation_periods: int = d.ALARM_EVALUATION_PERIODS,
        datapoints_to_alarm: int | None = None,
    ) -> cloudwatch.Alarm:
        """See :meth:`PipelineMonitoring.add_alarm`."""
        raise NotImplementedError

    def add_to_dashboard(self, key: str, *metrics: cloudwatch.IMetric, right: bool = False) -> None:
        """See :meth:`PipelineMonitoring.add_to_dashboard`."""
        raise NotImplementedError

    def monitor_queue(
        self, work_queue: QueueLike, *, alarms: bool = True, oldest_message_age: Duration | None = None
    ) -> dict[str, cloudwatch.Alarm]:
        """Dashboard entries and (with ``alarms``) alarms of a queue that does not register
        itself: a :class:`~cdk_event_pipeline.WorkQueue` or an ``sqs.IQueue`` (an ``sqs.Queue``'s own redrive
        queue is watched too). See :meth:`queue_alarms`."""
        self.queue_dashboard(work_queue)
        if not (alarms and self.enabled):
            return {}
        return self.queue_alarms(work_queue, oldest_message_age=oldest_message_age)

    def queue_dashboard(self, work_queue: QueueLike) -> None:
        """Put a work queue's oldest-message age and its DLQ depth on the dashboard."""
        view = _QueueView.of(work_queue)
        label = self.role_path(view.owner)
        self.add_to_dashboard("queue_age", _queue_age(view.queue).with_(label=label))
        if view.dead_letter_queue is not None:
            self.add_to_dashboard("dlq_depth", _dlq_depth(view.dead_letter_queue).with_(label=f"{label} DLQ"))

    def queue_alarms(
        self, work_queue: QueueLike, *, oldest_message_age: Duration | None = None
    ) -> dict[str, cloudwatch.Alarm]:
        """A work queue's alarms, children of ``work_queue``:

        * ``DlqDepth``: ``ApproximateNumberOfMessagesVisible`` Maximum >= 1 on its dead-letter
          queue (when it has one);
        * ``OldestMessageAge``: ``ApproximateAgeOfOldestMessage`` Maximum of the queue >=
          ``oldest_message_age``.

        Args:
            work_queue: The queue's construct (see :meth:`monitor_queue`).
            oldest_message_age: Threshold of ``OldestMessageAge``. Default: - the queue's
                visibility timeout x its max receive count (at least 5 minutes), read when the
                template is rendered: how long a message that keeps failing stays before it
                moves to the DLQ, so an older message is one nobody is processing.
        """
        view = _QueueView.of(work_queue)
        label = self.role_path(view.owner)
        made: dict[str, cloudwatch.Alarm] = {}
        if view.dead_letter_queue is not None:
            made["DlqDepth"] = self.add_alarm(
                view.owner, "DlqDepth", _dlq_depth(view.dead_letter_queue), threshold=d.ALARM_COUNT_THRESHOLD,
                description=f"Messages of {label} failed every receive and wait in its dead-letter queue: "
                "fix the cause, then redrive them to the queue.",
            )
        threshold_s = seconds_of(oldest_message_age)
        threshold: float = threshold_s if threshold_s is not None else Lazy.number(_QueueAgeThreshold(view))
        made["OldestMessageAge"] = self.add_alarm(
            view.owner, "OldestMessageAge", _queue_age(view.queue), threshold=threshold,
            description=f"The oldest message of {label} has waited longer than a failing message would "
            "before it moves to the dead-letter queue: workers are not keeping up or not running.",
        )
        return made


class _QueueView:
    """The parts of a monitored queue: the construct owning its alarms, the queue, its
    dead-letter queue and max receive count (when known)."""

    def __init__(self, owner: Construct, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue | None,
                 max_receive_count: float | None) -> None:
        self.owner = owner
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue
        self.max_receive_count = max_receive_count

    @classmethod
    def of(cls, work_queue: QueueLike) -> _QueueView:
        # Either is a construct (a WorkQueue, or an sqs.Queue / imported queue): the alarms' owner.
        if isinstance(work_queue, QueueSource):
            return cls(cast(Construct, work_queue), work_queue.queue, work_queue.dead_letter_queue,
                       work_queue.max_receive_count)
        redrive = work_queue.dead_letter_queue if isinstance(work_queue, sqs.Queue) else None
        return cls(cast(Construct, work_queue), work_queue, redrive.queue if redrive is not None else None,
                   redrive.max_receive_count if redrive is not None else None)


def _queue_age(queue: sqs.IQueue) -> cloudwatch.Metric:
    return queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=d.ALARM_PERIOD)


def _dlq_depth(dlq: sqs.IQueue) -> cloudwatch.Metric:
    return dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=d.ALARM_PERIOD)


@jsii.implements(IStableNumberProducer)
class _QueueAgeThreshold:
    """Visibility timeout x max receive count, read when the template is rendered (a WorkQueue
    raises its visibility timeout as workers are added)."""

    def __init__(self, view: _QueueView) -> None:
        self.view = view

    def produce(self) -> float:
        return _queue_age_threshold_seconds(self.view)


def _queue_age_threshold_seconds(view: _QueueView) -> float:
    queue = view.queue
    cfn = queue.node.default_child
    visibility = cfn.visibility_timeout if isinstance(cfn, sqs.CfnQueue) else None
    if not isinstance(visibility, (int, float)):
        visibility = d.SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS
    receives = view.max_receive_count if isinstance(view.max_receive_count, (int, float)) else 1
    return float(max(visibility * receives, d.QUEUE_AGE_ALARM_MIN_SECONDS))
