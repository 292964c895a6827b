"""The consumers of a source: one module per source over one base, like aws-cdk's
``aws-lambda-event-sources``.

* :mod:`._base`: :class:`FunctionConsumer`, the function plumbing every consumer shares (one
  function, built or given; what the mapping invokes; the hop limit; the recursion edge);
* :mod:`.stream`: :class:`StreamConsumerBase`, what Kinesis and DynamoDB Streams consumers share
  (failure handling, on-failure destination, idempotency, the mapping, alarms);
* :mod:`.kinesis`: :class:`StreamConsumer`; :mod:`.dynamodb`: :class:`TableChangeConsumer`;
  :mod:`.sqs`: :class:`QueueWorker`;
* :mod:`._fan_out_waiter`: the deploy-time wait until a registered (enhanced fan-out) consumer is
  ACTIVE, before a resource policy for another account's function is attached to it.

A new source is a new small module here. The resources (``EventStream``, ``EntityTable``,
``WorkQueue``) sit above this package and make its consumers (``add_consumer``,
``add_change_consumer``, ``add_worker``); nothing here imports them.
"""

from __future__ import annotations

from ._base import FunctionConsumer
from .dynamodb import DYNAMODB_STREAM_READ_ACTIONS, TableChangeConsumer
from .kinesis import KINESIS_READ_ACTIONS, StreamConsumer
from .sqs import QUEUE_WORKER_ACTIONS, QueueWorker
from .stream import StreamConsumerBase

__all__ = [
    "DYNAMODB_STREAM_READ_ACTIONS",
    "KINESIS_READ_ACTIONS",
    "QUEUE_WORKER_ACTIONS",
    "FunctionConsumer",
    "QueueWorker",
    "StreamConsumer",
    "StreamConsumerBase",
    "TableChangeConsumer",
]
