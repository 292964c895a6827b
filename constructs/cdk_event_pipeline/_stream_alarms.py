"""The stream's alarms, dashboard entries and metrics: :class:`StreamMonitoring`, the part of
:class:`~cdk_event_pipeline.EventStream` that :class:`~cdk_event_pipeline.PipelineMonitoring`
registers (a plain mixin: its attributes are the stream's)."""

from __future__ import annotations

from typing import Any, cast

import jsii
from aws_cdk import Duration, IStableNumberProducer, Lazy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from . import _defaults as d
from ._validation import seconds_of
from .monitoring import Monitored, PipelineMonitoring


@jsii.implements(IStableNumberProducer)
class _IteratorAgeThreshold:
    """The stream's iterator-age threshold, read when the template is rendered."""

    def __init__(self, stream: StreamMonitoring) -> None:
        self.stream = stream

    def produce(self) -> float:
        return self.stream.iterator_age_threshold_ms()


class StreamMonitoring(Monitored):
    """What :class:`~cdk_event_pipeline.EventStream` registers with the stack's monitoring: its
    alarms (:meth:`build_alarms`), dashboard entries and ``metric_*`` helpers."""

    #: The Kinesis stream (the EventStream's).
    stream: kinesis.IStream
    #: Its retention (the EventStream's).
    retention: Duration
    #: Its consumers (the EventStream's).
    consumers: list[Any]

    @property
    def _construct(self) -> Construct:
        """The stream as the construct it is (this mixin is only a base of EventStream, a Construct)."""
        return cast(Construct, self)

    def build_alarms(self, monitoring: PipelineMonitoring) -> dict[str, cloudwatch.Alarm]:
        """The stream's alarms, by role. Override to add, drop or change alarms.

        * ``WriteThroughputExceeded`` / ``ReadThroughputExceeded``: Sum >= 1 in 3 of 5
          one-minute periods (sustained throttling; single bursts are retried by producers and
          by Lambda);
        * ``PutRecordsFailedRecords``: Sum >= 1 in 3 of 5 one-minute periods;
        * ``GetRecordsIteratorAge``: ``GetRecords.IteratorAgeMilliseconds`` Maximum (the slowest
          GetRecords reader) >= half the smallest ``max_record_age`` of the stream's GetRecords
          consumers, so it fires before the fastest of them gives up on records (sends them to its
          on-failure destination); half the retention while the stream has no such consumer.
          Computed when the template is rendered (consumers are added after the stream).
          Enhanced fan-out consumers are not GetRecords readers: their own alarm covers them.

        Roles are also the alarms' construct ids (``<role>Alarm``): keep them distinct from
        the consumers' (a child named ``Default`` adds nothing to a logical id).
        """
        name = PipelineMonitoring.role_path(self._construct)
        period = d.STREAM_THROTTLE_ALARM_PERIOD

        def sustained(kind: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
            return monitoring.add_alarm(
                self._construct, kind, metric, threshold=d.ALARM_COUNT_THRESHOLD, description=description,
                evaluation_periods=d.STREAM_THROTTLE_ALARM_EVALUATION_PERIODS,
                datapoints_to_alarm=d.STREAM_THROTTLE_ALARM_DATAPOINTS,
            )

        return {
            "WriteThroughputExceeded": sustained(
                "WriteThroughputExceeded", self.metric_write_throughput_exceeded_sum(period),
                f"Writes to {name} are throttled: add shards or spread partition keys.",
            ),
            "ReadThroughputExceeded": sustained(
                "ReadThroughputExceeded", self.metric_read_throughput_exceeded_sum(period),
                f"Reads of {name} are throttled: too many GetRecords readers per shard "
                "(use enhanced fan-out) or too few shards.",
            ),
            "PutRecordsFailedRecords": sustained(
                "PutRecordsFailedRecords", self.metric_put_records_failed_records_sum(period),
                f"PutRecords calls to {name} keep returning failed records: check producers retry them.",
            ),
            "GetRecordsIteratorAge": monitoring.add_alarm(
                self._construct, "GetRecordsIteratorAge", self.metric_iterator_age_max(d.ALARM_PERIOD),
                threshold=Lazy.number(_IteratorAgeThreshold(self)),
                description=f"A GetRecords reader of {name} is more than half of its consumers' smallest "
                "max_record_age behind: consumers send records older than their max_record_age to their "
                "on-failure destination unprocessed, and records expire at the retention.",
            ),
        }

    def iterator_age_threshold_ms(self) -> int:
        """Threshold of the ``GetRecordsIteratorAge`` alarm: half the smallest known
        ``max_record_age`` of the GetRecords consumers, else half the retention (milliseconds)."""
        retention_s = seconds_of(self.retention) or d.STREAM_RETENTION_MIN_HOURS * 3600
        bound = retention_s * d.STREAM_ITERATOR_AGE_ALARM_FRACTION_OF_RETENTION
        for consumer in self.consumers:
            age_s = seconds_of(consumer.max_record_age)
            if not consumer.enhanced_fan_out and age_s is not None:
                bound = min(bound, age_s * d.CONSUMER_ITERATOR_AGE_ALARM_FRACTION_OF_MAX_RECORD_AGE)
        return int(bound * 1000)

    def add_to_dashboard(self, monitoring: PipelineMonitoring) -> None:
        """Put the stream's producer rates, put failures, throttles and iterator age on the dashboard."""
        name = PipelineMonitoring.role_path(self._construct)
        monitoring.add_to_dashboard("producer_rates", self.metric_incoming_records_sum().with_(label=f"{name} records"))
        monitoring.add_to_dashboard(
            "producer_rates", self.metric_incoming_bytes_sum().with_(label=f"{name} bytes"), right=True
        )
        monitoring.add_to_dashboard(
            "producer_errors",
            self.metric_put_records_failed_records_sum().with_(label=f"{name} failed records"),
            self.metric_write_throughput_exceeded_sum().with_(label=f"{name} write throttles"),
            self.metric_read_throughput_exceeded_sum().with_(label=f"{name} read throttles"),
        )
        monitoring.add_to_dashboard("consumer_lag", self.metric_iterator_age_max().with_(label=f"{name} GetRecords"))

    # --- metrics (StreamName dimension always set by the L2 helpers) ------------------------

    def metric_iterator_age_max(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Age of the oldest record read by any GetRecords consumer (milliseconds, Maximum)."""
        return self.stream.metric_get_records_iterator_age_milliseconds(statistic="Maximum", period=period)

    def metric_write_throughput_exceeded_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Writes throttled by the stream (count, Sum)."""
        return self.stream.metric_write_provisioned_throughput_exceeded(statistic="Sum", period=period)

    def metric_read_throughput_exceeded_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Reads throttled by the stream (count, Sum)."""
        return self.stream.metric_read_provisioned_throughput_exceeded(statistic="Sum", period=period)

    def metric_incoming_records_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Records put (count, Sum)."""
        return self.stream.metric_incoming_records(statistic="Sum", period=period)

    def metric_incoming_bytes_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Bytes put (bytes, Sum)."""
        return self.stream.metric_incoming_bytes(statistic="Sum", period=period)

    def metric_put_records_failed_records_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Records rejected inside PutRecords calls (count, Sum)."""
        return self.stream.metric_put_records_failed_records(statistic="Sum", period=period)
