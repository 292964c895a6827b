"""EventStream: a Kinesis data stream with safe defaults, exact producer grants and consumers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Unpack

import jsii
from aws_cdk import Annotations, Duration, IStableNumberProducer, Lazy, PhysicalName, RemovalPolicy, Size
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from . import _defaults as d
from ._accounts import account_of, crosses_accounts, principal_account, statement_json
from ._kinds import FunctionLike, StreamLike, StreamSource, as_configurable_function, as_function, as_stream
from ._props import ArchiveProps, StreamConsumerProps
from ._recursion import RecursionGraph
from ._validation import (
    PipelineValidationError,
    check_duration,
    check_range,
    init_reports_path,
    method_reports_path,
    seconds_of,
)
from .archive import StreamArchive
from .consumers._stream_checks import consumer_scope
from .consumers.kinesis import KINESIS_READ_ACTIONS, StreamConsumer
from .monitoring import Monitored, PipelineMonitoring

#: Exactly what a producer needs: nothing to read, describe or list.
PRODUCER_ACTIONS = ("kinesis:PutRecord", "kinesis:PutRecords")
#: What a producer needs on a customer key.
PRODUCER_KEY_ACTIONS = ("kms:GenerateDataKey",)
#: What a reader needs on a customer key (the AWS-managed ``aws/kinesis`` key needs no grant).
READER_KEY_ACTIONS = ("kms:Decrypt",)
#: Attribute of a producer function: the record limits (bytes) of every stream it is connected to.
_RECORD_LIMITS_ATTRIBUTE = "_cdk_event_pipeline_record_limits"


@dataclass(frozen=True)
class ProducerEncoding:
    """How one producer connected with :meth:`EventStream.connect_producer` writes records.

    Attributes:
        path: Construct path of the producer function.
        compress: Records are gzip-compressed.
        aggregate: Records are KPL-aggregated.
    """

    path: str
    compress: bool
    aggregate: bool

    @property
    def is_json(self) -> bool:
        """Whether the records' data can be JSON (neither compressed nor aggregated)."""
        return not (self.compress or self.aggregate)

    def describe(self) -> str:
        """``compress=True``, ``aggregate=True`` or both."""
        flags = (("compress", self.compress), ("aggregate", self.aggregate))
        return ", ".join(name + "=True" for name, on in flags if on)


_FILTER_CONFLICT_WHY_AND_FIX = (
    ": Lambda applies a data filter only to JSON data, so every record of that producer would be "
    "filtered out unprocessed. Fix: filter on another key (e.g. partitionKey) or in the handler, or "
    "connect the producer with compress=False, aggregate=False"
)


def _consumer_side_conflict(pattern: str, producer: ProducerEncoding, stream_path: str) -> str:
    return (
        f"filter {pattern} on the record data can never match the records producer {producer.path} "
        f"writes to {stream_path} ({producer.describe()})" + _FILTER_CONFLICT_WHY_AND_FIX
    )


def _producer_side_conflict(consumer_path: str, pattern: str, producer: ProducerEncoding) -> str:
    return (
        f"producer {producer.path} ({producer.describe()}) writes records that the filter {pattern} "
        f"of consumer {consumer_path} on the record data can never match" + _FILTER_CONFLICT_WHY_AND_FIX
    )


def _check_max_record_size(size: Size | None) -> int | None:
    """Validate ``max_record_size``: a whole number of KiB from 1024 to 10240; its bytes, or
    ``None`` when absent or a token (left to CloudFormation)."""
    if size is None:
        return None
    if not isinstance(size, Size):
        raise PipelineValidationError(
            f"max_record_size must be a Size, e.g. Size.mebibytes(4) (given {size!r})"
        )
    if size.is_unresolved():
        return None
    try:
        kib = size.to_kibibytes()
    except RuntimeError:
        raise PipelineValidationError(
            f"max_record_size must be a whole number of KiB (given {size.to_bytes()} bytes): Kinesis sets it in KiB"
        ) from None
    if not d.STREAM_MAX_RECORD_SIZE_MIN_KIB <= kib <= d.STREAM_MAX_RECORD_SIZE_MAX_KIB:
        raise PipelineValidationError(
            f"max_record_size must be between {d.STREAM_MAX_RECORD_SIZE_MIN_KIB} KiB (1 MiB) and "
            f"{d.STREAM_MAX_RECORD_SIZE_MAX_KIB} KiB (10 MiB) inclusive (given {kib:g} KiB)"
        )
    return int(kib) * 1024


