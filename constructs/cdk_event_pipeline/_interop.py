"""The library's constructs and aws-cdk-lib's interfaces, accepted alike at every boundary.

Every library method that takes a stream, a queue, a table or a function accepts the library's
construct *and* the aws-cdk-lib interface; one normaliser per kind turns either into the
interface, here and nowhere else:

* a stream: :class:`~cdk_event_pipeline.EventStream` or ``kinesis.IStream``;
* a queue: :class:`~cdk_event_pipeline.WorkQueue` or ``sqs.IQueue``;
* a table: :class:`~cdk_event_pipeline.EntityTable` or ``dynamodb.ITable``;
* a function: any ``lambda_.IFunction`` (a :class:`~cdk_event_pipeline.PipelineFunction` is
  one), or a stream consumer / queue worker (its function).

Grantees need no normaliser: a ``PipelineFunction`` is an ``IGrantable``, and so are stream
consumers and queue workers (their function's principal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from aws_cdk import aws_lambda as lambda_

from ._validation import PipelineValidationError

if TYPE_CHECKING:
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kinesis as kinesis
    from aws_cdk import aws_sqs as sqs

    from .consumer import StreamConsumerBase
    from .queue import QueueWorker, WorkQueue
    from .stream import EventStream
    from .table import EntityTable

#: A Kinesis stream: the library's :class:`EventStream` or any ``kinesis.IStream``.
StreamLike: TypeAlias = "kinesis.IStream | EventStream"
#: An SQS queue: the library's :class:`WorkQueue` or any ``sqs.IQueue``.
QueueLike: TypeAlias = "sqs.IQueue | WorkQueue"
#: A DynamoDB table: the library's :class:`EntityTable` or any ``dynamodb.ITable``.
TableLike: TypeAlias = "dynamodb.ITable | EntityTable"
#: A Lambda function: any ``lambda_.IFunction`` (a PipelineFunction is one), or a stream
#: consumer or queue worker, standing for its function.
FunctionLike: TypeAlias = "lambda_.IFunction | StreamConsumerBase | QueueWorker"


def as_stream(stream: StreamLike) -> kinesis.IStream:
    """The ``kinesis.IStream`` of an :class:`EventStream`, or the stream itself."""
    from .stream import EventStream

    return stream.stream if isinstance(stream, EventStream) else stream


def as_queue(queue: QueueLike) -> sqs.IQueue:
    """The ``sqs.IQueue`` of a :class:`WorkQueue`, or the queue itself."""
    from .queue import WorkQueue

    return queue.queue if isinstance(queue, WorkQueue) else queue


def as_table(table: TableLike) -> dynamodb.ITable:
    """The ``dynamodb.ITable`` of an :class:`EntityTable`, or the table itself."""
    from .table import EntityTable

    return table.table if isinstance(table, EntityTable) else table


def as_function(function: FunctionLike) -> lambda_.IFunction:
    """The function of a stream consumer or queue worker, or the function itself."""
    from .consumer import StreamConsumerBase
    from .queue import QueueWorker

    if isinstance(function, (StreamConsumerBase, QueueWorker)):
        return function.function
    return function


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
