"""A stand-in for another team's package that subclasses the library's constructs.

It uses only the public API (``cdk_event_pipeline``), typed: mypy checks it like the library.
"""

from __future__ import annotations

from typing import Any, Unpack

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_event_pipeline import (
    DeadLetterQueueProps,
    EventStream,
    PipelineFunction,
    StreamConsumer,
    StreamConsumerProps,
)


class AcmeConsumer(StreamConsumer):
    """Acme's consumers: bigger functions, and a DLQ with a longer visibility timeout."""

    def build_function(self, **kwargs: Any) -> PipelineFunction:
        kwargs["memory_size"] = 1024
        kwargs["environment"] = {**(kwargs.get("environment") or {}), "TEAM": "acme"}
        return super().build_function(**kwargs)

    def build_dead_letter_queue(self, **overrides: Unpack[DeadLetterQueueProps]) -> sqs.IQueue:
        # One setting changed, the library's defaults kept: no L1 property override needed.
        props: DeadLetterQueueProps = {"visibility_timeout": Duration.minutes(5), **overrides}
        return super().build_dead_letter_queue(**props)


class AcmeStream(EventStream):
    """Acme's streams: 7-day retention for replays, batch 500, Acme's consumer class."""

    def __init__(self, scope: Construct, id: str, *, retention: Duration | None = None) -> None:
        super().__init__(scope, id, retention=retention if retention is not None else Duration.days(7))

    def consumer_defaults(self) -> StreamConsumerProps:
        return {"batch_size": 500}

    def consumer_class(self) -> type[StreamConsumer]:
        return AcmeConsumer
