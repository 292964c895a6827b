"""What "one of ours" means: the kinds of the library's constructs, and one normaliser per kind.

The bottom of the construct package (only :mod:`._validation` and aws-cdk-lib below it). Each
kind is a plain marker base class that the concrete construct inherits (jsii's metaclass derives
from ``type``, so a plain class mixes into a jsii subclass; ``abc.ABC`` or an inherited
``typing.Protocol`` would not). It names the attributes and methods that lower modules use, so
they can take the library's construct without importing it: ``isinstance(x, StreamSource)`` is
the one way to ask "is this one of ours?".

* :class:`StreamSource`: :class:`~cdk_event_pipeline.EventStream`;
* :class:`QueueSource`: :class:`~cdk_event_pipeline.WorkQueue`;
* :class:`TableSource`: :class:`~cdk_event_pipeline.EntityTable`;
* :class:`FunctionOwner`: stream consumers and queue workers (a construct standing for its function).

Every library method that takes a stream, a queue, a table or a function accepts the library's
construct *and* the aws-cdk-lib interface; one normaliser per kind turns either into the
interface, here and nowhere else (:func:`as_stream`, :func:`as_queue`, :func:`as_table`,
:func:`as_function`). Grantees need no normaliser: a ``PipelineFunction`` is an ``IGrantable``,
and so are stream consumers and queue workers (their function's principal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from aws_cdk import aws_lambda as lambda_

from ._validation import PipelineValidationError

if TYPE_CHECKING:
    from aws_cdk import Duration
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sqs as sqs
    from constructs import Node


class HasNode(Protocol):
    """Anything with a construct node: a construct, or one of the kinds below (for annotations only:
    a Protocol is never a base class here)."""

    @property
    def node(self) -> Node: ...


class StreamSource:
    """The kind of :class:`~cdk_event_pipeline.EventStream`: a Kinesis stream of this library."""

    @property
    def node(self) -> Node:
        """Every kind is a construct (the concrete class's ``Construct`` provides it)."""
        raise NotImplementedError

    #: The Kinesis stream.
    stream: kinesis.IStream
    #: How long records stay readable.
    retention: Duration
    #: The largest record in bytes, when known.
    max_record_size_bytes: int | None
    #: The stream's consumers (the library's consumers add themselves).
    consumers: list[Any]

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """Grant exactly ``actions`` on the stream."""
        raise NotImplementedError

    def check_consumer_filters(self, consumer_path: str, data_filters: Sequence[str]) -> None:
        """Raise when a new consumer's data filters cannot match what a producer writes."""
        raise NotImplementedError


class QueueSource:
    """The kind of :class:`~cdk_event_pipeline.WorkQueue`: an SQS queue of this library."""

    @property
    def node(self) -> Node:
        """Every kind is a construct (the concrete class's ``Construct`` provides it)."""
        raise NotImplementedError

    #: The SQS queue.
    queue: sqs.IQueue
    #: Its redrive target, when this construct knows it.
    dead_letter_queue: sqs.IQueue | None
    #: Receives before a message moves to the dead-letter queue, when this construct knows it.
    max_receive_count: int | None
    #: Whether the queue is FIFO.
    fifo: bool
    #: Its customer-managed key, if any.
    encryption_key: kms.IKey | None

    def _register_worker(self, worker: Any, timeout: Duration | None, window: Duration | None = None) -> None:
        """Apply the queue's guardrails for one more worker (called by the worker)."""
        raise NotImplementedError


class TableSource:
    """The kind of :class:`~cdk_event_pipeline.EntityTable`: a DynamoDB table of this library."""

    @property
    def node(self) -> Node:
        """Every kind is a construct (the concrete class's ``Construct`` provides it)."""
        raise NotImplementedError

    #: The DynamoDB table.
    table: dynamodb.ITable
    #: Its customer-managed key, if any.
    encryption_key: kms.IKey | None
    #: Its global secondary indexes.
    index_names: list[str]

    @property
    def table_stream_arn(self) -> str | None:
        """ARN of the change stream, or ``None`` while the table has none."""
        raise NotImplementedError

    def share_stream(self, grantee: iam.IGrantable) -> None:
        """Allow a reader of another account on the change stream's resource policy."""
        raise NotImplementedError


class FunctionOwner:
    """The kind of a stream consumer or queue worker: a construct standing for its function."""

    @property
    def node(self) -> Node:
        """Every kind is a construct (the concrete class's ``Construct`` provides it)."""
        raise NotImplementedError

    #: The function (or the given one).
    function: lambda_.IFunction
    #: The run-time hop limit set on it, when given.
    max_hops: int | None


#: A Kinesis stream: the library's :class:`EventStream` or any ``kinesis.IStream``.
StreamLike: TypeAlias = "kinesis.IStream | StreamSource"
#: An SQS queue: the library's :class:`WorkQueue` or any ``sqs.IQueue``.
QueueLike: TypeAlias = "sqs.IQueue | QueueSource"
#: A DynamoDB table: the library's :class:`EntityTable` or any ``dynamodb.ITable``.
TableLike: TypeAlias = "dynamodb.ITable | TableSource"
#: A Lambda function: any ``lambda_.IFunction`` (a PipelineFunction is one), or a stream
#: consumer or queue worker, standing for its function.
FunctionLike: TypeAlias = "lambda_.IFunction | FunctionOwner"


def as_stream(stream: StreamLike) -> kinesis.IStream:
    """The ``kinesis.IStream`` of an :class:`EventStream`, or the stream itself."""
    return stream.stream if isinstance(stream, StreamSource) else stream


def as_queue(queue: QueueLike) -> sqs.IQueue:
    """The ``sqs.IQueue`` of a :class:`WorkQueue`, or the queue itself."""
    return queue.queue if isinstance(queue, QueueSource) else queue


def as_table(table: TableLike) -> dynamodb.ITable:
    """The ``dynamodb.ITable`` of an :class:`EntityTable`, or the table itself."""
    return table.table if isinstance(table, TableSource) else table


def as_function(function: FunctionLike) -> lambda_.IFunction:
    """The function of a stream consumer or queue worker, or the function itself."""
    return function.function if isinstance(function, FunctionOwner) else function


def as_configurable_function(function: FunctionLike, what: str) -> lambda_.Function:
    """:func:`as_function`, which must be a function of this app (its environment can be set).

    Args:
        function: The function-like.
        what: What needs the environment, for the message (``"connect_producer"``).

    Raises:
        PipelineValidationError: an imported function (``Function.from_function_arn``).
    """
    resolved = as_function(function)
    if not isinstance(resolved, lambda_.Function):
        raise PipelineValidationError(
            f"{what} needs a function whose environment can be set (given the imported function "
            f"{resolved.node.path}): pass a lambda_.Function of this app, or set the environment "
            "variable and the grants on the imported function yourself"
        )
    return resolved
