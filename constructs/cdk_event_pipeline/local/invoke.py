"""Calling a function the way an event source mapping does, and reading its response."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from event_pipeline_runtime.batch_response import read_batch_response

from .functions import Invocation, describe_error

#: What a mapping sees a function as: ``call(event) -> response`` (raises = function error).
Invoke = Callable[[dict[str, Any]], Any]


class LocalFunctionLike(Protocol):
    """A function the pollers can invoke (a loaded handler, or any callable in tests)."""

    logical_id: str
    name: str
    arn: str

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with ``event``; an exception is a function error."""
        ...


@dataclass
class CallableFunction:
    """Adapts a plain callable ``f(event) -> response`` to :class:`LocalFunctionLike`."""

    call: Invoke
    logical_id: str = "Function"
    name: str = "function"
    arn: str = "arn:aws:lambda:us-east-1:123456789012:function:function"

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call it."""
        return self.call(event)


@dataclass(frozen=True)
class Outcome:
    """How an invocation went, as the mapping reads it.

    Attributes:
        status: ``ok`` (all records succeeded), ``partial`` (``batchItemFailures`` named valid
            records) or ``error`` (the function failed, or the response was one Lambda treats
            as a complete failure).
        failed_index: For ``partial``: index of the record with the lowest failed identifier.
        failed_ids: The identifiers the function reported.
        error: A one-line description of the error.
        function_error: ``Unhandled`` when the function itself failed (raised, exited, timed
            out), else None (the response was refused).
        duration: Seconds the invocation took.
        timed_out: The function timed out.
        state: The tumbling-window ``state`` of the response (window invocations only).
    """

    status: Literal["ok", "partial", "error"]
    failed_index: int | None = None
    failed_ids: tuple[str, ...] = ()
    error: str | None = None
    function_error: str | None = None
    duration: float = 0.0
    timed_out: bool = False
    state: Any = None


def run(function: LocalFunctionLike, event: dict[str, Any]) -> Invocation:
    """Invoke once: a :class:`~.functions.LocalFunction` runs with its timeout in its own thread;
    any other callable runs inline, and anything it raises (but Ctrl-C) is a function error."""
    runner = getattr(function, "run", None)
    if callable(runner):
        result = runner(event)
        assert isinstance(result, Invocation)
        return result
    started = time.perf_counter()
    try:
        response = function.invoke(event)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: a function error
        error_type, message = describe_error(exc)
        return Invocation(error=message, error_type=error_type, duration=time.perf_counter() - started)
    return Invocation(response=response, duration=time.perf_counter() - started)


def read_response(
    invocation: Invocation, identifiers: Sequence[str], *, report_failures: bool, window: bool = False,
) -> Outcome:
    """Interpret an invocation the way Lambda does for stream and SQS mappings.

    * A function error (raised, exited, timed out) fails the whole batch.
    * Otherwise the response is read by the runtime's one reader of batch responses
      (:func:`event_pipeline_runtime.batch_response.read_batch_response`, AWS's documented
      "success and failure conditions", and for tumbling windows the required ``state``), the
      same one the redrive tool's targets use.

    Args:
        invocation: The call.
        identifiers: The batch's item identifiers in order (sequence numbers / message ids).
        report_failures: The mapping has ``ReportBatchItemFailures``.
        window: The invocation was a tumbling-window aggregation (a ``state`` is required).

    Returns:
        The outcome; ``failed_index`` is the position of the first failed identifier.
    """

    def outcome(status: Literal["ok", "partial", "error"], **fields: Any) -> Outcome:
        return Outcome(status, duration=invocation.duration, timed_out=invocation.timed_out, **fields)

    if invocation.error is not None:
        return outcome("error", error=invocation.error, function_error="Unhandled")
    verdict = read_batch_response(invocation.response, identifiers, report_failures=report_failures, window=window)
    if verdict.status == "failed":
        return outcome("error", error=verdict.reason)
    if verdict.status == "partial":
        return outcome("partial", failed_index=verdict.first_failed_index, failed_ids=verdict.failed_ids,
                       state=verdict.state)
    return outcome("ok", state=verdict.state)
