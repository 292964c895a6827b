"""A stand-in for another team's package that subclasses the library's constructs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import EventStream, PipelineFunction, StreamConsumer


class AcmeConsumer(StreamConsumer):
    """Acme's consumers: bigger functions, and a DLQ with a longer visibility timeout."""

    def build_function(self, **kwargs: Any) -> PipelineFunction:
        kwargs["memory_size"] = 1024
        kwargs["environment"] = {**(kwargs.get("environment") or {}), "TEAM": "acme"}
        return super().build_function(**kwargs)

    def build_dead_letter_queue(self) -> sqs.IQueue:
        queue = super().build_dead_letter_queue()
        queue.node.default_child.add_property_override("VisibilityTimeout", 300)  # type: ignore[union-attr]
        return queue


class AcmeStream(EventStream):
    """Acme's streams: 7-day retention for replays, batch 500, Acme's consumer class."""

    def __init__(self, scope, id, **kwargs: Any) -> None:  # noqa: ANN001
        kwargs.setdefault("retention", Duration.days(7))
        super().__init__(scope, id, **kwargs)

    def consumer_defaults(self) -> dict[str, Any]:
        return {"batch_size": 500}

    def consumer_class(self) -> type[StreamConsumer]:
        return AcmeConsumer
