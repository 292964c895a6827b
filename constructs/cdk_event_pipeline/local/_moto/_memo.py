"""Small helpers the speed-ups share: bounded memos and hashable images of plain values."""

from __future__ import annotations

from typing import Any

#: A marker for "no value" where None is a value.
MISSING = object()
#: The immutable scalar types a memo key or a copied tree may hold as they are.
ATOMS = (str, int, float, bool, type(None))


def remember(memo: dict[Any, Any], key: Any, value: Any, *, limit: int = 4096) -> Any:
    """Store ``value`` under ``key`` in a memo that is emptied when it holds ``limit`` entries
    (each memo stays bounded however many distinct inputs a run sees); return ``value``."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


def freeze(value: Any) -> Any:
    """A hashable image of a dict / list of hashable values (dict order kept)."""
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("__list__", *(freeze(v) for v in value))
    return value


def frozen(value: Any, budget: list[int]) -> Any:
    """A hashable, type-exact image of a JSON-like value (dict order kept), or MISSING when it
    holds anything else or more than ``budget[0]`` values."""
    budget[0] -= 1
    if budget[0] < 0:
        return MISSING
    kind = type(value)
    if kind is dict:
        items = []
        for key, item in value.items():
            image = frozen(item, budget)
            if type(key) is not str or image is MISSING:
                return MISSING
            items.append((key, image))
        return (dict, tuple(items))
    if kind is list:
        members = []
        for item in value:
            image = frozen(item, budget)
            if image is MISSING:
                return MISSING
            members.append(image)
        return (list, tuple(members))
    if kind in ATOMS:
        return (kind, value)
    return MISSING
