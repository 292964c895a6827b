"""Event filtering (``FilterCriteria``) for local event source mappings.

AWS's rules (Lambda Developer Guide, "Control which events Lambda sends to your function" and
the per-source pages "Using event filtering with a Kinesis / DynamoDB / Amazon SQS event
source"):

* A record is sent to the function when it matches **any** pattern; otherwise Lambda drops it
  (stream records are checkpointed past, SQS messages deleted). Filtering is per record: the
  records that match are batched together, a dropped record does not end a batch.
* Each source filters on **one key only**: "Kinesis event source mappings only support
  filtering on the ``data`` key", DynamoDB on ``dynamodb``, Amazon SQS on ``body``. A pattern
  with any other top-level key is refused when the mapping is loaded.
* Kinesis ``data`` is base64-decoded and matched as JSON. A record whose data is not valid
  JSON is dropped; a pattern whose ``data`` rule is not a JSON object is refused (AWS throws
  at mapping creation).
* SQS ``body``: a JSON-object pattern matches only bodies that are valid JSON; a plain-string
  pattern (a list of values) matches only bodies that are not valid JSON; a mismatch drops
  the message.
* Rules: exact values (strings are compared character by character; numbers by type and value,
  so ``300`` and ``300.0`` differ, as AWS compares their string forms), ``null``, ``""``,
  ``{"exists": bool}``, ``{"prefix": s}``, ``{"suffix": s}``, ``{"equals-ignore-case": s}``,
  ``{"anything-but": [...]}`` and ``{"numeric": [op, n, ...]}``. Anything else raises
  :class:`UnsupportedPatternError` when the mapping is loaded: a pattern the runner cannot
  evaluate faithfully never silently matches.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any, Literal

_MISSING = object()
_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_RULES = {"exists", "prefix", "suffix", "equals-ignore-case", "anything-but", "numeric"}
#: The one key each source filters on.
DATA_KEYS: dict[str, str] = {"kinesis": "data", "dynamodb": "dynamodb", "sqs": "body"}
_DOC = "Lambda Developer Guide, 'Using event filtering with a{} event source'"

Source = Literal["kinesis", "dynamodb", "sqs"]


class UnsupportedPatternError(ValueError):
    """A filter pattern AWS would refuse, or uses a form the local runner does not implement."""


def _check(pattern: Any, where: str) -> None:
    if isinstance(pattern, Mapping):
        for key, value in pattern.items():
            if str(key).startswith("$"):
                raise UnsupportedPatternError(f"filter pattern at {where}.{key}: {key} is not supported locally")
            _check(value, f"{where}.{key}")
        return
    if not isinstance(pattern, list):
        raise UnsupportedPatternError(f"filter pattern at {where}: expected an object or a list of rules")
    for item in pattern:
        if isinstance(item, Mapping):
            op = next(iter(item)) if len(item) == 1 else None
            if op not in _RULES:
                raise UnsupportedPatternError(f"filter pattern at {where}: unsupported rule {dict(item)!r}")
            if op == "anything-but" and isinstance(item[op], Mapping):
                raise UnsupportedPatternError(f"filter pattern at {where}: unsupported rule {dict(item)!r}")
        elif isinstance(item, list):
            raise UnsupportedPatternError(f"filter pattern at {where}: a rule cannot be a list")


def _same(value: Any, rule: Any) -> bool:
    """Exact match: strings character by character, numbers by type and value, null, booleans."""
    return type(value) is type(rule) and value == rule


def _rule_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        ((op, arg),) = rule.items()
        if op == "exists":
            return (value is not _MISSING) is bool(arg)
        if value is _MISSING:
            return False
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if op == "suffix":
            return isinstance(value, str) and value.endswith(arg)
        if op == "equals-ignore-case":
            return isinstance(value, str) and value.casefold() == str(arg).casefold()
        if op == "anything-but":
            banned = arg if isinstance(arg, list) else [arg]
            return not any(_same(value, b) for b in banned)
        if op == "numeric":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            pairs = zip(arg[::2], arg[1::2], strict=True)
            return all(_NUMERIC[o](value, n) for o, n in pairs)
        return False
    return value is not _MISSING and _same(value, rule)


def _matches(pattern: Mapping[str, Any], document: Any) -> bool:
    if not isinstance(document, Mapping):
        return False
    for key, sub in pattern.items():
        value = document.get(key, _MISSING)
        if isinstance(sub, Mapping):
            if value is _MISSING or not _matches(sub, value):
                return False
            continue
        values = value if isinstance(value, list) and value else [value]
        if not any(_rule_matches(rule, v) for rule in sub for v in values):
            return False
    return True


class EventFilter:
    """The ``FilterCriteria`` of one mapping.

    Args:
        criteria: The template's ``FilterCriteria`` (``{"Filters": [{"Pattern": "..."}]}``),
            or None for no filtering.
        source: ``kinesis``, ``dynamodb`` or ``sqs`` (which key patterns may use). Default:
            None (any key: for tests of the rule syntax only).

    Raises:
        UnsupportedPatternError: A pattern AWS refuses, or that the runner cannot evaluate.
    """

    def __init__(self, criteria: Mapping[str, Any] | None, source: Source | None = None) -> None:
        self.source = source
        self.patterns: list[dict[str, Any]] = []
        for item in (criteria or {}).get("Filters", []) or []:
            raw = item.get("Pattern")
            try:
                pattern = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                raise UnsupportedPatternError(f"filter pattern is not valid JSON: {raw!r}") from None
            if not isinstance(pattern, dict):
                raise UnsupportedPatternError(f"filter pattern must be a JSON object (given {raw!r})")
            if source is not None:
                key = DATA_KEYS[source]
                article = "n Amazon SQS" if source == "sqs" else f" {'Kinesis' if source == 'kinesis' else 'DynamoDB'}"
                others = sorted(k for k in pattern if k != key)
                if others:
                    raise UnsupportedPatternError(
                        f"filter pattern {raw!r} uses {others}: {source} event source mappings only support "
                        f"filtering on the '{key}' key ({_DOC.format(article)})")
                if source != "sqs" and key in pattern and not isinstance(pattern[key], Mapping):
                    raise UnsupportedPatternError(
                        f"filter pattern {raw!r}: the '{key}' rule must be a JSON object (AWS refuses a non-JSON "
                        f"pattern for data properties at mapping creation; {_DOC.format(article)})")
            _check(pattern, "<root>")
            self.patterns.append(pattern)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, document: Mapping[str, Any]) -> bool:
        """True when ``document`` (already decoded, see :meth:`matches_record`) matches any pattern."""
        return not self.patterns or any(_matches(p, document) for p in self.patterns)

    def matches_record(self, event_record: Mapping[str, Any]) -> bool:
        """True when a Lambda event record (Kinesis, DynamoDB or SQS shape) passes the filter."""
        if not self.patterns:
            return True
        if self.source == "kinesis" or (self.source is None and "kinesis" in event_record):
            return any(_matches(p, view) for p in self.patterns for view in _kinesis_views(event_record))
        if self.source == "sqs" or (self.source is None and "body" in event_record):
            return any(_sqs_matches(p, event_record) for p in self.patterns)
        return self.matches(event_record)


def _kinesis_views(event_record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record as a filter sees it: ``data`` decoded from base64 and parsed as JSON.

    Data that is not valid JSON gives no view: the record matches no pattern (AWS drops it). So
    does data that is not valid base64: it is decoded strictly (``validate=True``: a character
    outside the alphabet or bad padding is an error, never skipped), like data that is not JSON.
    """
    try:
        data = json.loads(base64.b64decode(event_record["kinesis"]["data"], validate=True).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, binascii.Error, KeyError, TypeError):
        return []
    return [{"data": data}]


def _sqs_matches(pattern: Mapping[str, Any], event_record: Mapping[str, Any]) -> bool:
    body = str(event_record.get("body", ""))
    rule = pattern.get("body", _MISSING)
    if rule is _MISSING:
        return _matches(pattern, event_record)
    try:
        parsed: Any = json.loads(body)
        is_json = True
    except ValueError:
        parsed, is_json = body, False
    if isinstance(rule, Mapping) != is_json:
        return False  # JSON pattern vs plain body, or plain pattern vs JSON body: Lambda drops the message
    return _matches({**pattern, "body": rule}, {**event_record, "body": parsed})


def kinesis_filter_view(event_record: Mapping[str, Any]) -> dict[str, Any]:
    """A Kinesis event record's ``data`` decoded as filters see it (empty when not JSON)."""
    views = _kinesis_views(event_record)
    return views[0] if views else {}


def sqs_filter_view(event_record: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS event record with ``body`` parsed when it is JSON."""
    view = dict(event_record)
    try:
        view["body"] = json.loads(str(view.get("body", "")))
    except ValueError:
        pass
    return view
