"""Fixtures for the Lambda handler tests (moto server from the root conftest).

``load_handler(directory, module)`` imports ``lambdas/<directory>/<module>.py`` afresh, the way
Lambda does at a cold start: its module-level boto3 clients are created against the moto
server and its environment. Its Powertools logger gets a service name of its own and its stream
handler writes to whatever ``sys.stdout`` is at the time of the write (a Powertools handler
keeps the stream it was created with, which pytest replaces between the setup and call
phases), so ``capsys`` sees every line.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from handler_events import FakeContext


class _CurrentStdout:
    """A stream that writes to the current ``sys.stdout``."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def load_handler(
    aws: str, lambda_path: Callable[[str], object], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], ModuleType]]:
    loaded: list[str] = []

    def load(directory: str, module: str) -> ModuleType:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"{directory}-{uuid.uuid4().hex[:8]}")
        # One code directory may hold several functions: name the function after its module.
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", module.removesuffix("_handler"))
        lambda_path(directory)
        sys.modules.pop(module, None)
        loaded.append(module)
        mod = importlib.import_module(module)
        logger = getattr(mod, "logger", None)
        if logger is not None:
            logger.registered_handler.setStream(_CurrentStdout())
        return mod

    yield load
    for module in loaded:
        mod = sys.modules.pop(module, None)
        metrics = getattr(mod, "metrics", None)
        if metrics is not None:
            metrics.clear_metrics()


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()
