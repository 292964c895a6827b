"""Range and exclusivity checks shared by every construct.

Each check is token-aware: a value that is an unresolved CDK token is accepted here and left to
CloudFormation. The range test runs first on the plain Python value, so a valid literal costs no
jsii round trip; only an out-of-range value is asked whether it is a token before we raise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

from aws_cdk import Duration, Stack, Token
from constructs import IConstruct, Node

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


# --- facts of a construct that never change, read through jsii once (issue 19: each read is a
# round trip to the Node process; the library asks for the same paths and stacks many times) ----

def remembered(obj: object, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept on ``obj`` (a jsii proxy is a plain Python object) under ``key``: for
    values fixed once the object exists (its path, its stack, its stack's account)."""
    cache = getattr(obj, "__dict__", None)
    if cache is None:
        return compute()
    try:
        return cast(T, cache[key])
    except KeyError:
        value = cache[key] = compute()
        return value


class _WithNode(Protocol):
    """Anything with a construct node (for annotations only)."""

    @property
    def node(self) -> Node: ...


def path_of(construct: _WithNode) -> str:
    """``construct.node.path``, read once per construct (a construct's path never changes)."""
    return remembered(construct, "_cep_path", lambda: construct.node.path)


def stack_of(construct: IConstruct) -> Stack:
    """``Stack.of(construct)``, looked up once per construct (its stack never changes)."""
    return remembered(construct, "_cep_stack", lambda: Stack.of(construct))


class PipelineValidationError(ValueError):
    """A construct prop is out of range or conflicts with another prop.

    Args:
        message: What is wrong, naming the prop, the value and the allowed range, and ending
            with the fix when there is one.
        path: Construct path of the construct that raised it; the message then starts with
            ``<path>: ``. Default: - none.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.reason = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


@contextmanager
def errors_at(path: str) -> Iterator[None]:
    """Give every :class:`PipelineValidationError` raised inside without a path this one."""
    try:
        yield
    except PipelineValidationError as error:
        if error.path is None:
            raise PipelineValidationError(error.reason, path=path) from None
        raise


def init_reports_path(init: F) -> F:
    """Decorate a construct's ``__init__(self, scope, id, ...)``: its validation errors start with
    the construct's path (``Stack/Events/Audit: batch_size must be ...``), known before the
    construct exists."""

    @functools.wraps(init)
    def wrapper(self: Any, scope: IConstruct, id: str, *args: Any, **kwargs: Any) -> Any:
        with errors_at(child_path(scope, id)):
            return init(self, scope, id, *args, **kwargs)

    return cast(F, wrapper)


def method_reports_path(method: F) -> F:
    """Decorate a construct's method: its validation errors start with the construct's path."""

    @functools.wraps(method)
    def wrapper(self: IConstruct, *args: Any, **kwargs: Any) -> Any:
        with errors_at(path_of(self)):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _is_token(value: Any) -> bool:
    return Token.is_unresolved(value)


def check_range(prop: str, value: int | float | None, minimum: float, maximum: float, *, unit: str = "") -> None:
    """Raise unless ``minimum <= value <= maximum`` (``None`` and tokens pass).

    Args:
        prop: The prop name as the user spells it (``batch_size``).
        value: The given value.
        minimum: Smallest allowed value.
        maximum: Largest allowed value.
        unit: Optional unit appended to the numbers in the message.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PipelineValidationError(f"{prop} must be a number (given {value!r})")
    if minimum <= value <= maximum:
        return
    if _is_token(value):
        return
    suffix = f" {unit}" if unit else ""
    raise PipelineValidationError(
        f"{prop} must be between {fmt_num(minimum)}{suffix} and {fmt_num(maximum)}{suffix} inclusive "
        f"(given {fmt_num(value)}{suffix})"
    )


def seconds_of(duration: Duration | None) -> float | None:
    """Seconds of a Duration, or ``None`` when it is absent or an unresolved token."""
    if duration is None:
        return None
    if not isinstance(duration, Duration):
        raise PipelineValidationError(f"expected a Duration (given {duration!r})")
    try:
        return duration.to_seconds()
    except Exception:  # noqa: BLE001 - jsii raises a plain RuntimeError for token durations
        return None


def check_duration(prop: str, value: Duration | None, minimum_seconds: float, maximum_seconds: float) -> None:
    """Raise unless a Duration lies within ``[minimum_seconds, maximum_seconds]``."""
    seconds = seconds_of(value)
    if seconds is None:
        return
    if minimum_seconds <= seconds <= maximum_seconds:
        return
    raise PipelineValidationError(
        f"{prop} must be between {_human(minimum_seconds)} and {_human(maximum_seconds)} inclusive "
        f"(given {_human(seconds)})"
    )


def check_exclusive(**props: Any) -> None:
    """Raise when more than one of the keyword arguments is set (not ``None``)."""
    given = [name for name, value in props.items() if value is not None]
    if len(given) > 1:
        raise PipelineValidationError(
            f"{' and '.join(given)} are mutually exclusive: pass only one of {', '.join(props)}"
        )


def check_existing_or_new(kind: str, new_props: dict[str, Any], *, hint: str = "") -> None:
    """"Existing resource or props for a new one, never both": raise naming ``kind`` and every
    given prop of a new one (``new_props``: name -> value, ``None`` when not given)."""
    given = [name for name, value in new_props.items() if value is not None]
    if given:
        raise PipelineValidationError(
            f"{kind} and {', '.join(given)} are mutually exclusive: pass an existing "
            f"{kind} or the props of a new one, not both{hint}"
        )


def require(condition: bool, message: str) -> None:
    """Raise a PipelineValidationError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise PipelineValidationError(message)


def child_path(scope: IConstruct, id: str) -> str:
    """The construct path a child ``id`` of ``scope`` gets (before the child exists)."""
    parent = path_of(scope)
    return f"{parent}/{id}" if parent else id


def fmt_num(value: float) -> str:
    """A number as a message shows it: ``30.0`` -> ``'30'``, ``0.5`` -> ``'0.5'``."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _human(seconds: float) -> str:
    """``90`` -> ``'90 seconds'``, ``86400`` -> ``'86400 seconds (24 hours)'``."""
    text = f"{fmt_num(seconds)} seconds"
    if seconds >= 3600 and seconds % 3600 == 0:
        text += f" ({fmt_num(seconds / 3600)} hours)"
    elif seconds >= 60 and seconds % 60 == 0:
        text += f" ({fmt_num(seconds / 60)} minutes)"
    return text
