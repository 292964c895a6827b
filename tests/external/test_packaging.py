"""What ``python -m build`` makes: an sdist that builds the wheel, and a wheel that carries
the package, the runtime library and every Lambda code directory (issue 10, "Install story")."""

from __future__ import annotations

import re
import tarfile
import zipfile
from email.parser import Parser

from tests.external._support import ROOT, Dist

LAMBDA_DIRS = sorted(p.name for p in (ROOT / "lambdas").iterdir() if p.is_dir() and p.name != "__pycache__")


def source_files(directory: str) -> set[str]:
    """Tracked-looking source files under a repo directory (no caches)."""
    base = ROOT / directory
    return {str(p.relative_to(ROOT)) for p in base.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_the_sdist_holds_what_builds_the_wheel_and_nothing_else(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= names
    assert source_files("constructs/cdk_event_pipeline") <= names
    assert source_files("lambdas") <= names
    assert not any(n.startswith(("tests/", "benchmarks/", "node_modules/", ".venv/", "cdk.out/")) for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_the_wheel_carries_the_package_the_runtime_and_the_lambda_code(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
    assert "cdk_event_pipeline/py.typed" in names
    assert "event_pipeline_runtime/py.typed" in names
    assert "cdk_event_pipeline/lambdas/runtime/python/event_pipeline_runtime/py.typed" in names
    for directory in LAMBDA_DIRS:
        assert any(n.startswith(f"cdk_event_pipeline/lambdas/{directory}/") for n in names), directory
    for path in source_files("lambdas"):
        assert f"cdk_event_pipeline/{path}" in names
    for path in source_files("lambdas/runtime/python/event_pipeline_runtime"):
        assert path.removeprefix("lambdas/runtime/python/") in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # constructs/ is a source root, never a package: nothing may install a `constructs` module
    # that would shadow the constructs library.
    assert not any(n.startswith("constructs/") for n in names)


def test_the_wheel_declares_the_runtime_extra_at_the_layers_powertools_version(dist: Dist) -> None:
    from cdk_event_pipeline._defaults import POWERTOOLS_VERSION

    with zipfile.ZipFile(dist.wheel) as wheel:
        (meta_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(wheel.read(meta_name).decode())
    assert {"runtime", "dev"} <= set(metadata.get_all("Provides-Extra"))
    runtime = [r for r in metadata.get_all("Requires-Dist") if re.search(r"extra\s*==\s*['\"]runtime['\"]", r)]
    assert len(runtime) == 1
    assert re.match(rf"aws-lambda-powertools\[tracer\]\s*==\s*{re.escape(POWERTOOLS_VERSION)}\s*;", runtime[0]), runtime
    assert metadata["Requires-Python"] == ">=3.11"
