"""Shared fixtures.

* ``moto_endpoint``: one moto server per test session on 127.0.0.1 (an ephemeral port), the
  local AWS endpoint every Lambda-code test talks to over HTTP.
* ``aws``: resets moto's state, points boto3 at the server (``AWS_ENDPOINT_URL``) and yields
  the endpoint URL.
* ``app`` / ``stack``: a module-wide App with cdk.json's context and a fresh Stack in it, for
  tests that expect a construct to raise.
* ``lambda_path``: puts one ``lambdas/<dir>`` on ``sys.path`` the way Lambda puts
  ``/var/task`` there (the runtime layer is importable through the package install).

No test may reach AWS: dummy credentials and a region are forced for the whole session and the
instance-metadata lookup is switched off.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytester runs the testing kit's fixture in a pytest of its own (tests/test_testing_kit.py).
pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"

# Force a safe environment before anything imports boto3.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Tests",
    "POWERTOOLS_SERVICE_NAME": "tests",
    "POWERTOOLS_DEV": "false",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

_RUNTIME = str(LAMBDAS / "runtime" / "python")
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    """Drop every resource in the moto server (~15 ms)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        response.read()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto server; boto3 clients created in the test go to it."""
    reset_moto(moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    yield moto_endpoint


@pytest.fixture(scope="module")
def app():
    """One App with cdk.json's context per test module, for construct-validation tests."""
    from tests._cdk import new_app

    return new_app()


_stack_counter = iter(range(1_000_000))


@pytest.fixture
def stack(app):
    """A new, empty Stack in the module's App (never synthesized: validation tests raise before)."""
    import aws_cdk as cdk

    return cdk.Stack(app, f"V{next(_stack_counter)}")


@pytest.fixture
def lambda_path(monkeypatch: pytest.MonkeyPatch):
    """Return a function that puts ``lambdas/<name>`` first on sys.path (like /var/task)."""

    def add(name: str) -> Path:
        path = LAMBDAS / name
        assert path.is_dir(), f"no Lambda code directory {path}"
        monkeypatch.syspath_prepend(str(path))
        return path

    return add
