"""The local AWS endpoint: moto in this process, reachable over HTTP and answered in-process.

:class:`LocalEndpoint` starts moto's threaded server on 127.0.0.1 (an ephemeral port), so
anything that can reach a URL (another process, the ``event-pipeline`` tools, a browser)
sees the runner's streams, queues and tables. Clients in *this* process (the runner's own,
and every boto3 client a handler creates while it runs) do not go over HTTP: a botocore
``before-send`` hook hands each request addressed to the endpoint straight to moto's
backends and returns moto's response. It is the same moto code the server runs, on the same
state (moto's backends are process-wide), without a socket, a server thread or HTTP parsing
per call. Measured on the order pipeline: see ``docs/benchmarks.md``.

The hooks are registered for every botocore session created after the first endpoint starts
(``botocore.handlers.BUILTIN_HANDLERS``) and on boto3's default session; they act only on
requests whose URL is an in-process endpoint's (``http://127.0.0.1:<port>``) and let every
other request through untouched. With the speed-ups (the default), a call to a JSON-protocol
service (DynamoDB, DynamoDB Streams, Kinesis, SQS) is answered at ``before-call``: botocore has
validated and serialized it; moto answers the serialized request and botocore's own parser
reads moto's response, but no HTTP request object is built, signed or sent, and there is no
retry loop (moto never throttles; a request moto itself fails on raises moto's exception in
the caller, where a server would answer 500). Any other request is marked with its region and
service (``before-call``), not signed (``choose-signer``: moto does not check signatures), and
answered at ``before-send``. A client created before the hooks were installed is still signed
and answered in-process (the service and region come from its SigV4 header); one that cannot
be mapped to a moto backend goes over HTTP to the same server.

moto is imported only when an endpoint starts: the package imports without the ``[local]``
extra, and :func:`require_moto` turns a missing dependency into one line with the install hint.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from .assembly import AssemblyError

#: What to install when a dependency of the local runner is missing.
INSTALL_HINT = "pip install 'cdk-event-pipeline[local]'"
#: Credentials for an endpoint the runner owns: moto accepts any (no AWS account is involved).
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class MissingDependencyError(AssemblyError):
    """A package the local runner needs is not installed (the message has the install hint)."""


def require_moto() -> None:
    """Import moto's server parts, or raise :class:`MissingDependencyError` with the hint."""
    try:
        import moto.server  # noqa: F401, PLC0415
        from moto.core.models import botocore_stubber  # noqa: F401, PLC0415
    except ImportError as exc:
        raise MissingDependencyError(
            f"the local runner needs moto[server] ({exc.name or exc} is not installed): {INSTALL_HINT}"
        ) from None


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_lock = threading.Lock()
_in_process: set[str] = set()  # netlocs answered in-process
_installed = False


def _aws_url(service: str, region: str, target: str, path: str, query: str) -> str:
    """The AWS URL moto's backends expect for a request sent to the local endpoint."""
    if service == "dynamodb" and target.startswith("DynamoDBStreams"):
        host = f"streams.dynamodb.{region}.amazonaws.com"
    elif service == "s3":
        host = f"s3.{region}.amazonaws.com"  # path-style: the bucket is the first path segment
    else:
        host = f"{service}.{region}.amazonaws.com"
    return f"https://{host}{path}" + (f"?{query}" if query else "")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _answer(request: Any) -> tuple[int, dict[str, str], Any] | None:
    """moto's response to a prepared request for an AWS URL, or None when no backend matches."""
    from ._moto_speedups import answer  # noqa: PLC0415

    return answer(request)


_REGION_HEADER = "X-Event-Pipeline-Local-Region"
_SERVICE_HEADER = "X-Event-Pipeline-Local-Service"


_parsers: dict[str, Any] = {}


_PLAIN = (str, int, float, bool, type(None))
_BODY_LIMIT = 4096  # bytes of a response body kept with its parse
_NODE_LIMIT = 256  # values in a parse kept


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


