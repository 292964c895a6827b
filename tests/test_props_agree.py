"""Every construct prop is written three times (the signature, the docstring's Args, the TypedDict of
``_props.py``): the three agree.

* Where a TypedDict mirrors a signature (the consumers' and the archive's constructors, the
  ``build_function`` hook), its keys are exactly the keyword parameters.
* Every keyword parameter of a public construct's constructor, of a method forwarding
  ``**props: Unpack[X]`` and of ``PipelineMonitoring.configure`` is documented in that docstring's
  ``Args``; each key of an unpacked TypedDict is documented there or in the Args of a class the
  ``**props`` entry names (``**props: See :class:`StreamConsumerBase```), followed transitively.

The checker is plain functions over a class or a function, so the last tests plant a disagreement
in a small fake class and show each kind is caught.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any, TypedDict, Unpack

import pytest

import cdk_event_pipeline as lib
from cdk_event_pipeline import _props

#: Positional parameters of a construct: documented once on the bases, not a prop.
_POSITIONAL = {"self", "scope", "id"}
_ARG = re.compile(r"^(\s+)(\*{0,2}\w+)(?: \([^)]*\))?:")


def keyword_params(func: Callable[..., Any]) -> set[str]:
    """The keyword parameters of ``func`` (not ``self``/``scope``/``id``, not ``**props``)."""
    return {
        name for name, p in inspect.signature(func).parameters.items()
        if name not in _POSITIONAL and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def unpacked(func: Callable[..., Any]) -> type | None:
    """The TypedDict of ``func``'s ``**props: Unpack[X]``, resolved in ``cdk_event_pipeline._props``."""
    for p in inspect.signature(func).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            match = re.fullmatch(r"Unpack\[(\w+)\]", str(p.annotation))
            assert match, f"{func.__qualname__}: **{p.name} is not typed Unpack[...] ({p.annotation})"
            return getattr(_props, match.group(1), None) or func.__globals__[match.group(1)]
    return None


def typed_dict_keys(td: type) -> set[str]:
    return set(td.__required_keys__) | set(td.__optional_keys__)  # type: ignore[attr-defined]


def all_props(func: Callable[..., Any]) -> set[str]:
    """Keyword parameters plus the keys of the unpacked TypedDict."""
    td = unpacked(func)
    return keyword_params(func) | (typed_dict_keys(td) if td is not None else set())


def args_section(doc: str | None) -> dict[str, str]:
    """``{name: text}`` of a Google-style docstring's ``Args:`` section (``**props`` included)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    if "Args:" not in lines:
        return {}
    entries: dict[str, str] = {}
    indent: int | None = None
    current = None
    for line in lines[lines.index("Args:") + 1:]:
        if line and not line.startswith(" "):
            break  # the next section
        match = _ARG.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            current = match.group(2)
            entries[current] = line[match.end():]
        elif current is not None:
            entries[current] += " " + line.strip()
    return entries


def see_also(entry: str, namespace: dict[str, Any]) -> list[type]:
    """The classes a ``**props`` entry refers to (``See :class:`StreamConsumerBase```)."""
    names = re.findall(r":class:`~?(?:[\w.]+\.)?(\w+)`", entry)
    return [namespace[n] for n in names if isinstance(namespace.get(n), type)]


def documented(owner: Callable[..., Any], doc: str | None, namespace: dict[str, Any],
               seen: frozenset[int] = frozenset()) -> set[str]:
    """Names documented in ``doc``'s Args, plus those of every class its ``**props`` entry names."""
    args = args_section(doc)
    names = {n for n in args if not n.startswith("*")}
    for cls in see_also(args.get("**props", ""), namespace):
        if id(cls) not in seen:
            names |= documented(cls.__init__, cls.__doc__, namespace, seen | {id(cls)})
    return names


def undocumented(func: Callable[..., Any], doc: str | None, namespace: dict[str, Any]) -> set[str]:
    """The props of ``func`` its docstring (``doc``) does not document."""
    return all_props(func) - documented(func, doc, namespace)


def mismatch(
    func: Callable[..., Any], td: type, *, besides: AbstractSet[str] = frozenset()
) -> tuple[set[str], set[str]]:
    """(props only in the signature, keys only in the TypedDict), ignoring ``besides``."""
    params = all_props(func) - besides
    keys = typed_dict_keys(td)
    return params - keys, keys - params


