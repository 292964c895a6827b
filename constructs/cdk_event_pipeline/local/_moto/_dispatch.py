"""moto's answer to a request of this process: its backends' URL routes, looked up once per host.

moto's botocore stub matches every request URL against the URL patterns of all ~200 services,
then against the service's own URLs; the result depends only on the host and path, so the
(host -> compiled URL patterns) lookup is cached (feature ``dispatch``). A JSON-protocol call
(``POST /``) can also be handed to moto as a request object built without werkzeug's
``EnvironBuilder`` (feature ``direct``, used by :mod:`._botocore`). Without them, a request goes
through moto's own stub (``botocore_stubber.process_request``), as with ``mock_aws``.
"""

from __future__ import annotations

import io
import re
import sys
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from ._patcher import Patcher

#: What the features switched on (set through the patcher, so undone with the rest).
state = SimpleNamespace(routes=None, direct=None)
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _stub_shape(p: Patcher) -> None:
    """moto's stub answers with ``method(normalize_request(request), .raw_url, .headers)``: what
    :func:`answer` and :func:`answer_json` do the same way."""
    p.need("moto.core.botocore_stubber", "BotocoreStubber.process_request", params=("self", "request"),
           uses=("normalize_request", "raw_url", "backend_url_patterns", "get_backend", "urls"))


def dispatch(p: Patcher) -> None:
    """Route requests by a per-host cache of moto's backend URL patterns."""
    _stub_shape(p)
    backend_index = p.need("moto.backend_index")
    p.need("moto.backend_index", "backend_url_patterns")
    get_backend = p.need("moto.backends", "get_backend")
    account = p.need("moto.core", "DEFAULT_ACCOUNT_ID")
    backend_dict_class = p.need("moto.core.base_backend", "BackendDict", kind=type)
    normalize = p.need("moto.core.request", "normalize_request", params=("request",))
    http_exception = p.need("moto.core.exceptions", "HTTPException", kind=type)
    p.set(state, "routes", SimpleNamespace(index=backend_index, get_backend=get_backend, account=account,
                                           backend_dict=backend_dict_class, normalize=normalize,
                                           http_exception=http_exception, by_host={}))


def direct(p: Patcher) -> None:
    """Build moto's request object for a JSON-protocol call directly (needs ``dispatch``)."""
    _stub_shape(p)
    request_class = p.need("moto.core.request", "Request", kind=type)
    key_for_header = p.need("moto.core.request", "environ_key_for_header", params=("header_name",))
    preserved = p.need("moto.core.request", "PRESERVED_HEADER_NAMES_ENVIRON_KEY")
    p.need("moto.core.request", "Request.from_primitives", uses=("environ_key_for_header",
                                                                  "PRESERVED_HEADER_NAMES_ENVIRON_KEY"))
    p.set(state, "direct", SimpleNamespace(request=request_class, key_for_header=key_for_header,
                                           preserved=preserved))


def _route(host: str) -> list[tuple[re.Pattern[str], Any]]:
    """The compiled URL patterns and response methods of the backend serving ``host``."""
    routes = state.routes
    found = routes.by_host.get(host)
    if found is not None:
        return found
    found = []
    for service, pattern in routes.index.backend_url_patterns:
        if pattern.match(f"https://{host}"):
            backend_dict = routes.get_backend(service)
            if isinstance(backend_dict, routes.backend_dict):
                regions = backend_dict[routes.account]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            found = [(re.compile(url), method) for url, method in backend.urls.items()]
            break
    routes.by_host[host] = found
    return found


def _stub(request: Any) -> tuple[int, dict[str, str], Any] | None:
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    return botocore_stubber.process_request(request)


def answer(request: Any) -> tuple[int, dict[str, str], Any] | None:
    """moto's answer to a prepared request for an AWS URL, or None when no backend matches."""
    routes = state.routes
    if routes is None:
        return _stub(request)
    parts = urlsplit(request.url)
    clean = f"{parts.scheme}://{parts.netloc}{parts.path}"
    for pattern, method in _route(parts.netloc):
        if pattern.match(clean):
            normalized = routes.normalize(request)
            try:
                return method(normalized, normalized.raw_url, normalized.headers)
            except routes.http_exception as exc:
                return int(exc.code or 500), dict(exc.get_headers()), exc.get_body()
    return _stub(request)


def json_request(host: str, headers: Any, body: bytes) -> Any:
    """moto's request object for a JSON-protocol call (``POST /`` to ``host``).

    The WSGI environ ``Request.from_primitives`` gets from werkzeug's ``EnvironBuilder``, written
    directly: the same keys and values for a body, a path of ``/`` and no query string.
    """
    parts = state.direct
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "", "RAW_URI": "/",
        "REQUEST_URI": "/", "SERVER_NAME": host, "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host, "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for key, value in headers.items():
        if key.lower() in ("transfer-encoding", "host", "content-length"):
            continue
        environ[parts.key_for_header(key)] = value.decode("utf-8") if isinstance(value, bytes) else value
    environ[parts.preserved] = {}
    request = parts.request(environ)
    if request.mimetype not in _FORM_TYPES:
        # What werkzeug's _load_form_data and get_data() would leave for a body that is not a
        # form (FormDataParser returns the stream and two empty dicts): no form, the body as data.
        fields = request.__dict__
        fields["form"], fields["files"] = request.parameter_storage_class(), request.parameter_storage_class()
        fields["args"] = request.parameter_storage_class()  # what werkzeug parses from an empty query string
        fields["_cached_data"] = body
    return request


def answer_json(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any] | None:
    """moto's answer to a JSON-protocol request (``POST`` of ``body`` to the AWS URL ``url``, path ``/``).

    Returns None when the ``direct`` feature is not in place or no backend matches (the caller
    then sends the request the usual way).
    """
    if state.direct is None or state.routes is None:
        return None
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query:
        return None
    clean = f"{parts.scheme}://{parts.netloc}/"
    for pattern, method in _route(parts.netloc):
        if pattern.match(clean):
            request = json_request(parts.netloc, headers, body)
            try:
                return method(request, clean, request.headers)  # clean is request.raw_url for "POST /"
            except state.routes.http_exception as exc:
                return int(exc.code or 500), dict(exc.get_headers()), exc.get_body()
    return None
