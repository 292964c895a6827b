"""Run a synthesized pipeline locally: resources on a moto endpoint, handlers in-process,
event source mappings as pollers with AWS Lambda's documented semantics.

No aws_cdk import: the app is synthesized in a subprocess (:func:`synthesize`) or an existing
``cdk.out`` is read (:func:`load_assembly`).
"""

from __future__ import annotations

from .assembly import AssemblyError, StackTemplate, load_assembly, synthesize
from .clock import Clock, RealClock, VirtualClock
from .destinations import RECORD_AGE_EXCEEDED, RETRIES_EXHAUSTED, invocation_record
from .events import EventLog, RunnerEvent
from .filters import EventFilter, UnsupportedPatternError
from .functions import LocalFunction
from .invoke import CallableFunction, Outcome, read_response
from .runner import LocalRunner, RunStats
from .sqs import SqsMappingConfig, SqsPoller
from .streams import DynamoDBStreamReader, KinesisReader, StreamMappingConfig, StreamPoller

__all__ = [
    "RECORD_AGE_EXCEEDED",
    "RETRIES_EXHAUSTED",
    "AssemblyError",
    "CallableFunction",
    "Clock",
    "DynamoDBStreamReader",
    "EventFilter",
    "EventLog",
    "KinesisReader",
    "LocalFunction",
    "LocalRunner",
    "Outcome",
    "RealClock",
    "RunStats",
    "RunnerEvent",
    "SqsMappingConfig",
    "SqsPoller",
    "StackTemplate",
    "StreamMappingConfig",
    "StreamPoller",
    "UnsupportedPatternError",
    "VirtualClock",
    "invocation_record",
    "load_assembly",
    "synthesize",
]
