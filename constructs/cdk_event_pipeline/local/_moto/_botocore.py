"""botocore's side of the in-process endpoint: its session hooks, and answers built from moto's.

* :func:`install_hooks` adds the endpoint's event hooks to every botocore session created from
  then on (``botocore.handlers.BUILTIN_HANDLERS``) and to boto3's default session; its undo
  takes them out of both again.
* :func:`respond` turns moto's answer to a prepared request into the ``AWSResponse`` a
  ``before-send`` hook returns.
* :func:`direct_call` (feature ``botocore.direct``) answers a JSON-protocol call at
  ``before-call``: moto answers the serialized request, botocore's own response parser reads
  moto's response (``convert_to_response_dict``, ``handle_checksum_body``, the protocol's parser,
  modeled error fields), as ``Endpoint`` would, without the HTTP request object, the signing and
  the retry loop (moto never throttles).
* feature ``botocore.parsed-bodies``: the JSON parser :func:`direct_call` uses keeps its parse
  of a small body it parsed before (:func:`remember_bodies`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from . import _dispatch
from ._memo import remember
from ._patcher import Patcher

#: What the features switched on (set through the patcher, so undone with the rest).
state = SimpleNamespace(direct=None, parsed_bodies=False, parsers={})
_PLAIN = (str, int, float, bool, type(None))
_BODY_LIMIT = 4096  # bytes of a response body kept with its parse
_NODE_LIMIT = 256  # values in a parse kept
_hooks_lock = threading.Lock()
_hook_holders: list[Any] = []


def direct(p: Patcher) -> None:
    """botocore's response plumbing :func:`direct_call` uses (with moto's ``direct``)."""
    convert = p.need("botocore.endpoint", "convert_to_response_dict", params=("http_response", "operation_model"))
    checksum = p.need("botocore.httpchecksum", "handle_checksum_body",
                      params=("http_response", "response", "context", "operation_model"))
    response_class = p.need("botocore.awsrequest", "AWSResponse", kind=type)
    raw_response = p.need("moto.core.botocore_stubber", "MockRawResponse", kind=type)
    factory = p.need("botocore.parsers", "ResponseParserFactory", kind=type)
    p.set(state, "parsers", {})
    p.set(state, "direct", SimpleNamespace(convert=convert, checksum=checksum, response=response_class,
                                           raw=raw_response, factory=factory))


def parsed_bodies(p: Patcher) -> None:
    """The in-process JSON parser may keep parses (its ``_handle_json_body`` has the expected shape)."""
    p.need("botocore.parsers", "JSONParser._handle_json_body", params=("self", "raw_body", "shape"))
    p.set(state, "parsed_bodies", True)


def _plain_size(value: Any, budget: int) -> int:
    """How much of ``budget`` is left after counting ``value``'s dicts, lists and plain scalars (-1: not plain)."""
    budget -= 1
    if budget < 0:
        return -1
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return -1
            budget = _plain_size(item, budget)
            if budget < 0:
                return -1
        return budget
    if kind is list:
        for item in value:
            budget = _plain_size(item, budget)
            if budget < 0:
                return -1
        return budget
    return budget if kind in _PLAIN else -1


def _fresh(value: Any) -> Any:
    """A new copy of a plain parse's dicts and lists (its strings, numbers, booleans, None shared)."""
    kind = type(value)
    if kind is dict:
        return {key: _fresh(item) for key, item in value.items()}
    if kind is list:
        return [_fresh(item) for item in value]
    return value


