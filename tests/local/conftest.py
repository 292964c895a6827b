"""Fixtures for the local runner's scenarios: small assemblies deployed with the project's own
``local_pipeline_factory`` fixture (the pytest plugin users get with the ``[local]`` extra)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdk_event_pipeline.local import LocalPipeline, synthesize

from .assembly_builder import TemplateBuilder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deploy(local_pipeline_factory: Callable[..., LocalPipeline], tmp_path: Path) -> Callable[..., LocalPipeline]:
    """Write a builder's assembly and deploy it on a clean local endpoint."""
    counter = iter(range(1000))

    def make(builder: TemplateBuilder, **options: Any) -> LocalPipeline:
        return local_pipeline_factory(builder.write(tmp_path / f"cdk.out.{next(counter)}"), **options)

    return make


def keyed(payload: dict[str, Any]) -> str:
    """Partition key of a scenario payload (``key``, default ``k``)."""
    return str(payload.get("key", "k"))


@pytest.fixture(scope="session")
def platform_app_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/local/apps/platform synthesized once per session, with a cdk.json as ``cdk init``
    writes it (the modules that use it point ``local_pipeline_assembly`` at it)."""
    app = tmp_path_factory.mktemp("platform-app")
    shutil.copytree(ROOT / "tests" / "local" / "apps" / "platform", app, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    (app / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": context}))
    return synthesize(app, app / "cdk.out")