NAMESPACE = {name: getattr(lib, name) for name in lib.__all__}
CONSTRUCTS = [
    lib.EventStream, lib.WorkQueue, lib.EntityTable, lib.StreamArchive, lib.PipelineFunction,
    lib.PipelineMonitoring, lib.StreamConsumerBase, lib.StreamConsumer, lib.TableChangeConsumer, lib.QueueWorker,
]
#: Methods forwarding ``**props: Unpack[X]`` to a construct, and ``configure`` (the class's props).
METHODS = [
    lib.EventStream.add_consumer, lib.EventStream.add_archive, lib.WorkQueue.add_worker,
    lib.EntityTable.add_change_consumer,
]
#: (function, its TypedDict, parameters the TypedDict leaves out on purpose).
MIRRORS: list[tuple[Callable[..., Any], type, set[str]]] = [
    (lib.StreamConsumerBase.__init__, lib.KinesisConsumerProps, set()),
    (lib.StreamConsumer.__init__, lib.StreamConsumerProps, {"stream"}),
    (lib.TableChangeConsumer.__init__, lib.ConsumerProps, {"table"}),
    (lib.QueueWorker.__init__, lib.WorkerProps, {"work_queue"}),
    (lib.StreamArchive.__init__, lib.ArchiveProps, {"stream"}),
    (lib.StreamConsumerBase.build_function, lib.FunctionProps, set()),
    (lib.QueueWorker.build_function, lib.FunctionProps, set()),
]


@pytest.mark.parametrize("cls", CONSTRUCTS, ids=lambda c: c.__name__)
def test_every_constructor_prop_is_documented(cls: type) -> None:
    missing = undocumented(cls.__init__, cls.__doc__, NAMESPACE)
    assert not missing, f"{cls.__name__}: props not in the docstring's Args: {sorted(missing)}"


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__qualname__)
def test_every_forwarded_prop_is_documented(method: Callable[..., Any]) -> None:
    missing = undocumented(method, method.__doc__, NAMESPACE)
    assert not missing, f"{method.__qualname__}: props not documented (here or where it says See): {sorted(missing)}"


@pytest.mark.parametrize(("func", "td", "besides"), MIRRORS, ids=lambda x: getattr(x, "__qualname__", ""))
def test_each_typed_dict_is_its_signature(func: Callable[..., Any], td: type, besides: set[str]) -> None:
    only_signature, only_typed_dict = mismatch(func, td, besides=besides)
    assert not only_signature and not only_typed_dict, (
        f"{func.__qualname__} vs {td.__name__}: only in the signature {sorted(only_signature)}, "
        f"only in the TypedDict {sorted(only_typed_dict)}"
    )


def test_configure_takes_exactly_the_constructor_props() -> None:
    assert keyword_params(lib.PipelineMonitoring.configure) == keyword_params(lib.PipelineMonitoring.__init__)


def test_dead_letter_queue_props_are_sqs_queue_props() -> None:
    from aws_cdk import aws_sqs as sqs

    assert typed_dict_keys(lib.DeadLetterQueueProps) <= keyword_params(sqs.Queue.__init__)


# --- the checker catches a planted disagreement -------------------------------------------------


class _FakeProps(TypedDict, total=False):
    batch_size: int | None
    retries: int | None  # the signature says retry_attempts


class _FakeBase:
    """A base.

    Args:
        batch_size: Documented on the base.
    """

    def __init__(self, *, batch_size: int | None = None) -> None:
        pass


class _FakeConsumer(_FakeBase):
    """A consumer.

    Args:
        stream: The stream.
        **props: See :class:`_FakeBase`.
    """

    def __init__(self, *, stream: str, retry_attempts: int | None = None, **props: Unpack[_FakeProps]) -> None:
        super().__init__()


def test_a_planted_disagreement_is_caught() -> None:
    namespace = {"_FakeBase": _FakeBase}
    # retry_attempts is in the signature, documented nowhere; retries (TypedDict) neither.
    assert undocumented(_FakeConsumer.__init__, _FakeConsumer.__doc__, namespace) == {"retry_attempts", "retries"}
    # batch_size is documented through "See :class:`_FakeBase`": without the reference it is not.
    assert "batch_size" in undocumented(_FakeConsumer.__init__, _FakeConsumer.__doc__, {})
    only_signature, only_typed_dict = mismatch(_FakeBase.__init__, _FakeProps)
    assert only_signature == set() and only_typed_dict == {"retries"}
