"""Calling a function the way an event source mapping does, and reading its response."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

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
            records) or ``error`` (the function raised, or the response was an invalid
            partial response, which Lambda treats as a complete failure).
        failed_index: For ``partial``: index of the record with the lowest failed identifier.
        failed_ids: The identifiers the function reported.
        error: A one-line description of the error.
        function_error: ``Unhandled`` when the function raised, else None.
    """

    status: Literal["ok", "partial", "error"]
    failed_index: int | None = None
    failed_ids: tuple[str, ...] = ()
    error: str | None = None
    function_error: str | None = None


def call(function: LocalFunctionLike, event: dict[str, Any]) -> tuple[Any, Outcome | None]:
    """Invoke; return (response, None) or (None, error outcome)."""
    try:
        return function.invoke(event), None
    except Exception as exc:  # noqa: BLE001 - any exception is a function error
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
        return None, Outcome("error", error=f"{type(exc).__name__}: {exc}{where}", function_error="Unhandled")


def read_response(response: Any, identifiers: Sequence[str], *, report_failures: bool) -> Outcome:
    """Interpret a response the way Lambda does for stream and SQS mappings.

    Without ``ReportBatchItemFailures`` the response is ignored (success). With it: a missing,
    null or empty ``batchItemFailures`` is a success; an item with an empty, null or unknown
    ``itemIdentifier`` makes the whole batch a failure; otherwise the batch partly failed.

    Args:
        response: What the handler returned.
        identifiers: The batch's item identifiers in order (sequence numbers / message ids).
        report_failures: The mapping has ``ReportBatchItemFailures``.

    Returns:
        The outcome; ``failed_index`` is the position of the first failed identifier.
    """
    if not report_failures or not isinstance(response, dict):
        return Outcome("ok")
    failures = response.get("batchItemFailures")
    if not failures:
        return Outcome("ok")
    ids: list[str] = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident:
            return Outcome("error", error="batchItemFailures item without an itemIdentifier: the whole batch failed")
        ids.append(str(ident))
    positions = {ident: i for i, ident in enumerate(identifiers)}
    unknown = [i for i in ids if i not in positions]
    if unknown:
        return Outcome("error", error=f"batchItemFailures names records not in the batch ({unknown[:3]}): the whole batch failed")
    return Outcome("partial", failed_index=min(positions[i] for i in ids), failed_ids=tuple(ids))
