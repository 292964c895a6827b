"""Run a synthesized pipeline locally: resources on a moto endpoint, handlers in-process,
event source mappings as pollers with AWS Lambda's documented semantics.

Start with :class:`LocalPipeline` (``LocalPipeline.from_app(".")``) or the ``local_pipeline``
pytest fixture (:mod:`.pytest_plugin`, installed with the ``[local]`` extra). No aws_cdk
import: an app is synthesized in a subprocess (:func:`synthesize`) or an existing ``cdk.out``
is read (:func:`load_assembly`). moto is imported only when an endpoint starts.
"""

from __future__ import annotations

from .assembly import AssemblyError, StackTemplate, load_assembly, synthesize
from .destinations import RECORD_AGE_EXCEEDED, RETRIES_EXHAUSTED, invocation_record
from .endpoint import INSTALL_HINT, LocalEndpoint, MissingDependencyError
from .events import EventLog, RunnerEvent
from .filters import EventFilter, UnsupportedPatternError
from .functions import FunctionError, HandlerStuckError, LocalFunction
from .functions import Invocation as FunctionInvocation
from .invoke import CallableFunction, Outcome, read_response
from .pipeline import (
    Invocation,
    LocalPipeline,
    MappingReport,
    Message,
    NotIdleError,
    RunReport,
)
from .runner import LocalRunner, RunStats
from .sqs import SqsMappingConfig, SqsPoller
from .streams import (
    DynamoDBStreamReader,
    KinesisReader,
    StreamMappingConfig,
    StreamPoller,
)

__all__ = [
    "INSTALL_HINT",
    "RECORD_AGE_EXCEEDED",
    "RETRIES_EXHAUSTED",
    "AssemblyError",
    "CallableFunction",
    "DynamoDBStreamReader",
    "EventFilter",
    "EventLog",
    "FunctionError",
    "FunctionInvocation",
    "HandlerStuckError",
    "Invocation",
    "KinesisReader",
    "LocalEndpoint",
    "LocalFunction",
    "LocalPipeline",
    "LocalRunner",
    "MappingReport",
    "Message",
    "MissingDependencyError",
    "NotIdleError",
    "Outcome",
    "RunReport",
    "RunStats",
    "RunnerEvent",
    "SqsMappingConfig",
    "SqsPoller",
    "StackTemplate",
    "StreamMappingConfig",
    "StreamPoller",
    "UnsupportedPatternError",
    "invocation_record",
    "load_assembly",
    "read_response",
    "synthesize",
]