def _remember_bodies(parser: Any) -> None:
    """Let this process's JSON response parser reuse its parse of a body it parsed before.

    botocore's ``JSONParser._handle_json_body`` turns a response body into the operation's output
    (``json.loads``, then a walk of the output shape); the result depends only on the body and the
    shape. The item writes of an idempotent consumer get the same few bodies back over and over,
    so for a small body whose parse is plain data (dicts, lists, strings, numbers, booleans, None:
    no timestamps or blobs), the parse is kept per (shape, body) and each call gets its own copy.
    Only the parser :func:`_direct` uses is changed; other clients' parsers are botocore's.
    """
    from ._moto_speedups import _remember  # noqa: PLC0415

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
            _remember(kept, key, (shape, _fresh(parsed)))
        return parsed

    parser._handle_json_body = handle_json_body  # noqa: SLF001


@functools.cache
def _direct_parts() -> tuple[Any, Any, Any, Any, Any]:
    """What :func:`_direct` calls, imported once (moto only once an endpoint runs)."""
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415
    from botocore.endpoint import convert_to_response_dict  # noqa: PLC0415
    from botocore.httpchecksum import handle_checksum_body  # noqa: PLC0415
    from moto.core.botocore_stubber import MockRawResponse  # noqa: PLC0415

    from ._moto_speedups import answer_json  # noqa: PLC0415

    return answer_json, AWSResponse, convert_to_response_dict, handle_checksum_body, MockRawResponse


def _direct(params: Any, context: Any, model: Any, region: str, service: str) -> tuple[Any, Any] | None:
    """Answer a JSON-protocol call from moto before botocore builds, signs and sends an HTTP request.

    The request body is the one botocore serialized (after its parameter validation); moto's
    answer is parsed by botocore's own parser for the protocol, as ``Endpoint`` would, modeled
    error fields included. What is skipped is the HTTP machinery around them (request object,
    signing, the retry loop: moto never throttles).
    """
    answer_json, response_class, to_response_dict, handle_checksum_body, raw_response = _direct_parts()
    body = params.get("body")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes) or params.get("method") != "POST":
        return None
    headers = params.get("headers") or {}
    url = _aws_url(service, region, _text(headers.get("X-Amz-Target")), "/", "")
    answer = answer_json(url, headers, body)
    if answer is None:
        return None
    status, response_headers, response_body = answer
    http = response_class(url, status, response_headers,
                          raw_response(response_body if response_body is not None else b""))
    response_dict = to_response_dict(http, model)
    handle_checksum_body(http, response_dict, context, model)
    protocol = model.service_model.resolved_protocol
    parser = _parsers.get(protocol)
    if parser is None:
        from botocore.parsers import ResponseParserFactory  # noqa: PLC0415

        parser = _parsers[protocol] = ResponseParserFactory().create_parser(protocol)
        if protocol == "json":
            _remember_bodies(parser)
    parsed = parser.parse(response_dict, model.output_shape)
    if http.status_code >= 300:
        code = parsed.get("Error", {}).get("Code")
        shape = model.service_model.shape_for_error_code(code) if code is not None else None
        if shape is not None:
            parsed.update(parser.parse(response_dict, shape))
    if "ResponseMetadata" in parsed:
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
    return http, parsed


def _before_call(params: Any, context: Any, model: Any, **_: Any) -> Any:
    """botocore ``before-call`` hook for a request to an in-process endpoint: answer a JSON-protocol
    call directly (with the speed-ups), else mark the request (no signing needed, answered at
    ``before-send``)."""
    if not _in_process or urlsplit(params.get("url", "")).netloc not in _in_process:
        return None
    region = str(context.get("client_region") or "us-east-1")
    service = str(model.service_model.signing_name)
    if model.service_model.resolved_protocol == "json":
        answered = _direct(params, context, model, region, service)
        if answered is not None:
            return answered
    context["event_pipeline_local"] = True
    headers = params.setdefault("headers", {})
    headers[_REGION_HEADER] = region
    headers[_SERVICE_HEADER] = service
    return None


