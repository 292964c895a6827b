"""pytest fixtures for testing a CDK app's pipeline locally (installed with the ``[local]`` extra).

The package registers this module as a pytest plugin (entry point ``pytest11``), so a project
that installs ``cdk-event-pipeline[local]`` gets the fixtures without importing anything::

    def test_poison_order_goes_to_the_dlq(local_pipeline):
        local_pipeline.put_records("Orders", [{"sku": "A1", "quantity": "three"}], partition_key="o-1")
        local_pipeline.run_until_idle()
        (failure,) = local_pipeline.failures("Orders/Billing")
        assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"

Fixtures:

* ``local_pipeline`` - a :class:`~.pipeline.LocalPipeline` of the project's app, deployed on a
  clean local endpoint for each test (handlers imported afresh: no state leaks between tests).
* ``local_pipeline_factory`` - ``make(cdk_out_or_app_dir, stack=None, **options)`` for tests
  that use several apps or stacks.
* ``local_pipeline_assembly`` (session) - the app synthesized once per session; override it to
  point at another ``cdk.out``.
* ``local_pipeline_options`` - keyword arguments for :meth:`LocalPipeline.from_assembly`
  (``stack``, ``environment``, ``region``, ``on_demand_shards``); override it in a
  ``conftest.py``.
* ``local_pipeline_endpoint`` (session) - the moto server in this process; every test starts from
  an empty endpoint.

Configuration (``pytest.ini`` / ``pyproject.toml`` ``[tool.pytest.ini_options]``):
``local_pipeline_app`` (the app's directory, default: the rootdir), ``local_pipeline_cdk_out``
(use an existing cloud assembly instead of synthesizing), ``local_pipeline_stack``.

While a test runs, ``AWS_ENDPOINT_URL``, a region and dummy credentials are set in the
environment, so the test's own boto3 clients talk to the local endpoint and never to AWS. The
runner's moto speed-ups are in place while a test's pipelines are open and undone at its
teardown: the project's own ``mock_aws`` tests in the same session run on moto as shipped.

This module imports nothing heavy: pytest loads it in every session of every project that has
the package installed. moto is imported when a fixture is first used; without it the fixture
fails with one line naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's ini options."""
    parser.addini("local_pipeline_app", "directory of the CDK app the local_pipeline fixture runs (default: rootdir)")
    parser.addini("local_pipeline_cdk_out", "an existing cloud assembly for the local_pipeline fixture (no synth)")
    parser.addini("local_pipeline_stack", "the stack the local_pipeline fixture deploys when the app has several")


def _require() -> None:
    from .endpoint import MissingDependencyError, require_moto  # noqa: PLC0415

    try:
        require_moto()
    except MissingDependencyError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def local_pipeline_endpoint() -> Iterator[Any]:
    """A moto server on 127.0.0.1 in this process (answered in-process for this process's clients)."""
    _require()
    from .endpoint import LocalEndpoint  # noqa: PLC0415

    endpoint = LocalEndpoint().start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture(scope="session")
def local_pipeline_assembly(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud assembly the ``local_pipeline`` fixture deploys (synthesized once per session)."""
    from .assembly import AssemblyError, synthesize  # noqa: PLC0415

    config = request.config
    cdk_out = config.getini("local_pipeline_cdk_out")
    if cdk_out:
        return (config.rootpath / cdk_out).resolve()
    app_dir = (config.rootpath / (config.getini("local_pipeline_app") or ".")).resolve()
    try:
        return synthesize(app_dir, tmp_path_factory.mktemp("cdk.out"))
    except AssemblyError as exc:
        stderr = getattr(exc, "stderr", "")
        pytest.fail(f"{exc}\n{stderr[-4000:]}" if stderr else str(exc), pytrace=False)


@pytest.fixture
def local_pipeline_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Options for the pipeline (override in a conftest.py to change them)."""
    stack = request.config.getini("local_pipeline_stack")
    return {"stack": stack} if stack else {}


@pytest.fixture
def _local_environment(local_pipeline_endpoint: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    local_pipeline_endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_pipeline_endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return local_pipeline_endpoint


@pytest.fixture
def local_pipeline_factory(_local_environment: Any) -> Iterator[Callable[..., Any]]:
    """``make(source, stack=None, **options)``: a pipeline from a ``cdk.out`` or an app directory."""
    from .pipeline import LocalPipeline  # noqa: PLC0415

    made: list[Any] = []

    def make(source: str | Path, **options: Any) -> Any:
        path = Path(source)
        kwargs = {"endpoint": _local_environment, **options}
        pipeline = (LocalPipeline.from_assembly(path, **kwargs) if (path / "manifest.json").is_file()
                    else LocalPipeline.from_app(path, **kwargs))
        made.append(pipeline)
        return pipeline

    try:
        yield make
    finally:
        for pipeline in made:
            pipeline.close()


@pytest.fixture
def local_pipeline(local_pipeline_factory: Callable[..., Any], local_pipeline_assembly: Path,
                   local_pipeline_options: dict[str, Any]) -> Any:
    """The project's app deployed on a clean local endpoint (see the module docstring)."""
    return local_pipeline_factory(local_pipeline_assembly, **local_pipeline_options)
