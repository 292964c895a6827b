"""Typed props of the methods that forward them: ``add_consumer``, ``add_change_consumer``,
``add_worker``, ``add_archive``, the consumers' own constructors, ``build_dead_letter_queue``.

Each is a ``TypedDict`` used as ``**props: Unpack[...]`` (PEP 692), so a type checker (mypy,
pyright) flags a misspelled prop (``batchsize=10``) or one that belongs to another construct
(``add_change_consumer(..., enhanced_fan_out=True)``) where it is written, instead of a bare
``TypeError`` at synth. Each prop is documented on the construct that takes it explicitly:
:class:`~cdk_event_pipeline.StreamConsumerBase`, :class:`~cdk_event_pipeline.StreamConsumer`,
:class:`~cdk_event_pipeline.QueueWorker`, :class:`~cdk_event_pipeline.StreamArchive`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Required, TypedDict

if TYPE_CHECKING:
    from aws_cdk import Duration, RemovalPolicy, Size
    from aws_cdk import aws_kinesisfirehose as firehose
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sqs as sqs

    from ._kinds import FunctionLike, QueueLike, TableLike


class FunctionProps(TypedDict, total=False):
    """Props of the function a consumer or worker builds (see :class:`PipelineFunction`)."""

    code: Required[lambda_.Code]
    handler: Required[str]
    environment: Mapping[str, str] | None
    memory_size: int | None
    timeout: Duration | None
    log_retention: logs.RetentionDays | None
    tracing: bool
    snap_start: bool


class _NewFunctionProps(TypedDict, total=False):
    function: FunctionLike | None
    code: lambda_.Code | None
    handler: str | None
    environment: Mapping[str, str] | None
    memory_size: int | None
    timeout: Duration | None
    log_retention: logs.RetentionDays | None
    tracing: bool
    snap_start: bool
    max_hops: int | None


class ConsumerProps(_NewFunctionProps, total=False):
    """Props every stream consumer takes (Kinesis and DynamoDB Streams): see
    :class:`~cdk_event_pipeline.StreamConsumerBase`. Also the props of
    :meth:`EntityTable.add_change_consumer <cdk_event_pipeline.EntityTable.add_change_consumer>`."""

    batch_size: int | None
    max_batching_window: Duration | None
    starting_position: lambda_.StartingPosition | None
    starting_position_timestamp: float | None
    bisect_batch_on_error: bool | None
    retry_attempts: int | None
    max_record_age: Duration | None
    report_batch_item_failures: bool | None
    parallelization_factor: int | None
    tumbling_window: Duration | None
    filters: Sequence[Mapping[str, Any]] | None
    filter_encryption_key: kms.IKey | None
    enabled: bool | None
    dead_letter_queue: QueueLike | None
    failure_bucket: s3.IBucket | None
    idempotency: bool | TableLike | None
    alarms: bool


class KinesisConsumerProps(ConsumerProps, total=False):
    """:class:`ConsumerProps` plus the Kinesis source's retention (``StreamConsumer``'s ``**props``)."""

    source_retention: Duration | None


class StreamConsumerProps(KinesisConsumerProps, total=False):
    """Props of :meth:`EventStream.add_consumer <cdk_event_pipeline.EventStream.add_consumer>`
    and :meth:`EventStream.consumer_defaults <cdk_event_pipeline.EventStream.consumer_defaults>`:
    every :class:`~cdk_event_pipeline.StreamConsumer` prop but ``stream``."""

    enhanced_fan_out: bool


class WorkerProps(_NewFunctionProps, total=False):
    """Props of :meth:`WorkQueue.add_worker <cdk_event_pipeline.WorkQueue.add_worker>`: every
    :class:`~cdk_event_pipeline.QueueWorker` prop but ``work_queue``."""

    batch_size: int | None
    max_batching_window: Duration | None
    report_batch_item_failures: bool | None
    max_concurrency: int | None
    filters: Sequence[Mapping[str, Any]] | None
    filter_encryption_key: kms.IKey | None
    enabled: bool | None
    alarms: bool
    provisioned_pollers: tuple[int, int] | None


class ArchiveProps(TypedDict, total=False):
    """Props of :meth:`EventStream.add_archive <cdk_event_pipeline.EventStream.add_archive>`:
    every :class:`~cdk_event_pipeline.StreamArchive` prop but ``stream``."""

    bucket: s3.IBucket | None
    prefix: str | None
    error_prefix: str | None
    buffering_interval: Duration | None
    buffering_size: Size | None
    compression: firehose.Compression | None
    transition_after: Duration | None
    glacier_after: Duration | None
    encryption_key: kms.IKey | None
    access_logs_bucket: s3.IBucket | None
    log_retention: logs.RetentionDays | None
    removal_policy: RemovalPolicy | None


class DeadLetterQueueProps(TypedDict, total=False):
    """Overrides of a dead-letter queue's ``sqs.Queue`` props, for ``build_dead_letter_queue``
    (each is ``sqs.QueueProps``'s; anything not given keeps the library's default)."""

    queue_name: str | None
    retention_period: Duration | None
    visibility_timeout: Duration | None
    delivery_delay: Duration | None
    receive_message_wait_time: Duration | None
    max_message_size_bytes: int | None
    encryption: sqs.QueueEncryption | None
    encryption_master_key: kms.IKey | None
    data_key_reuse: Duration | None
    removal_policy: RemovalPolicy | None