def _choose_signer(context: Any = None, **_: Any) -> Any:
    """botocore ``choose-signer`` hook: no SigV4 for in-process requests (moto does not check it)."""
    if context is not None and context.get("event_pipeline_local"):
        import botocore  # noqa: PLC0415

        return botocore.UNSIGNED
    return None


def _before_send(request: Any, **_: Any) -> Any:
    """botocore ``before-send`` hook: answer requests to an in-process endpoint from moto."""
    if not _in_process:
        return None
    parts = urlsplit(request.url)
    if parts.netloc not in _in_process:
        return None
    region, service = _text(request.headers.get(_REGION_HEADER)), _text(request.headers.get(_SERVICE_HEADER))
    if not region or not service:
        scope = _CREDENTIAL_SCOPE.search(_text(request.headers.get("Authorization")))
        if scope is None:
            return None  # neither marked nor signed: let the server's own dispatcher work it out over HTTP
        region, service = scope.group(1), scope.group(2)
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415
    from moto.core.botocore_stubber import MockRawResponse  # noqa: PLC0415

    original = request.url
    request.url = _aws_url(service, region, _text(request.headers.get("X-Amz-Target")), parts.path, parts.query)
    try:
        answer = _answer(request)
    finally:
        url, request.url = request.url, original
    if answer is None:
        return None
    status, headers, body = answer
    return AWSResponse(url, status, headers, MockRawResponse(body if body is not None else b""))


def is_in_process(url: str) -> bool:
    """True when requests to ``url`` are answered in this process."""
    return urlsplit(url).netloc in _in_process


def install_hook() -> None:
    """Register the in-process hook for future botocore sessions and boto3's default session."""
    global _installed  # noqa: PLW0603 - one registration per process
    with _lock:
        if _installed:
            return
        from botocore.handlers import BUILTIN_HANDLERS  # noqa: PLC0415

        BUILTIN_HANDLERS.extend(_HOOKS)
        _installed = True
    import boto3  # noqa: PLC0415

    if boto3.DEFAULT_SESSION is not None:
        register(boto3.DEFAULT_SESSION._session)  # noqa: SLF001 - boto3 exposes no other handle


def register(target: Any) -> Any:
    """Register the hook on one botocore session or client created before :func:`install_hook`."""
    events = target.meta.events if hasattr(target, "meta") else target
    for event, hook in _HOOKS:
        events.unregister(event, hook)
        events.register(event, hook)
    return target


_HOOKS: list[tuple[str, Any]] = [("before-call", _before_call), ("choose-signer", _choose_signer),
                                 ("before-send", _before_send)]


class LocalEndpoint:
    """A moto server on 127.0.0.1 in this process; its own clients are answered in-process.

    Args:
        host: Address to listen on. Default: ``127.0.0.1`` (never another interface).
        port: Port. Default: 0 (an ephemeral port).
        in_process: Answer this process's requests without HTTP. Default: True.
        speedups: Apply :mod:`._moto_speedups` (memoized moto internals, pinned moto only).
            Default: True.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, in_process: bool = True,
                 speedups: bool = True) -> None:
        self.host = host
        self.port = port
        self.in_process = in_process
        self.speedups = speedups
        self.url = ""
        self._server: Any = None

    def start(self) -> LocalEndpoint:
        """Start the server (and the in-process hook); return self."""
        require_moto()
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        if self.speedups:
            from ._moto_speedups import apply  # noqa: PLC0415

            apply()
        if self.in_process:
            install_hook()
            with _lock:
                _in_process.add(f"{host}:{port}")
        return self

    def stop(self) -> None:
        """Stop the server and the in-process answers for its URL."""
        if self._server is None:
            return
        with _lock:
            _in_process.discard(urlsplit(self.url).netloc)
        self._server.stop()
        self._server = None

    def reset(self) -> None:
        """Drop every resource (moto's backends are process-wide: every endpoint's state)."""
        from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

        moto_api_backend.reset()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
