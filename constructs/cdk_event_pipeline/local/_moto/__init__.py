"""The one adapter between the local runner and moto's and botocore's internals.

Everything else in ``cdk_event_pipeline.local`` uses moto's public API (``ThreadedMotoServer``,
``moto.server``) and this package; only the modules of this package reach into moto or botocore.
It is a package (the speed-ups are ~1,200 lines, one module per area of moto) with this one
public entry module:

* :func:`patched` / :func:`install`: apply the speed-ups (memoized moto internals, see
  docs/local-runner.md, "The moto adapter") and the :data:`CORRECTIONS` (where moto answers
  otherwise than AWS documents: :mod:`._corrections`). Each one is a *feature* that first checks what it
  replaces or relies on (the attribute exists, its signature, the names its code uses: never
  moto's version string) and is applied only when every check passes. The speed-ups that are
  unavailable are reported once per process in one :class:`MotoSpeedupUnavailable` warning
  listing each and why; moto then runs as shipped for them. Installs nest (a pipeline inside a
  fixture, a run inside a pipeline): the last undo puts back every attribute set, so moto is as
  shipped again for the rest of the process (a user's own ``mock_aws`` tests). Nothing is
  patched at import time.
* :func:`answer`, :func:`direct_call`, :func:`respond`: moto's answers to this process's
  requests (used by :mod:`..endpoint`'s botocore hooks), :func:`install_hooks` their
  registration with botocore.
* :func:`queue_messages`, :func:`reset`: the two reads / writes of moto's state the runner makes.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import _botocore, _conditions, _corrections, _dispatch, _json_parser, _responses, _services, _update_expressions
from ._botocore import direct_call, install_hooks, respond
from ._dispatch import answer
from ._patcher import Feature, Patcher, Unavailable
from ._services import queue_messages, reset

__all__ = ["CORRECTIONS", "FEATURES", "MotoSpeedupUnavailable", "Undo", "Unavailable", "answer", "applied",
           "direct_call", "install", "install_hooks", "originals", "patched", "queue_messages", "reset", "respond",
           "unavailable"]


class MotoSpeedupUnavailable(UserWarning):  # noqa: N818 - a warning, named for what it reports
    """Some of the local runner's moto speed-ups do not fit the installed moto / botocore: the
    runner works, those steps run as moto ships them (slower). The message lists each and why."""


#: The speed-ups, in the order they are applied: the names each reports, and the feature.
FEATURES: tuple[tuple[tuple[str, ...], Feature], ...] = (
    (("method_names_from_class",), _responses.method_names),
    (("UpdateExpressionParser.make",), _update_expressions.parser_make),
    (("ConditionExpressionParser._lex_condition_expression",), _conditions.lexing),
    (("DepthFirstTraverser",), _update_expressions.traversal),
    (("Node.__init__",), _update_expressions.node_init),
    (("validators.deepcopy", "UpdateExpressionValidator.validate"), _update_expressions.ast_copy),
    (("AttributePicker",), _responses.attribute_picker),
    (("MotoRandom.get_random_string",), _services.random_string),
    (("kinesis.Shard",), _services.kinesis_shard),
    (("ConditionExpressionParser.parse",), _conditions.condition_parse),
    (("ActionResult.execute_result",), _responses.serialized_results),
    (("dynamodb.models.re",), _update_expressions.dynamodb_re),
    (("sqs.retention",), _services.sqs_retention),
    (("JSONParser._parse_json_body",), _json_parser.json_request_parser),
    (("BaseResponse.setup",), _responses.response_setup),
    (("dispatch",), _dispatch.dispatch),
    (("direct",), _dispatch.direct),
    (("botocore.direct",), _botocore.direct),
    (("botocore.parsed-bodies",), _botocore.parsed_bodies),
    # Corrections: moto answering as AWS documents where it does not (:mod:`._corrections`).
    (("dynamodb.stream-records",), _corrections.dynamodb_stream_records),
    (("kinesis.hash-key-range",), _corrections.kinesis_hash_key_range),
    (("sqs.fifo-deduplication",), _corrections.sqs_fifo_deduplication),
)

#: The features of :data:`FEATURES` that change moto's answers (to AWS's) rather than its speed.
CORRECTIONS: tuple[str, ...] = ("dynamodb.stream-records", "kinesis.hash-key-range", "sqs.fifo-deduplication")

_lock = threading.RLock()
_holders: list[object] = []
_patcher = Patcher()
_applied: list[str] = []
_unavailable: dict[str, str] = {}
_warned: set[frozenset[tuple[str, str]]] = set()


class Undo:
    """Releases one :func:`install` (callable once; later calls do nothing)."""

    def __init__(self, token: object) -> None:
        self._token: object | None = token

    def __call__(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            _release(token)


def _apply_all() -> None:
    for names, feature in FEATURES:
        mark = _patcher.mark()
        try:
            feature(_patcher)
        except Unavailable as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a feature that does not fit this moto: moto as shipped
            reason = f"{type(exc).__name__}: {exc}"
        else:
            _applied.extend(names)
            continue
        _patcher.rollback(mark)
        for name in names:
            _unavailable[name] = reason


def _warn() -> None:
    report = frozenset(_unavailable.items())
    if not report or report in _warned:
        return
    _warned.add(report)
    listing = "; ".join(f"{name}: {reason}" for name, reason in sorted(_unavailable.items()))
    warnings.warn(f"{len(_unavailable)} moto speed-up(s) of the local runner are unavailable with this moto "
                  f"(the runner works; these steps run as moto ships them): {listing}",
                  MotoSpeedupUnavailable, stacklevel=4)


def install() -> Undo:
    """Apply the speed-ups (the first install of several nested ones does the work); return its undo."""
    token = object()
    with _lock:
        if not _holders:
            _unavailable.clear()
            _apply_all()
            _warn()
        _holders.append(token)
    return Undo(token)


def _release(token: object) -> None:
    with _lock:
        if token not in _holders:
            return
        _holders.remove(token)
        if not _holders:
            _patcher.undo()
            _applied.clear()


@contextmanager
def patched() -> Iterator[list[str]]:
    """``with patched() as applied:`` the speed-ups in place (``applied``: their names) for the block."""
    undo = install()
    try:
        yield applied()
    finally:
        undo()


def applied() -> list[str]:
    """The names of the speed-ups in place (empty when none is installed)."""
    with _lock:
        return list(_applied)


def unavailable() -> dict[str, str]:
    """The speed-ups the last install could not apply, with the reason."""
    with _lock:
        return dict(_unavailable)


def originals() -> dict[str, Any]:
    """moto's own functions some speed-ups replaced, by name, while installed (tests compare them)."""
    return _patcher.originals


def targets() -> list[tuple[Any, str]]:
    """Every ``(owner, attribute)`` the installed speed-ups set (tests check they are restored)."""
    with _lock:
        return _patcher.targets()


def held(wanted: bool) -> Callable[[], None]:
    """:func:`install` when ``wanted``, else nothing; return the undo."""
    return install() if wanted else (lambda: None)
