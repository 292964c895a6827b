"""The run-time recursion guard: a hop count carried by every envelope.

AWS Lambda's recursive loop detection stops loops through Amazon SQS, Amazon SNS and Amazon S3
after about 16 invocations, but it does not cover Kinesis Data Streams or DynamoDB Streams
("Use Lambda recursive loop detection to prevent infinite loops",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). A consumer that
writes back to the stream it reads, directly or through other streams, loops until someone
notices the bill.

The guard has three parts:

* the envelope's optional ``hops`` field (see :mod:`event_pipeline_runtime.envelope`): how many
  times the event was produced again from inside a consumer invocation;
* :func:`~event_pipeline_runtime.pipeline_handler` sets, for each record it hands to
  ``process``, the record's hop count in a context variable (:func:`consuming`);
  :class:`~event_pipeline_runtime.EventProducer` reads it (:func:`next_hops`) and writes the
  envelopes it produces meanwhile with that count + 1;
* :func:`~event_pipeline_runtime.pipeline_handler` refuses a record whose ``hops`` is over the
  limit (``max_hops``, env ``EVENT_PIPELINE_MAX_HOPS``, default :data:`DEFAULT_MAX_HOPS`) before
  ``process`` runs: it fails with :class:`HopLimitExceededError` and, after the mapping's
  retries, goes to the on-failure destination with that reason instead of looping on.

A context variable is per thread (and per ``asyncio`` task): records produced from a thread that
``process`` starts itself carry no hop count unless that thread runs in a copy of the context
(``contextvars.copy_context().run``). Only envelopes carry a count: raw ``bytes`` and JSON that is
not an envelope pass unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from event_pipeline_runtime.contract import DEFAULT_MAX_HOPS, MAX_HOPS_ENV, MAX_HOPS_LIMIT

__all__ = [
    "DEFAULT_MAX_HOPS",
    "MAX_HOPS_ENV",
    "HopLimitExceededError",
    "check_max_hops",
    "consuming",
    "current_hops",
    "default_max_hops",
    "next_hops",
]

_current: ContextVar[int | None] = ContextVar("event_pipeline_consumed_hops", default=None)


class HopLimitExceededError(ValueError):
    """A consumed record's envelope has more hops than the consumer accepts: a recursive loop."""


def current_hops() -> int | None:
    """The hop count of the record being processed, or ``None`` outside a consumer invocation."""
    return _current.get()


def next_hops() -> int:
    """The hop count of an envelope produced now: the processed record's + 1 inside a consumer
    invocation, else 0."""
    hops = _current.get()
    return 0 if hops is None else hops + 1


@contextmanager
def consuming(hops: int) -> Iterator[None]:
    """Mark that the record with ``hops`` hops is being processed (by :func:`pipeline_handler`)."""
    token = _current.set(hops)
    try:
        yield
    finally:
        _current.reset(token)


def check_max_hops(value: object, source: str = "max_hops") -> int:
    """Validate a hop limit: an int from 0 to ``MAX_HOPS_LIMIT``.

    Raises:
        ValueError: naming ``source`` (the argument or the environment variable) and the value.
    """
    if type(value) is not int or not 0 <= value <= MAX_HOPS_LIMIT:
        raise ValueError(f"{source} must be an integer between 0 and {MAX_HOPS_LIMIT} (given {value!r:.40})")
    return value


def default_max_hops() -> int:
    """The hop limit from env ``EVENT_PIPELINE_MAX_HOPS``, else :data:`DEFAULT_MAX_HOPS`.

    Raises:
        ValueError: the variable is set but is not an integer in range.
    """
    text = os.environ.get(MAX_HOPS_ENV)
    if text is None or text.strip() == "":
        return DEFAULT_MAX_HOPS
    try:
        value: object = int(text.strip())
    except ValueError:
        value = text
    return check_max_hops(value, f"environment variable {MAX_HOPS_ENV}")
