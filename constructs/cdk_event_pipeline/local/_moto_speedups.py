"""Make moto's per-request work cheaper in this process, without changing what it answers.

Profiling the order pipeline (docs/benchmarks.md) showed the handlers' DynamoDB calls spending
most of their time in moto's request plumbing and in re-parsing the same expressions on every
call, not in the emulation itself. These memoize steps that depend only on their inputs:

* **dispatch**: moto's botocore stub matches every request URL against the URL patterns of all
  ~200 services, then against the service's own URLs; the result depends only on the host and
  path, so the (host -> compiled URL patterns) lookup is cached;
* ``method_names_from_class``: ``inspect.getmembers`` of a response class on every request;
  a class's methods do not change;
* DynamoDB ``UpdateExpressionParser.make(expression)``: the parsed tree depends only on the
  expression string, and moto deep-copies it before validating and executing it;
* DynamoDB ``ConditionExpressionParser._lex_condition_expression``: the tokens depend only on
  the expression string (tokens are immutable named tuples; later stages build new nodes).

They are applied only to the moto version whose code they were written against (the one the
``[local]`` extra pins); with any other version nothing is patched and moto runs as shipped.
Every result is still produced by moto's own code: the local runner's tests (which run with
these patches) and moto's answers to the same requests over HTTP agree.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from typing import Any
from urllib.parse import urlsplit

#: The moto release these patches were written against.
MOTO_VERSION = "5.2.5"
_applied: list[str] = []
_routes: dict[str, list[tuple[re.Pattern[str], Any]]] = {}


def _route(host: str) -> list[tuple[re.Pattern[str], Any]]:
    """The compiled URL patterns and response methods of the backend serving ``host``."""
    routes = _routes.get(host)
    if routes is not None:
        return routes
    import moto.backend_index as backend_index  # noqa: PLC0415
    import moto.backends as backends  # noqa: PLC0415
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.core.base_backend import BackendDict  # noqa: PLC0415

    routes = []
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(f"https://{host}"):
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            routes = [(re.compile(url), method) for url, method in backend.urls.items()]
            break
    _routes[host] = routes
    return routes


def answer(request: Any) -> tuple[int, dict[str, str], Any] | None:
    """moto's answer to a prepared request for an AWS URL (the stub's own logic, routes cached)."""
    if not _applied:
        from moto.core.models import botocore_stubber  # noqa: PLC0415

        return botocore_stubber.process_request(request)
    from moto.core.exceptions import HTTPException  # noqa: PLC0415
    from moto.core.request import normalize_request  # noqa: PLC0415

    parts = urlsplit(request.url)
    clean = f"{parts.scheme}://{parts.netloc}{parts.path}"
    for pattern, method in _route(parts.netloc):
        if pattern.match(clean):
            normalized = normalize_request(request)
            try:
                return method(normalized, normalized.raw_url, normalized.headers)  # type: ignore[no-any-return]
            except HTTPException as exc:
                return int(exc.code or 500), dict(exc.get_headers()), exc.get_body()
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    return botocore_stubber.process_request(request)


def apply() -> list[str]:
    """Apply the patches once (pinned moto only); return their names."""
    if _applied:
        return list(_applied)
    import moto  # noqa: PLC0415

    if getattr(moto, "__version__", None) != MOTO_VERSION:
        return []
    import moto.core.responses as responses  # noqa: PLC0415
    from moto.dynamodb.comparisons import ConditionExpressionParser  # noqa: PLC0415
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]  # noqa: PLC0415

    original_names = responses.method_names_from_class
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(original_names)  # type: ignore[assignment]
    _applied.append("method_names_from_class")

    original_make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]

    @functools.lru_cache(maxsize=4096)
    def _parsed(cls: Any, expression: str) -> Any:
        return original_make(cls, expression)

    UpdateExpressionParser.make = classmethod(lambda cls, expression: _parsed(cls, expression))  # type: ignore[arg-type]
    _applied.append("UpdateExpressionParser.make")

    original_lex = ConditionExpressionParser._lex_condition_expression  # noqa: SLF001

    @functools.lru_cache(maxsize=4096)
    def _tokens(expression: str) -> tuple[Any, ...]:
        parser = ConditionExpressionParser(expression, {}, {})
        return tuple(original_lex(parser))

    def _lex(self: ConditionExpressionParser) -> deque[Any]:
        return deque(_tokens(self.condition_expression or ""))

    ConditionExpressionParser._lex_condition_expression = _lex  # type: ignore[method-assign]  # noqa: SLF001
    _applied.append("ConditionExpressionParser._lex_condition_expression")
    _applied.append("dispatch")
    return list(_applied)