def remember_bodies(parser: Any) -> None:
    """Let one JSON response parser (an instance of this process's own) reuse its parse of a body.

    botocore's ``JSONParser._handle_json_body`` turns a response body into the operation's output
    (``json.loads``, then a walk of the output shape); the result depends only on the body and the
    shape. For a small body whose parse is plain data (no timestamps or blobs), the parse is kept
    per (shape, body) and each call gets its own copy. Only this parser object is changed.
    """
    original = parser._handle_json_body  # noqa: SLF001 - the bound method of this parser only
    kept: dict[tuple[int, bytes], tuple[Any, Any]] = {}

    def handle_json_body(raw_body: Any, shape: Any) -> Any:
        if type(raw_body) is not bytes or len(raw_body) > _BODY_LIMIT:
            return original(raw_body, shape)
        key = (id(shape), raw_body)
        entry = kept.get(key)
        if entry is not None and entry[0] is shape:
            return _fresh(entry[1])
        parsed = original(raw_body, shape)
        if _plain_size(parsed, _NODE_LIMIT) >= 0:
            remember(kept, key, (shape, _fresh(parsed)))
        return parsed

    parser._handle_json_body = handle_json_body  # noqa: SLF001


def _parser(protocol: str) -> Any:
    parsers = state.parsers
    parser = parsers.get(protocol)
    if parser is None:
        parser = parsers[protocol] = state.direct.factory().create_parser(protocol)
        if protocol == "json" and state.parsed_bodies:
            remember_bodies(parser)
    return parser


def direct_call(url: str, params: Any, context: Any, model: Any) -> tuple[Any, Any] | None:
    """Answer a JSON-protocol call (``POST`` to the AWS URL ``url``) from moto, or None (not possible:
    the caller lets botocore send it)."""
    parts = state.direct
    body = params.get("body")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if parts is None or not isinstance(body, bytes) or params.get("method") != "POST":
        return None
    answer = _dispatch.answer_json(url, params.get("headers") or {}, body)
    if answer is None:
        return None
    status, response_headers, response_body = answer
    http = parts.response(url, status, response_headers, parts.raw(response_body if response_body is not None else b""))
    response_dict = parts.convert(http, model)
    parts.checksum(http, response_dict, context, model)
    parser = _parser(model.service_model.resolved_protocol)
    parsed = parser.parse(response_dict, model.output_shape)
    if http.status_code >= 300:
        code = parsed.get("Error", {}).get("Code")
        shape = model.service_model.shape_for_error_code(code) if code is not None else None
        if shape is not None:
            parsed.update(parser.parse(response_dict, shape))
    if "ResponseMetadata" in parsed:
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
    return http, parsed


def respond(request: Any, url: str) -> Any:
    """moto's answer to a prepared request (its URL already the AWS one) as an ``AWSResponse`` for
    ``url``, or None when no moto backend serves it."""
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415
    from moto.core.botocore_stubber import MockRawResponse  # noqa: PLC0415

    answer = _dispatch.answer(request)
    if answer is None:
        return None
    status, headers, body = answer
    return AWSResponse(url, status, headers, MockRawResponse(body if body is not None else b""))


def install_hooks(hooks: list[tuple[str, Any]], register: Callable[[Any], Any]) -> Callable[[], None]:
    """Add ``hooks`` to future botocore sessions and ``register`` boto3's default session; return the undo.

    Nested installs share one registration; the last undo takes the hooks out of
    ``BUILTIN_HANDLERS`` and off boto3's default session. Clients made meanwhile keep them (each
    hook lets every request through unless its URL is an in-process endpoint's).
    """
    import boto3  # noqa: PLC0415
    from botocore.handlers import BUILTIN_HANDLERS  # noqa: PLC0415

    token = object()
    with _hooks_lock:
        if not _hook_holders:
            BUILTIN_HANDLERS.extend(hooks)
        _hook_holders.append(token)
    if boto3.DEFAULT_SESSION is not None:
        register(boto3.DEFAULT_SESSION._session)  # noqa: SLF001 - boto3 exposes no other handle

    def undo() -> None:
        with _hooks_lock:
            if token not in _hook_holders:
                return
            _hook_holders.remove(token)
            if _hook_holders:
                return
            BUILTIN_HANDLERS[:] = [entry for entry in BUILTIN_HANDLERS if entry not in hooks]
        if boto3.DEFAULT_SESSION is not None:
            session = boto3.DEFAULT_SESSION._session  # noqa: SLF001
            for event, hook in hooks:
                session.unregister(event, hook)

    return undo
