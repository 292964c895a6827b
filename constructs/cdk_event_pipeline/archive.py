"""StreamArchive: every record of a Kinesis stream, delivered by Firehose into S3.

A Firehose delivery stream reads the Kinesis stream and writes compressed objects under
``prefix`` (failed deliveries under ``error_prefix``), buffered by time and size. The bucket
is made here by default: S3-managed encryption, TLS only, all public access blocked, not
versioned (Firehose writes every object once under a unique key: versions would only add cost),
kept when it leaves the stack, and moved to cheaper storage classes as it ages.

The Firehose role is exact. aws_kinesisfirehose's L2 grants ``stream.grant_read`` (8 actions,
incl. ListStreams and SubscribeToShard) and ``bucket.grant_read_write`` (incl.
``s3:DeleteObject*`` on every object), so it is handed an immutable view of the role and the
statements below are attached instead (Amazon Data Firehose developer guide, "Grant Firehose
access to an Amazon S3 destination"):

* ``kinesis:DescribeStream``, ``kinesis:GetShardIterator``, ``kinesis:GetRecords``,
  ``kinesis:ListShards`` on the stream (+ ``kms:Decrypt`` on its customer key);
* ``s3:GetBucketLocation``, ``s3:ListBucket``, ``s3:ListBucketMultipartUploads`` on the bucket;
* ``s3:AbortMultipartUpload``, ``s3:GetObject``, ``s3:PutObject`` on the objects under the two
  prefixes only;
* ``logs:PutLogEvents`` on the delivery stream's own log group.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Size, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from . import _defaults as d
from ._kinds import StreamLike, as_stream
from ._nag import acknowledge_resource
from ._validation import (
    PipelineValidationError,
    check_duration,
    check_range,
    fmt_num,
    init_reports_path,
    require,
    seconds_of,
)

#: What Firehose needs to read a Kinesis data stream source.
FIREHOSE_STREAM_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
)
#: Bucket-level S3 actions of a Firehose S3 destination.
FIREHOSE_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
#: Object-level S3 actions of a Firehose S3 destination.
FIREHOSE_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")

#: Construct id of the mapping aws_kinesisfirehose.DeliveryStream adds to its stack.
_FIREHOSE_CIDR_MAPPING_ID = "@aws-cdk--aws-kinesisfirehose.CidrBlocks"  # "/" in ids becomes "--"

KDF1_REASON = (
    "Firehose server-side encryption cannot be enabled on a delivery stream whose source is a "
    "Kinesis data stream (aws-cdk-lib raises ServerSideEncryptionNotSupportedWithKinesisSource): the "
    "records are encrypted at rest in the source stream, in transit with TLS, and in S3 with the "
    "bucket's encryption."
)
IAM5_OBJECTS_REASON = (
    "Firehose names each object itself (prefix + yyyy/MM/dd/HH + a unique suffix), so object writes "
    "need a wildcard; it is limited to this archive's data and error prefixes in this one bucket."
)
S1_REASON = (
    "The archive bucket is written only by this delivery stream's role and holds a copy of the stream; "
    "server access logs would need a second bucket (itself without access logs). Pass "
    "access_logs_bucket to StreamArchive to enable them."
)


class StreamArchive(Construct):
    """Archive a Kinesis data stream to S3 through an Amazon Data Firehose delivery stream.

    Args:
        scope: Parent construct.
        id: Construct id.
        stream: The Kinesis data stream to archive (an :class:`EventStream` or any
            ``kinesis.IStream``).
        bucket: Your bucket instead of a new one (its own lifecycle, logging and retention
            apply; ``transition_after``, ``glacier_after``, ``access_logs_bucket`` and
            ``removal_policy`` must not be given). Default: - a new bucket (see module doc).
        prefix: Key prefix of delivered objects (Firehose appends ``yyyy/MM/dd/HH/``).
            Default: ``"archive/"``.
        error_prefix: Key prefix of records Firehose could not deliver.
            Default: ``"archive-errors/"``.
        buffering_interval: Deliver at least this often, 0-900 seconds. Default: 300 seconds
            (Firehose's default).
        buffering_size: Deliver when this much has gathered, 1-128 MiB. Default: 64 MiB
            (Firehose's default is 5 MiB; larger objects mean fewer PUTs and fewer small files).
        compression: Compression of delivered objects. Default: GZIP.
        transition_after: Age at which objects move to STANDARD_IA; at least 30 days (S3's
            minimum). Default: 30 days.
        glacier_after: Age at which objects move to GLACIER; at least 30 days after
            ``transition_after``. Default: 90 days.
        encryption_key: The source stream's customer-managed key, when the stream is imported
            without it. Default: - the stream's ``encryption_key`` (none for the AWS-managed key).
        access_logs_bucket: Bucket for the new bucket's server access logs (prefix
            ``"<bucket construct path>/"``). Default: - no access logs (acknowledged cdk-nag
            AwsSolutions-S1 with the reason).
        log_retention: Retention of the delivery stream's error log group. Default: one month.
        removal_policy: What happens to the new bucket when it leaves the stack.
            Default: RemovalPolicy.RETAIN (the archive is data).
    """

    @init_reports_path
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stream: StreamLike,
        bucket: s3.IBucket | None = None,
        prefix: str | None = None,
        error_prefix: str | None = None,
        buffering_interval: Duration | None = None,
        buffering_size: Size | None = None,
        compression: firehose.Compression | None = None,
        transition_after: Duration | None = None,
        glacier_after: Duration | None = None,
        encryption_key: kms.IKey | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        log_retention: logs.RetentionDays | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.stream: kinesis.IStream = as_stream(stream)
        self.prefix = prefix if prefix is not None else d.ARCHIVE_PREFIX
        self.error_prefix = error_prefix if error_prefix is not None else d.ARCHIVE_ERROR_PREFIX
        self.buffering_interval = buffering_interval if buffering_interval is not None else d.ARCHIVE_BUFFERING_INTERVAL
        self.buffering_size = (
            buffering_size if buffering_size is not None else Size.mebibytes(d.ARCHIVE_BUFFERING_SIZE_MIB)
        )
        self.compression = compression if compression is not None else firehose.Compression.GZIP
        self.encryption_key = encryption_key if encryption_key is not None else self.stream.encryption_key

        self._validate_props(
            bucket=bucket, transition_after=transition_after, glacier_after=glacier_after,
            access_logs_bucket=access_logs_bucket, removal_policy=removal_policy,
        )
        # --- resources --------------------------------------------------------------------
        self.bucket: s3.IBucket = bucket if bucket is not None else self.build_bucket(
            access_logs_bucket=access_logs_bucket,
            removal_policy=removal_policy if removal_policy is not None else RemovalPolicy.RETAIN,
        )
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention if log_retention is not None else d.LOG_RETENTION
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
            description=f"Firehose role of {self.node.path}",
        )
        self.policy = self.build_policy()
        stack = Stack.of(self)
        cidr_mapping_existed = stack.node.try_find_child(_FIREHOSE_CIDR_MAPPING_ID) is not None
        self.delivery_stream = self.build_delivery_stream()
        if not cidr_mapping_existed:
            # aws-cdk-lib's DeliveryStream adds a region -> Firehose CIDR mapping for its
            # `connections` (VPC destinations only); an S3 destination never references it and
            # both CloudFormation's validator and cfn-lint flag an unused mapping (W7001).
            stack.node.try_remove_child(_FIREHOSE_CIDR_MAPPING_ID)
        # Firehose checks the role when the delivery stream is created: policy first.
        self.delivery_stream.node.add_dependency(self.policy)
        acknowledge_resource(self.delivery_stream, "AwsSolutions::AwsSolutions-KDF1", KDF1_REASON)

    def _validate_props(
        self,
        *,
        bucket: s3.IBucket | None,
        transition_after: Duration | None,
        glacier_after: Duration | None,
        access_logs_bucket: s3.IBucket | None,
        removal_policy: RemovalPolicy | None,
    ) -> None:
        """Every prop, before any resource exists (resolves the two lifecycle ages)."""
        if bucket is not None:
            given = [name for name, value in {
                "transition_after": transition_after, "glacier_after": glacier_after,
                "access_logs_bucket": access_logs_bucket, "removal_policy": removal_policy,
            }.items() if value is not None]
            if given:
                raise PipelineValidationError(
                    f"bucket and {', '.join(given)} are mutually exclusive: they configure the new "
                    "bucket; configure your own bucket yourself"
                )
        check_duration("buffering_interval", self.buffering_interval, 0, d.ARCHIVE_BUFFERING_INTERVAL_MAX_SECONDS)
        size_mib = self.buffering_size.to_mebibytes()
        check_range("buffering_size", size_mib, d.ARCHIVE_BUFFERING_SIZE_MIN_MIB, d.ARCHIVE_BUFFERING_SIZE_MAX_MIB,
                    unit="MiB")
        for name, value in (("prefix", self.prefix), ("error_prefix", self.error_prefix)):
            require(Token.is_unresolved(value) or (value != "" and not value.startswith("/")),
                    f"{name} must be a non-empty S3 key prefix not starting with '/' (given {value!r})")
        require(self.prefix != self.error_prefix,
                f"prefix and error_prefix must differ (both {self.prefix!r}): failed records would "
                "mix with the archive")
        self.transition_after = transition_after if transition_after is not None else d.ARCHIVE_INFREQUENT_ACCESS_AFTER
        self.glacier_after = glacier_after if glacier_after is not None else d.ARCHIVE_GLACIER_AFTER
        ia_days = _days(self.transition_after)
        glacier_days = _days(self.glacier_after)
        if ia_days is not None:
            check_range("transition_after", ia_days, d.ARCHIVE_MIN_DAYS_IN_INFREQUENT_ACCESS, 36500, unit="days")
        if ia_days is not None and glacier_days is not None:
            minimum = ia_days + d.ARCHIVE_MIN_DAYS_IN_INFREQUENT_ACCESS
            if glacier_days < minimum:
                raise PipelineValidationError(
                    f"glacier_after must be at least {d.ARCHIVE_MIN_DAYS_IN_INFREQUENT_ACCESS} days after "
                    f"transition_after ({fmt_num(minimum)} days; given {fmt_num(glacier_days)} days): S3 moves "
                    "objects to GLACIER only after 30 days in STANDARD_IA"
                )

    # --- extension points ---------------------------------------------------------------

    def build_bucket(self, *, access_logs_bucket: s3.IBucket | None, removal_policy: RemovalPolicy) -> s3.Bucket:
        """The archive bucket. Override to change how it is made."""
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=False,
            removal_policy=removal_policy,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=f"{self.node.path}/" if access_logs_bucket is not None else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ArchiveTiering",
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                      transition_after=self.transition_after),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                      transition_after=self.glacier_after),
                    ],
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=d.ARCHIVE_ABORT_INCOMPLETE_UPLOADS_AFTER,
                ),
            ],
        )
        if access_logs_bucket is None:
            acknowledge_resource(bucket, "AwsSolutions::AwsSolutions-S1", S1_REASON)
        return bucket

    def build_policy(self) -> iam.Policy:
        """The exact statements of the Firehose role (see the module doc)."""
        object_arns = [self.bucket.arn_for_objects(f"{_static_prefix(p)}*") for p in (self.prefix, self.error_prefix)]
        statements = [
            iam.PolicyStatement(actions=list(FIREHOSE_STREAM_READ_ACTIONS), resources=[self.stream.stream_arn]),
            iam.PolicyStatement(actions=list(FIREHOSE_BUCKET_ACTIONS), resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(actions=list(FIREHOSE_OBJECT_ACTIONS), resources=object_arns),
            iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=[self.log_group.log_group_arn]),
        ]
        if self.encryption_key is not None:
            statements.append(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.encryption_key.key_arn]))
        bucket_key = self.bucket.encryption_key
        if bucket_key is not None:
            statements.append(iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[bucket_key.key_arn]))
        policy = iam.Policy(self, "Policy", roles=[self.role], statements=statements)
        stack = Stack.of(self)
        for arn in object_arns:
            finding = _flatten_reference(stack.resolve(arn))
            acknowledge_resource(policy, f"AwsSolutions::AwsSolutions-IAM5[Resource::{finding}]", IAM5_OBJECTS_REASON)
        return policy

    def build_delivery_stream(self) -> firehose.DeliveryStream:
        """The delivery stream. The L2 gets an immutable view of the role, so none of its own
        (broader) grants land; :meth:`build_policy` holds the exact ones."""
        role = self.role.without_policy_updates()
        return firehose.DeliveryStream(
            self,
            "DeliveryStream",
            source=firehose.KinesisStreamSource(self.stream),
            role=role,
            destination=firehose.S3Bucket(
                self.bucket,
                role=role,
                data_output_prefix=self.prefix,
                error_output_prefix=self.error_prefix,
                buffering_interval=self.buffering_interval,
                buffering_size=self.buffering_size,
                compression=self.compression,
                logging_config=firehose.EnableLogging(self.log_group),
            ),
        )


def _static_prefix(prefix: str) -> str:
    """The part of a prefix before its first Firehose expression (``!{...}``)."""
    if Token.is_unresolved(prefix):
        return ""
    return prefix.split("!{", 1)[0]


def _flatten_reference(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag 3 spells it in a finding id
    (``{"Fn::GetAtt": ["X", "Arn"]}`` -> ``<X.Arn>``; joins concatenated)."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(_flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten_reference(resource)}.{_flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _days(duration: Duration) -> float | None:
    seconds = seconds_of(duration)
    return None if seconds is None else seconds / 86400
