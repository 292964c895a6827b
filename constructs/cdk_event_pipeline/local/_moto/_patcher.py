"""How the adapter patches: detect a feature's targets, set attributes, undo exactly what was set.

A speed-up is a function ``feature(p: Patcher) -> None``. It first asks :meth:`Patcher.need` for
every moto or botocore object it replaces or relies on (each check is about that object's shape:
it exists, its signature has the expected parameters, its code still refers to the names the
replacement stands in for); a check that fails raises :class:`Unavailable` with the reason. Only
then does it :meth:`Patcher.set` its replacements. Every ``set`` records the attribute as it was
(the raw ``__dict__`` entry, so a classmethod or staticmethod comes back as itself, or its
absence), and :meth:`Patcher.undo` puts every one back, newest first.
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable, Iterable
from typing import Any

_ABSENT = object()


class Unavailable(Exception):  # noqa: N818 - a reason, not an error of the run
    """A speed-up's target is missing or has another shape (the message says which and how)."""


def code_names(function: Any) -> frozenset[str]:
    """The global and attribute names a function's code refers to (nested code objects included).

    Two functions with the same names do the same kinds of things; a function that stopped
    calling, say, ``get_queue_attributes`` has changed in a way a replacement cannot assume.
    """
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    names: set[str] = set()
    pending = [code] if code is not None else []
    while pending:
        current = pending.pop()
        names.update(current.co_names)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return frozenset(names)


def _resolve(module: str, path: str) -> tuple[Any, str, Any]:
    """``(owner, name, value)`` for ``path`` (``Class.attr`` or ``attr``) in ``module``."""
    try:
        owner: Any = importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} cannot be imported ({exc})") from None
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part, _ABSENT)
        if owner is _ABSENT:
            raise Unavailable(f"{module}.{path}: {part} not found")
    value = getattr(owner, name, _ABSENT)
    if value is _ABSENT:
        raise Unavailable(f"{module}.{path} not found")
    return owner, name, value


def _check_params(where: str, value: Any, params: Iterable[str]) -> None:
    try:
        found = tuple(inspect.signature(value).parameters)
    except (TypeError, ValueError):
        raise Unavailable(f"{where} has no signature") from None
    expected = tuple(params)
    if found != expected:
        raise Unavailable(f"{where}: parameters ({', '.join(found)}), expected ({', '.join(expected)})")


class Patcher:
    """Sets attributes for the speed-ups and remembers how to undo them."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []
        #: moto's and botocore's own objects the speed-ups replaced, by feature-given name.
        self.originals: dict[str, Any] = {}

    def need(self, module: str, path: str = "", *, params: Iterable[str] | None = None,
             uses: Iterable[str] | None = None, names: Iterable[str] | None = None,
             kind: type | None = None) -> Any:
        """The object at ``module``/``path`` if it has the expected shape, else raise :class:`Unavailable`.

        Args:
            module: The module's dotted name.
            path: ``attr`` or ``Class.attr`` inside it (empty: the module itself).
            params: The parameter names its signature must have, in order.
            uses: Names its code must refer to (see :func:`code_names`): what the replacement
                stands in for.
            names: Exactly the names its code refers to (for a function the speed-up rewrites:
                any other set means its logic changed).
            kind: A type the object must be an instance (or, for a class, a subclass) of.
        """
        if not path:
            return _resolve_module(module)
        _owner, _name, value = _resolve(module, path)
        where = f"{module}.{path}"
        if kind is not None and not (isinstance(value, kind) or (isinstance(value, type) and issubclass(value, kind))):
            raise Unavailable(f"{where} is not a {kind.__name__}")
        if params is not None:
            _check_params(where, value, params)
        if uses is not None:
            missing = sorted(set(uses) - code_names(value))
            if missing:
                raise Unavailable(f"{where} no longer refers to {', '.join(missing)}")
        if names is not None and code_names(value) != frozenset(names):
            changed = sorted(code_names(value) ^ frozenset(names))
            raise Unavailable(f"{where} changed (its code's names differ in {', '.join(changed)})")
        return value

    def set(self, owner: Any, name: str, value: Any) -> None:
        """``setattr(owner, name, value)``, recorded for :meth:`undo`."""
        before = vars(owner).get(name, _ABSENT) if hasattr(owner, "__dict__") else getattr(owner, name, _ABSENT)
        self._undo.append((owner, name, before))
        setattr(owner, name, value)

    def mark(self) -> int:
        """A point to roll back to (:meth:`rollback`)."""
        return len(self._undo)

    def rollback(self, mark: int) -> None:
        """Undo the attributes set since ``mark``, newest first."""
        while len(self._undo) > mark:
            owner, name, before = self._undo.pop()
            if before is _ABSENT:
                if name in getattr(owner, "__dict__", {}):
                    delattr(owner, name)
            else:
                setattr(owner, name, before)

    def undo(self) -> None:
        """Put back every attribute set, newest first."""
        self.rollback(0)
        self.originals.clear()

    def targets(self) -> list[tuple[Any, str]]:
        """Every ``(owner, name)`` set so far (tests compare them before and after)."""
        return [(owner, name) for owner, name, _ in self._undo]


def _resolve_module(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} cannot be imported ({exc})") from None


Feature = Callable[[Patcher], None]
