"""The Kinesis source: :class:`StreamConsumer`, a Lambda consumer of a Kinesis data stream.

What is Kinesis-specific over :class:`~cdk_event_pipeline.StreamConsumerBase`: enhanced fan-out,
AT_TIMESTAMP, the exact Kinesis read grants, and the check of the stream's record size against
Lambda's invocation payload.
"""

from __future__ import annotations

from typing import Unpack, cast

from aws_cdk import Annotations, Duration, Names, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .. import _defaults as d
from .._accounts import account_of, crosses_accounts, grant_key, principal_account
from .._kinds import HasNode, StreamLike, StreamSource, as_stream
from .._props import KinesisConsumerProps
from .._validation import PipelineValidationError, child_path, init_reports_path, seconds_of
from ._fan_out_waiter import FanOutConsumerWaiter
from ._stream_checks import data_filter_patterns
from .stream import StreamConsumerBase

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
#: Enhanced fan-out: the mapping subscribes through the registered consumer.
KINESIS_FAN_OUT_ACTIONS = ("kinesis:SubscribeToShard",)
#: Enhanced fan-out across accounts: what the role and the registered consumer's resource policy
#: allow. AWS's example for sharing a registered consumer grants DescribeStreamConsumer with
#: SubscribeToShard (Kinesis, "Share access using resource-based policies",
#: https://docs.aws.amazon.com/streams/latest/dev/resource-based-policy-examples.html): the mapping
#: describes the consumer of the other account before it subscribes. Across accounts both the role's
#: policy and the resource policy must allow an action, so both get the two.
KINESIS_FAN_OUT_SHARED_ACTIONS = ("kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard")

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
            gets ``kinesis:SubscribeToShard`` on that consumer only (with ``DescribeStreamConsumer``
            too when the function belongs to another account; the consumer's resource policy then
            waits until the consumer is ACTIVE: :class:`FanOutConsumerWaiter`). Default: False.
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
          ``max_record_age`` or expires, and then goes to the on-failure destination unprocessed:
          an SQS queue gets only its metadata (shard, sequence numbers), an S3 bucket the whole
          invocation record, data included ("Retain discarded batch records for a Kinesis Data
          Streams event source",
          https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html; the
          message says which, :meth:`_discarded_record_outcome`):
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
                f"({int(seconds_of(self.max_record_age) or 0)} seconds), then {self._discarded_record_outcome()}. "
                "Fix: set the stream's max_record_size to at most "
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

    def _discarded_record_outcome(self) -> str:
        """What Lambda does with a discarded record, by the kind of on-failure destination
        (``_destinations``: an SQS queue or an S3 bucket). Lambda sends SQS (and SNS) destinations
        a record of the batch, metadata only; an S3 destination gets the whole invocation record,
        the records' data included ("Retain discarded batch records for a Kinesis Data Streams
        event source", https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html)."""
        if self.failure_bucket is not None:
            return ("writes the whole invocation record, the record's data included, to the on-failure bucket "
                    "(failure_bucket), unprocessed")
        return ("sends only its metadata (shard and sequence numbers, not the data) to the on-failure queue, "
                "unprocessed: the data stays in the stream until it expires")

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
                        "it there, allow this function's role kinesis:DescribeStreamConsumer and "
                        "kinesis:SubscribeToShard in its resource policy once it is ACTIVE, "
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

    def _share_fan_out_consumer(self, fan_out: kinesis.StreamConsumer, grantee: iam.IGrantable) -> None:
        """Allow ``grantee`` :data:`KINESIS_FAN_OUT_SHARED_ACTIONS` in the registered consumer's
        resource policy, attached only once the consumer is ACTIVE (:class:`FanOutConsumerWaiter`:
        CloudFormation completes the consumer while it is still CREATING, and the policy would fail)."""
        fan_out.add_to_resource_policy(iam.PolicyStatement(
            actions=list(KINESIS_FAN_OUT_SHARED_ACTIONS), principals=[grantee.grant_principal],
            resources=[fan_out.stream_consumer_arn],
        ))
        active = FanOutConsumerWaiter.of(fan_out).wait_for(fan_out)
        for policy in fan_out.node.children:
            if isinstance(policy, kinesis.ResourcePolicy):
                policy.node.add_dependency(active)

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

        A function of another account gets the same actions in the stream's resource policy, and
        :data:`KINESIS_FAN_OUT_SHARED_ACTIONS` on the registered consumer in its role and in the
        consumer's resource policy (``AWS::Kinesis::ResourcePolicy``, attached once the consumer is
        ACTIVE: :meth:`_share_fan_out_consumer`)."""
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
                    grantee=grantee, actions=list(KINESIS_FAN_OUT_SHARED_ACTIONS),
                    resource_arns=[self._event_source_arn()],
                )
                self._share_fan_out_consumer(fan_out, grantee)
            else:
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=list(KINESIS_FAN_OUT_ACTIONS),
                    resource_arns=[fan_out.stream_consumer_arn],
                )
        if self.encryption_key is not None:
            grant_key(self.encryption_key, grantee, ("kms:Decrypt",))
