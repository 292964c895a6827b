"""Event filtering (``FilterCriteria``) for local event source mappings.

Lambda applies each filter pattern to the record with its payload decoded: the Kinesis
``data`` and the SQS ``body`` are matched as JSON when they parse as JSON. A record that
matches no pattern is dropped before the function is invoked (stream records are then
checkpointed past, SQS messages deleted). Supported pattern forms: exact values (a list of
allowed scalars), nested objects, ``{"exists": bool}``, ``{"prefix": str}``,
``{"anything-but": [...]}`` and ``{"numeric": [op, n, ...]}``; anything else raises
:class:`UnsupportedPatternError` when the mapping is loaded, never silently matches.
"""

from __future__ import annotations

import base64
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING = object()
_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


class UnsupportedPatternError(ValueError):
    """A filter pattern uses a form the local runner does not implement."""


def _check(pattern: Any, where: str = "") -> None:
    if isinstance(pattern, Mapping):
        for key, value in pattern.items():
            _check(value, f"{where}.{key}" if where else str(key))
        return
    if not isinstance(pattern, list):
        raise UnsupportedPatternError(f"filter pattern at {where or '<root>'}: expected an object or a list")
    for item in pattern:
        if isinstance(item, Mapping):
            (op,) = item.keys() if len(item) == 1 else (None,)
            if op not in {"exists", "prefix", "anything-but", "numeric"}:
                raise UnsupportedPatternError(f"filter pattern at {where}: unsupported rule {dict(item)!r}")


def _rule_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        ((op, arg),) = rule.items()
        if op == "exists":
            return (value is not _MISSING) is bool(arg)
        if value is _MISSING:
            return False
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if op == "anything-but":
            banned = arg if isinstance(arg, list) else [arg]
            return value not in banned
        if op == "numeric":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            pairs = zip(arg[::2], arg[1::2], strict=True)
            return all(_NUMERIC[o](value, n) for o, n in pairs)
        return False
    return value is not _MISSING and value == rule


def _matches(pattern: Mapping[str, Any], document: Any) -> bool:
    if not isinstance(document, Mapping):
        return False
    for key, sub in pattern.items():
        value = document.get(key, _MISSING)
        if isinstance(sub, Mapping):
            if value is _MISSING or not _matches(sub, value):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_rule_matches(rule, v) for rule in sub for v in values):
            return False
    return True


class EventFilter:
    """The ``FilterCriteria`` of one mapping.

    Args:
        criteria: The template's ``FilterCriteria`` (``{"Filters": [{"Pattern": "..."}]}``),
            or None for no filtering.

    Raises:
        UnsupportedPatternError: A pattern the runner cannot evaluate faithfully.
    """

    def __init__(self, criteria: Mapping[str, Any] | None) -> None:
        self.patterns: list[dict[str, Any]] = []
        for item in (criteria or {}).get("Filters", []) or []:
            raw = item.get("Pattern")
            pattern = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(pattern, dict):
                raise UnsupportedPatternError(f"filter pattern must be a JSON object (given {raw!r})")
            _check(pattern)
            self.patterns.append(pattern)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, document: Mapping[str, Any]) -> bool:
        """True when ``document`` matches any pattern (or there are none)."""
        return not self.patterns or any(_matches(p, document) for p in self.patterns)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def kinesis_filter_view(event_record: Mapping[str, Any]) -> dict[str, Any]:
    """A Kinesis event record as filters see it: ``data`` decoded (JSON when it parses)."""
    view = dict(event_record["kinesis"])
    try:
        view["data"] = _json_or_text(base64.b64decode(view["data"]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        pass
    return view


def sqs_filter_view(event_record: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS event record as filters see it: ``body`` decoded (JSON when it parses)."""
    view = dict(event_record)
    view["body"] = _json_or_text(str(view.get("body", "")))
    return view


def filter_records(flt: EventFilter, records: Sequence[Any], view: Callable[[Any], Mapping[str, Any]]) -> list[bool]:
    """Which records pass ``flt`` (all when it has no patterns)."""
    if not flt:
        return [True] * len(records)
    return [flt.matches(view(r)) for r in records]
