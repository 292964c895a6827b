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
    "StreamConsumer": ".consumer",
    "StreamConsumerBase": ".consumer",
    "KINESIS_READ_ACTIONS": ".consumer",
    "PipelineFunction": ".function",
    "powertools_layer_arn": ".function",
    "pipeline_layers": ".function",
    "PipelineValidationError": "._validation",
    "code_from_dir": "._assets",
    "bundled_code": "._assets",
    "ExactSqsDestination": "._destinations",
    "ExactS3Destination": "._destinations",
    "WorkQueue": ".queue",
    "QueueWorker": ".queue",
    "QUEUE_SEND_ACTIONS": ".queue",
    "QUEUE_WORKER_ACTIONS": ".queue",
    "EntityTable": ".table",
    "TableChangeConsumer": ".table",
    "READER_ACTIONS": ".table",
    "WRITER_ACTIONS": ".table",
    "DYNAMODB_STREAM_READ_ACTIONS": ".table",
    "StreamArchive": ".archive",
    "FIREHOSE_STREAM_READ_ACTIONS": ".archive",
    "PipelineMonitoring": ".monitoring",
    "CLOUDWATCH_KEY_ACTIONS": ".monitoring",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from ._assets import bundled_code, code_from_dir
    from ._destinations import ExactS3Destination, ExactSqsDestination
    from ._validation import PipelineValidationError
    from .consumer import KINESIS_READ_ACTIONS, StreamConsumer, StreamConsumerBase
    from .function import PipelineFunction, pipeline_layers, powertools_layer_arn
    from .stream import PRODUCER_ACTIONS, EventStream, ProducerEncoding
    from .queue import QUEUE_SEND_ACTIONS, QUEUE_WORKER_ACTIONS, QueueWorker, WorkQueue
    from .table import DYNAMODB_STREAM_READ_ACTIONS, READER_ACTIONS, WRITER_ACTIONS, EntityTable, TableChangeConsumer
    from .archive import FIREHOSE_STREAM_READ_ACTIONS, StreamArchive
    from .monitoring import CLOUDWATCH_KEY_ACTIONS, PipelineMonitoring


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdk_event_pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
