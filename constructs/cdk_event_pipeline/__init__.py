"""cdk-event-pipeline: AWS CDK v2 constructs for Kinesis, SQS and DynamoDB event pipelines.

The public API is re-exported here. Imports are lazy (PEP 562) so that the command-line tools
(``cdk_event_pipeline.tools``) start without loading aws_cdk and its jsii runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "EventStream": ".stream",
    "PRODUCER_ACTIONS": ".stream",
    "ProducerEncoding": ".stream",
    "StreamConsumer": ".consumers",
    "StreamConsumerBase": ".consumers",
    "KINESIS_READ_ACTIONS": ".consumers",
    "PipelineFunction": ".function",
    "pipeline_layers": ".function",
    "powertools_layer_arn": ".function",
    "PipelineValidationError": "._validation",
    "acknowledge": "._nag",
    "code_from_dir": "._assets",
    "bundled_code": "._assets",
    "ExactSqsDestination": "._destinations",
    "ExactS3Destination": "._destinations",
    "WorkQueue": ".queue",
    "QueueWorker": ".consumers",
    "QUEUE_SEND_ACTIONS": ".queue",
    "QUEUE_WORKER_ACTIONS": ".consumers",
    "EntityTable": ".table",
    "TableChangeConsumer": ".consumers",
    "READER_ACTIONS": ".table",
    "WRITER_ACTIONS": ".table",
    "DYNAMODB_STREAM_READ_ACTIONS": ".consumers",
    "DYNAMODB_STREAM_RESOURCE_POLICY_ACTIONS": ".table",
    "StreamArchive": ".archive",
    "FIREHOSE_STREAM_READ_ACTIONS": ".archive",
    "PipelineMonitoring": ".monitoring",
    "CLOUDWATCH_KEY_ACTIONS": ".monitoring",
    "ArchiveProps": "._props",
    "ConsumerProps": "._props",
    "DeadLetterQueueProps": "._props",
    "FunctionProps": "._props",
    "KinesisConsumerProps": "._props",
    "StreamConsumerProps": "._props",
    "WorkerProps": "._props",
    "FunctionLike": "._kinds",
    "QueueLike": "._kinds",
    "StreamLike": "._kinds",
    "TableLike": "._kinds",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the explicit ``X as X`` form re-exports each name for type checkers
    from ._assets import bundled_code as bundled_code
    from ._assets import code_from_dir as code_from_dir
    from ._destinations import ExactS3Destination as ExactS3Destination
    from ._destinations import ExactSqsDestination as ExactSqsDestination
    from ._kinds import FunctionLike as FunctionLike
    from ._kinds import QueueLike as QueueLike
    from ._kinds import StreamLike as StreamLike
    from ._kinds import TableLike as TableLike
    from ._nag import acknowledge as acknowledge
    from ._props import ArchiveProps as ArchiveProps
    from ._props import ConsumerProps as ConsumerProps
    from ._props import DeadLetterQueueProps as DeadLetterQueueProps
    from ._props import FunctionProps as FunctionProps
    from ._props import KinesisConsumerProps as KinesisConsumerProps
    from ._props import StreamConsumerProps as StreamConsumerProps
    from ._props import WorkerProps as WorkerProps
    from ._validation import PipelineValidationError as PipelineValidationError
    from .archive import FIREHOSE_STREAM_READ_ACTIONS as FIREHOSE_STREAM_READ_ACTIONS
    from .archive import StreamArchive as StreamArchive
    from .consumers import DYNAMODB_STREAM_READ_ACTIONS as DYNAMODB_STREAM_READ_ACTIONS
    from .consumers import KINESIS_READ_ACTIONS as KINESIS_READ_ACTIONS
    from .consumers import QUEUE_WORKER_ACTIONS as QUEUE_WORKER_ACTIONS
    from .consumers import QueueWorker as QueueWorker
    from .consumers import StreamConsumer as StreamConsumer
    from .consumers import StreamConsumerBase as StreamConsumerBase
    from .consumers import TableChangeConsumer as TableChangeConsumer
    from .function import PipelineFunction as PipelineFunction
    from .function import pipeline_layers as pipeline_layers
    from .function import powertools_layer_arn as powertools_layer_arn
    from .monitoring import CLOUDWATCH_KEY_ACTIONS as CLOUDWATCH_KEY_ACTIONS
    from .monitoring import PipelineMonitoring as PipelineMonitoring
    from .queue import QUEUE_SEND_ACTIONS as QUEUE_SEND_ACTIONS
    from .queue import WorkQueue as WorkQueue
    from .stream import PRODUCER_ACTIONS as PRODUCER_ACTIONS
    from .stream import EventStream as EventStream
    from .stream import ProducerEncoding as ProducerEncoding
    from .table import DYNAMODB_STREAM_RESOURCE_POLICY_ACTIONS as DYNAMODB_STREAM_RESOURCE_POLICY_ACTIONS
    from .table import READER_ACTIONS as READER_ACTIONS
    from .table import WRITER_ACTIONS as WRITER_ACTIONS
    from .table import EntityTable as EntityTable


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdk_event_pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
