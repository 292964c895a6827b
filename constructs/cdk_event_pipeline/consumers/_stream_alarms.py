"""The alarms, dashboard entries and metrics every stream consumer (Kinesis, DynamoDB Streams)
shares: :class:`StreamConsumerAlarms`, the base of
:class:`~cdk_event_pipeline.StreamConsumerBase`, apart so the mapping's module stays small."""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs

from .. import _defaults as d
from .._validation import seconds_of
from ..monitoring import PipelineMonitoring
from ._base import FunctionConsumer


@jsii.implements(iam.IGrantable)
class StreamConsumerAlarms(FunctionConsumer):
    """The alarms and metrics of a stream consumer. Not used directly: see
    :class:`~cdk_event_pipeline.StreamConsumerBase`, which sets the attributes below."""

    #: The SQS on-failure destination (``None`` with an S3 destination).
    dead_letter_queue: sqs.IQueue | None
    #: The mapping's record-age limit.
    max_record_age: Duration | None

    def default_max_record_age(self) -> Duration:
        """The record-age limit when none is given (see ``StreamConsumerBase``)."""
        raise NotImplementedError

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