@jsii.implements(IStableNumberProducer)
class _IteratorAgeThreshold:
    """The stream's iterator-age threshold, read when the template is rendered."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream

    def produce(self) -> float:
        return self.stream.iterator_age_threshold_ms()


class EventStream(Construct, StreamSource, Monitored):
    """A Kinesis data stream for ordered events, or a wrapper around an existing one.

    Args:
        scope: Parent construct.
        id: Construct id.
        stream: Wrap an existing stream (a ``kinesis.IStream``, or another EventStream) instead
            of creating one. Mutually exclusive with every prop that configures a new stream.
            Default: - a new stream.
        stream_name: Physical name. Default: - generated by CloudFormation.
        shard_count: Provisioned mode with this many shards (1-100000). Default: - on-demand
            mode (scales by itself; no shard planning).
        retention: How long records stay readable, 24-8760 hours. This is the replay window.
            Default: 24 hours.
        encryption_key: A customer-managed KMS key. Default: - the AWS-managed ``aws/kinesis``
            key (encryption is always on).
        shard_level_metrics: Enhanced shard-level CloudWatch metrics. Default: - none.
        removal_policy: What happens to the stream when it leaves the stack.
            Default: RemovalPolicy.RETAIN (CDK's default for streams: events are data).
        retention_of_existing: With ``stream``, its retention if you know it; consumers use it
            to bound their record-age limits. Default: - the wrapped EventStream's retention, else
            24 hours (the minimum: always safe).
        alarms: Make this stream's alarms (see :meth:`build_alarms`) through the stack's
            :class:`PipelineMonitoring`. Default: True.
        max_record_size: The largest record (data + partition key) the stream accepts, a whole
            number of KiB from 1024 KiB to 10240 KiB (``Size.mebibytes(4)``;
            ``MaxRecordSizeInKiB``, "Handle large records",
            https://docs.aws.amazon.com/streams/latest/dev/large-records.html). Functions connected
            with :meth:`connect_producer` get it as ``EVENT_PIPELINE_MAX_RECORD_BYTES`` (the runtime
            producer refuses a larger record before any call), and every consumer is checked
            against Lambda's 6 MB invocation payload at synth (a warning says what Lambda does and
            what to set). Kinesis keeps per-shard throughput at 1 MB/s in, 2 MB/s out: large records
            are for occasional payloads. Default: - Kinesis' 1 MiB.
        warm_throughput: On-demand streams only: write throughput (MiB/s) the stream is scaled to
            before traffic arrives, 0-10240 (AWS's default limit is 10 GiB/s per stream;
            ``WarmThroughputMiBps``, "UpdateStreamWarmThroughput",
            https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateStreamWarmThroughput.html).
            Only accounts with the On-demand Advantage mode (``MinimumThroughputBillingCommitment``
            enabled) can set it; elsewhere the deployment fails. Rejected with ``shard_count``.
            Default: - none (on-demand scales from its current capacity).
    """

    @init_reports_path
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stream: StreamLike | None = None,
        stream_name: str | None = None,
        shard_count: int | None = None,
        retention: Duration | None = None,
        encryption_key: kms.IKey | None = None,
        shard_level_metrics: Sequence[kinesis.ShardLevelMetrics] | None = None,
        removal_policy: RemovalPolicy | None = None,
        retention_of_existing: Duration | None = None,
        alarms: bool = True,
        max_record_size: Size | None = None,
        warm_throughput: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        #: Producers connected with :meth:`connect_producer`, with their encodings.
        self.producers: list[ProducerEncoding] = []
        #: Consumers of this stream (added with :meth:`add_consumer` or built on it).
        self.consumers: list[StreamConsumer] = []
        #: Whether this stream and its producers get alarms (the ``alarms`` prop).
        self.alarms_enabled = alarms
        new_stream_props = {
            "stream_name": stream_name,
            "shard_count": shard_count,
            "retention": retention,
            "encryption_key": encryption_key,
            "shard_level_metrics": shard_level_metrics,
            "removal_policy": removal_policy,
            "max_record_size": max_record_size,
            "warm_throughput": warm_throughput,
        }
        #: The stream's maximum record size, as given (``None``: Kinesis' 1 MiB default, or unknown
        #: for a wrapped stream).
        self.max_record_size: Size | None = None
        #: The same in bytes (``None`` when not set or a token).
        self.max_record_size_bytes: int | None = None
        #: Warm throughput in MiB/s, as given.
        self.warm_throughput: int | None = None
        if stream is not None:
            given = [k for k, v in new_stream_props.items() if v is not None]
            if given:
                hint = (
                    "; to tell consumers the existing stream's retention, pass retention_of_existing"
                    if "retention" in given else ""
                )
                raise PipelineValidationError(
                    f"stream and {', '.join(given)} are mutually exclusive: pass an existing "
                    f"stream or the props of a new one, not both{hint}"
                )
            self.stream: kinesis.IStream = as_stream(stream)
            known: Duration = stream.retention if isinstance(stream, StreamSource) else d.STREAM_RETENTION
            self.retention: Duration = retention_of_existing if retention_of_existing is not None else known
            self.encryption_key = self.stream.encryption_key
            self.alarms: dict[str, cloudwatch.Alarm] = PipelineMonitoring.of(self).watch(self, alarms=alarms)
            return
        if retention_of_existing is not None:
            raise PipelineValidationError(
                "retention_of_existing is only valid together with stream: for a new stream, pass retention"
            )

        check_range("shard_count", shard_count, d.SHARD_COUNT_MIN, d.SHARD_COUNT_MAX)
        check_duration("retention", retention, d.STREAM_RETENTION_MIN_HOURS * 3600, d.STREAM_RETENTION_MAX_HOURS * 3600)
        self.max_record_size_bytes = _check_max_record_size(max_record_size)
        self.max_record_size = max_record_size
        if warm_throughput is not None and shard_count is not None:
            raise PipelineValidationError(
                f"warm_throughput is only valid for an on-demand stream (given warm_throughput {warm_throughput} "
                f"MiB/s and shard_count {shard_count}): a provisioned stream's capacity is its shards. Drop "
                "shard_count for an on-demand stream, or drop warm_throughput and size the shards"
            )
        check_range("warm_throughput", warm_throughput, d.WARM_THROUGHPUT_MIN_MIBPS, d.WARM_THROUGHPUT_MAX_MIBPS,
                    unit="MiB/s")
        self.warm_throughput = warm_throughput
        self.retention = retention if retention is not None else d.STREAM_RETENTION
        self.encryption_key = encryption_key
        self.stream = self.build_stream(
            stream_name=stream_name,
            shard_count=shard_count,
            shard_level_metrics=shard_level_metrics,
            removal_policy=removal_policy,
        )
        self.apply_stream_capacity(self.stream)
        self.alarms = PipelineMonitoring.of(self).watch(self, alarms=alarms)

    # --- extension points ---------------------------------------------------------------

    def build_stream(
        self,
        *,
        stream_name: str | None,
        shard_count: int | None,
        shard_level_metrics: Sequence[kinesis.ShardLevelMetrics] | None,
        removal_policy: RemovalPolicy | None,
    ) -> kinesis.Stream:
        """Create the stream. Override to change how it is made."""
        return kinesis.Stream(
            self,
            "Stream",
            # Without a name: CloudFormation's generated one, unless another environment refers
            # to the stream (a cross-account consumer's mapping), which needs a known name.
            stream_name=stream_name if stream_name is not None else PhysicalName.GENERATE_IF_NEEDED,
            stream_mode=kinesis.StreamMode.PROVISIONED if shard_count is not None else kinesis.StreamMode.ON_DEMAND,
            shard_count=shard_count,
            retention_period=self.retention,
            encryption=(
                kinesis.StreamEncryption.KMS if self.encryption_key is not None else kinesis.StreamEncryption.MANAGED
            ),
            encryption_key=self.encryption_key,
            shard_level_metrics=list(shard_level_metrics) if shard_level_metrics else None,
            removal_policy=removal_policy,
        )

    def apply_stream_capacity(self, stream: kinesis.IStream) -> None:
        """Set ``max_record_size`` and ``warm_throughput`` on the stream's ``AWS::Kinesis::Stream``.

        aws-cdk-lib 2.275's ``kinesis.Stream`` has no props for them; its L1 ``CfnStream`` has
        ``MaxRecordSizeInKiB`` and ``WarmThroughputMiBps`` (AWS::Kinesis::Stream,
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-kinesis-stream.html).
        Called after :meth:`build_stream`, so an override of it keeps both settings.
        """
        if self.max_record_size is None and self.warm_throughput is None:
            return
        cfn = stream.node.default_child
        if not isinstance(cfn, kinesis.CfnStream):
            raise PipelineValidationError(
                "max_record_size and warm_throughput need the AWS::Kinesis::Stream of the stream build_stream "
                "returned (its node.default_child is not a CfnStream)"
            )
        if self.max_record_size is not None:
            cfn.max_record_size_in_kib = self.max_record_size.to_kibibytes()
        if self.warm_throughput is not None:
            cfn.warm_throughput_mi_bps = self.warm_throughput

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
        name = PipelineMonitoring.role_path(self)
        period = d.STREAM_THROTTLE_ALARM_PERIOD

        def sustained(kind: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
            return monitoring.add_alarm(
                self, kind, metric, threshold=d.ALARM_COUNT_THRESHOLD, description=description,
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
                self, "GetRecordsIteratorAge", self.metric_iterator_age_max(d.ALARM_PERIOD),
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
        name = PipelineMonitoring.role_path(self)
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

    def consumer_defaults(self) -> StreamConsumerProps:
        """Props every consumer added with :meth:`add_consumer` starts from.

        Override to change the defaults of all consumers of a stream subclass (e.g. a larger
        batch size); props passed to :meth:`add_consumer` win.
        """
        return {}

    # --- producers --------------------------------------------------------------------------

    @property
    def stream_name(self) -> str:
        return self.stream.stream_name

    @property
    def stream_arn(self) -> str:
        return self.stream.stream_arn

    def grant_put(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant exactly ``kinesis:PutRecord`` and ``kinesis:PutRecords`` on this stream, plus
        ``kms:GenerateDataKey`` on a customer key. Nothing else.

        A grantee of another account (stacks with explicit, different ``env`` accounts) also gets
        the same two actions in the stream's resource policy (an ``AWS::Kinesis::ResourcePolicy``
        that aws-cdk-lib writes for a cross-account grant; "Share access using resource-based
        policies", https://docs.aws.amazon.com/streams/latest/dev/resource-based-policy-examples.html).
        A function grantee is recorded as a writer of this stream for the recursion check.
        """
        grant = self.grant(grantee, *PRODUCER_ACTIONS)
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, *PRODUCER_KEY_ACTIONS)
        return grant

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Same as :meth:`grant_put` (aws-cdk-lib's ``grant_write`` adds ``ListShards``, which a
        producer does not need)."""
        return self.grant_put(grantee)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant exactly what a GetRecords reader needs: ``kinesis:DescribeStream``,
        ``DescribeStreamSummary``, ``GetRecords``, ``GetShardIterator``, ``ListShards`` on this
        stream, plus ``kms:Decrypt`` on a customer key (aws-cdk-lib's ``grant_read`` adds
        ``ListStreams`` and ``DescribeStreamConsumer``). Cross-account: see :meth:`grant`."""
        grant = self.grant(grantee, *KINESIS_READ_ACTIONS)
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, *READER_KEY_ACTIONS)
        return grant

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """:meth:`grant_read` and :meth:`grant_put` together."""
        self.grant_read(grantee)
        return self.grant_put(grantee)

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Grant exactly ``actions`` on this stream (no key grant: add it with the key's own
        ``grant`` when the stream has a customer key).

        A grantee of another account gets the same actions in the stream's resource policy too
        (aws-cdk-lib writes it for a stream of this app). A stream imported from another account
        cannot get a resource policy from this app: a warning
        (``cdk-event-pipeline:ForeignStreamResourcePolicy``) gives the statement its owner must add.
        """
        grant = self.stream.grant(grantee, *actions)
        if any(action in PRODUCER_ACTIONS for action in actions):
            RecursionGraph.of(self).write(self, "stream", grantee)
        stream_account = account_of(self.stream)
        if not isinstance(self.stream, kinesis.Stream) and crosses_accounts(stream_account, principal_account(grantee)):
            statement = iam.PolicyStatement(
                actions=list(actions), principals=[grantee.grant_principal], resources=[self.stream.stream_arn]
            )
            Annotations.of(self).add_warning_v2(
                "cdk-event-pipeline:ForeignStreamResourcePolicy",
                f"The stream belongs to account {stream_account} and is imported: this app cannot change its "
                "resource policy. Its owner must add this statement to the stream's resource policy, or the "
                f"grant has no effect: {statement_json(statement, self)}",
            )
        return grant

    @method_reports_path
    def connect_producer(
        self,
        function: FunctionLike,
        *,
        env_var: str = d.STREAM_NAME_ENV,
        compress: bool = False,
        aggregate: bool = False,
    ) -> None:
        """Let ``function`` put records: sets ``env_var`` to the stream name, records how the
        function encodes its records, grants :meth:`grant_put`, and gives the function an
        ``Errors`` alarm (once per function; not with ``alarms=False``).

        The encoding is set as the runtime producer's defaults (``EVENT_PIPELINE_COMPRESS`` and
        ``EVENT_PIPELINE_AGGREGATE``, ``"true"``/``"false"``) and checked against every consumer:
        a consumer filtering on the record ``data`` can never match compressed or aggregated
        records (Lambda filters only JSON data), so that combination raises, whichever of the two
        is added first. :meth:`grant_put` alone records no encoding and checks nothing.

        With ``max_record_size`` set, the function also gets ``EVENT_PIPELINE_MAX_RECORD_BYTES``,
        the runtime producer's record limit: the smallest limit of every stream the function is
        connected to (a stream without ``max_record_size`` counts as Kinesis' 1 MiB), since one
        variable serves all of them.

        A function of another account gets the stream's ARN in ``env_var`` instead of its name
        (``PutRecords`` across accounts must name the stream by ARN) and the grant in the stream's
        resource policy too (see :meth:`grant_put`).

        Args:
            function: The producer: a function of this app (a ``lambda_.Function``, a
                :class:`PipelineFunction`, or a consumer's or worker's function).
            env_var: Environment variable holding the stream name. Default: ``"STREAM_NAME"``.
            compress: The producer gzip-compresses records. Default: False.
            aggregate: The producer KPL-aggregates records. Default: False.

        Raises:
            PipelineValidationError: ``compress`` or ``aggregate`` while a consumer of this
                stream filters on the record data.
        """
        fn = as_configurable_function(function, "connect_producer")
        producer = ProducerEncoding(fn.node.path, compress=compress, aggregate=aggregate)
        if not producer.is_json:
            for consumer in self.consumers:
                for pattern in consumer.data_filters:
                    raise PipelineValidationError(
                        _producer_side_conflict(consumer.node.path, pattern, producer), path=self.node.path
                    )
        cross_account = crosses_accounts(account_of(fn), account_of(self.stream))
        fn.add_environment(env_var, self.stream.stream_arn if cross_account else self.stream.stream_name)
        fn.add_environment(d.PRODUCER_COMPRESS_ENV, "true" if compress else "false")
        fn.add_environment(d.PRODUCER_AGGREGATE_ENV, "true" if aggregate else "false")
        self._set_record_limit(fn)
        self.grant_put(fn)
        self.producers.append(producer)
        PipelineMonitoring.of(fn).watch_producer(fn, alarms=self.alarms_enabled)

    def _set_record_limit(self, fn: lambda_.Function) -> None:
        """Give ``fn`` the smallest record limit of the streams it produces to, once one has
        ``max_record_size`` (an unknown or default limit counts as 1 MiB)."""
        limits: list[int] = getattr(fn, _RECORD_LIMITS_ATTRIBUTE, [])
        default = d.STREAM_DEFAULT_MAX_RECORD_SIZE_KIB * 1024
        limits = [*limits, self.max_record_size_bytes if self.max_record_size_bytes is not None else default]
        setattr(fn, _RECORD_LIMITS_ATTRIBUTE, limits)
        if any(limit != default for limit in limits):
            fn.add_environment(d.PRODUCER_MAX_RECORD_BYTES_ENV, str(min(limits)))

    def check_consumer_filters(self, consumer_path: str, data_filters: Sequence[str]) -> None:
        """Raise when a new consumer's data filters cannot match what a connected producer writes.

        Args:
            consumer_path: Construct path of the consumer being built.
            data_filters: Its filter patterns that test the record ``data``.
        """
        for producer in self.producers:
            if producer.is_json:
                continue
            for pattern in data_filters:
                raise PipelineValidationError(
                    _consumer_side_conflict(pattern, producer, self.node.path), path=consumer_path
                )

    # --- consumers --------------------------------------------------------------------------

    @method_reports_path
    def add_consumer(self, id: str, **props: Unpack[StreamConsumerProps]) -> StreamConsumer:
        """Add a :class:`StreamConsumer` of this stream (as a child of this construct).

        With ``function=`` a function of another stack, the consumer is made in the function's stack
        instead, with this ``id``: the mapping, its dead-letter queue and its alarms belong with the
        function (a mapping in the stream's stack would make the two stacks depend on each other).
        When that stack is in another account (explicit, different ``env`` accounts), the stream's
        resource policy also allows the function's role exactly the reader actions (and
        ``kinesis:SubscribeToShard`` on the registered consumer, with enhanced fan-out; "Creating a
        cross-account event source mapping",
        https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html).

        Args:
            id: Construct id of the consumer.
            **props: See :class:`StreamConsumer`; start from :meth:`consumer_defaults`.

        Raises:
            PipelineValidationError: ``function=`` an imported function of another account (its
                mapping cannot be created from this app).
        """
        merged: StreamConsumerProps = {**self.consumer_defaults(), **props}
        given = merged.get("function")
        scope = consumer_scope(self, as_function(given) if given is not None else None, self.stream, "add_consumer")
        return self.consumer_class()(scope, id, stream=self, **merged)

    def consumer_class(self) -> type[StreamConsumer]:
        """The class :meth:`add_consumer` instantiates. Override to use your own subclass."""
        return StreamConsumer

    # --- archive --------------------------------------------------------------------------

    def add_archive(self, id: str = "Archive", **props: Unpack[ArchiveProps]) -> StreamArchive:
        """Archive every record of this stream to S3 with a :class:`StreamArchive` (a child of
        this construct); the stream's customer key, if any, is passed on.

        Args:
            id: Construct id of the archive. Default: ``"Archive"``.
            **props: See :class:`StreamArchive`.
        """
        props.setdefault("encryption_key", self.encryption_key)
        return StreamArchive(self, id, stream=self, **props)

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
