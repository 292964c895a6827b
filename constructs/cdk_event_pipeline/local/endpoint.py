"""The local AWS endpoint: moto in this process, reachable over HTTP and answered in-process.

:class:`LocalEndpoint` starts moto's threaded server on 127.0.0.1 (an ephemeral port), so
anything that can reach a URL (another process, the ``event-pipeline`` tools, a browser)
sees the runner's streams, queues and tables. Clients in *this* process (the runner's own,
and every boto3 client a handler creates while it runs) do not go over HTTP: a botocore
``before-send`` hook hands each request addressed to the endpoint straight to moto's
backends and returns moto's response. It is the same moto code the server runs, on the same
state (moto's backends are process-wide), without a socket, a server thread or HTTP parsing
per call. Measured on the order pipeline: see ``docs/benchmarks.md``.

The hooks are registered (by :mod:`._moto`, the adapter that holds every use of moto's and
botocore's internals) for every botocore session created while an in-process endpoint runs and
on boto3's default session, and removed when the last one stops; they act only on requests
whose URL is an in-process endpoint's (``http://127.0.0.1:<port>``) and let every other request
through untouched. With the speed-ups in place (while a pipeline or a run is open), a call to a JSON-protocol
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

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from . import _moto
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
    except ImportError as exc:
        raise MissingDependencyError(
            f"the local runner needs moto[server] ({exc.name or exc} is not installed): {INSTALL_HINT}"
        ) from None


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_lock = threading.Lock()
_in_process: dict[str, bool] = {}  # netlocs answered in-process -> whether their runs apply the speed-ups


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


_REGION_HEADER = "X-Event-Pipeline-Local-Region"
_SERVICE_HEADER = "X-Event-Pipeline-Local-Service"


def _before_call(params: Any, context: Any, model: Any, **_: Any) -> Any:
    """botocore ``before-call`` hook for a request to an in-process endpoint: answer a JSON-protocol
    call directly (with the speed-ups), else mark the request (no signing needed, answered at
    ``before-send``)."""
    if not _in_process or urlsplit(params.get("url", "")).netloc not in _in_process:
        return None
    region = str(context.get("client_region") or "us-east-1")
    service = str(model.service_model.signing_name)
    if model.service_model.resolved_protocol == "json":
        url = _aws_url(service, region, _text((params.get("headers") or {}).get("X-Amz-Target")), "/", "")
        answered = _moto.direct_call(url, params, context, model)
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
    original = request.url
    request.url = url = _aws_url(service, region, _text(request.headers.get("X-Amz-Target")), parts.path, parts.query)
    try:
        return _moto.respond(request, url)
    finally:
        request.url = original


def is_in_process(url: str) -> bool:
    """True when requests to ``url`` are answered in this process."""
    return urlsplit(url).netloc in _in_process


def install_hook() -> Callable[[], None]:
    """Register the in-process hook for future botocore sessions and boto3's default session;
    return the undo (nested installs share one registration: the last undo removes it)."""
    return _moto.install_hooks(_HOOKS, register)


def speedups_wanted(url: str) -> bool:
    """True when ``url`` is an in-process endpoint started with the speed-ups."""
    return bool(_in_process.get(urlsplit(url).netloc))


def hold_speedups(url: str) -> Callable[[], None]:
    """Apply the moto speed-ups (:mod:`._moto`) when ``url`` is an in-process endpoint that wants them;
    return the undo (a no-op otherwise)."""
    return _moto.held(speedups_wanted(url))


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
        speedups: Apply the moto speed-ups (:mod:`._moto`: memoized moto internals, each where the
            installed moto has what it replaces) while a pipeline or a run on this endpoint is
            open; undone when the last one ends. Default: True.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, in_process: bool = True,
                 speedups: bool = True) -> None:
        self.host = host
        self.port = port
        self.in_process = in_process
        self.speedups = speedups
        self.url = ""
        self._server: Any = None
        self._unhook: Callable[[], None] | None = None

    def start(self) -> LocalEndpoint:
        """Start the server (and the in-process hook); return self."""
        require_moto()
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        if self.in_process:
            self._unhook = install_hook()
            with _lock:
                _in_process[f"{host}:{port}"] = self.speedups
        return self

    def stop(self) -> None:
        """Stop the server and the in-process answers for its URL."""
        if self._server is None:
            return
        with _lock:
            _in_process.pop(urlsplit(self.url).netloc, None)
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        self._server.stop()
        self._server = None

    def reset(self) -> None:
        """Drop every resource (moto's backends are process-wide: every endpoint's state)."""
        _moto.reset()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
