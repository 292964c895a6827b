"""One event source mapping as the rules see it: its properties, its source and its function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ._template import Json, StackTemplate, literal_text, target

KINESIS_STREAM = "AWS::Kinesis::Stream"
KINESIS_CONSUMER = "AWS::Kinesis::StreamConsumer"
DYNAMODB_TABLES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
SQS_QUEUE = "AWS::SQS::Queue"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
#: Lambda aliases and versions name their function in ``FunctionName``.
LAMBDA_FUNCTION_POINTERS = ("AWS::Lambda::Alias", "AWS::Lambda::Version")


class SourceKind(Enum):
    KINESIS = "Kinesis"
    DYNAMODB = "DynamoDB Streams"
    SQS = "SQS"
    OTHER = "other"


#: The service part of an ARN (``arn:aws:kinesis:...``) for sources that are not in the template.
_ARN_SERVICES = {":kinesis:": SourceKind.KINESIS, ":dynamodb:": SourceKind.DYNAMODB, ":sqs:": SourceKind.SQS}


@dataclass(frozen=True)
class Mapping:
    """An ``AWS::Lambda::EventSourceMapping`` in its stack's template.

    Attributes:
        props: The mapping's ``Properties``.
        template: Its stack's template (to follow references to the source and the function).
        kind: What the source is, from the source's resource type or its ARN.
        source_id: Logical id of the source in this template (the stream, table or queue; for an
            enhanced fan-out consumer, its stream), or None when the source is not in it.
    """

    props: Json
    template: StackTemplate
    kind: SourceKind
    source_id: str | None

    @classmethod
    def of(cls, props: Json, template: StackTemplate) -> Mapping:
        kind, source_id = _source(props.get("EventSourceArn"), template)
        return cls(props=props, template=template, kind=kind, source_id=source_id)

    @property
    def is_stream(self) -> bool:
        return self.kind in (SourceKind.KINESIS, SourceKind.DYNAMODB)

    @property
    def source_props(self) -> Json | None:
        """The source resource's properties, or None when it is not in this template."""
        return self.template.props(self.source_id) if self.source_id is not None else None

    def function_id(self) -> str | None:
        """Logical id of the mapping's ``AWS::Lambda::Function`` (through an alias or version)."""
        ref = target(self.props.get("FunctionName"))
        for _ in range(3):  # function <- version <- alias at most
            if ref is None:
                return None
            resource_type = self.template.type_of(ref[0])
            if resource_type == LAMBDA_FUNCTION:
                return ref[0]
            if resource_type not in LAMBDA_FUNCTION_POINTERS:
                return None
            ref = target(self.template.props(ref[0]).get("FunctionName"))
        return None

    def filter_patterns(self) -> list[dict[str, Any]]:
        """The mapping's filter patterns that are literal JSON objects (others are unknown)."""
        filters = (self.props.get("FilterCriteria") or {}).get("Filters") or []
        patterns = []
        for item in filters if isinstance(filters, list) else []:
            pattern = item.get("Pattern") if isinstance(item, dict) else None
            if isinstance(pattern, str):
                try:
                    pattern = json.loads(pattern)
                except ValueError:
                    continue
            if isinstance(pattern, dict):
                patterns.append(pattern)
        return patterns


def _source(arn: Any, template: StackTemplate) -> tuple[SourceKind, str | None]:
    ref = target(arn)
    if ref is not None:
        logical_id, attribute = ref
        resource_type = template.type_of(logical_id)
        if resource_type == KINESIS_STREAM:
            return SourceKind.KINESIS, logical_id
        if resource_type == KINESIS_CONSUMER:
            stream = target(template.props(logical_id).get("StreamARN"))
            stream_id = stream[0] if stream and template.type_of(stream[0]) == KINESIS_STREAM else None
            return SourceKind.KINESIS, stream_id
        if resource_type in DYNAMODB_TABLES and attribute == "StreamArn":
            return SourceKind.DYNAMODB, logical_id
        if resource_type == SQS_QUEUE:
            return SourceKind.SQS, logical_id
    text = literal_text(arn)
    for service, kind in _ARN_SERVICES.items():
        if text is not None and service in text:
            return kind, None
    return SourceKind.OTHER, None


def redrive_policy(queue_props: Json) -> Json | None:
    """A queue's ``RedrivePolicy`` as an object (CloudFormation also takes it as a JSON string)."""
    policy = queue_props.get("RedrivePolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    return policy if isinstance(policy, dict) else None
