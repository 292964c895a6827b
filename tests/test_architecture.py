"""The structure of the package and the runtime, checked in ``make test`` (docs/architecture.md).

Two gates, each with a test that a planted violation fails it:

* **Import contracts** (import-linter, ``[tool.importlinter]`` in pyproject.toml): no import cycle between the
  modules of any package, the construct package's layers, the runtime never importing aws_cdk or the
  construct library, and the tools and the local runner never importing the constructs' modules.
* **Sizes** (this module, not a ruff rule: ruff's PLR0915 counts statements, not lines): no module over
  :data:`MAX_MODULE_LINES` lines and no function body over :data:`MAX_FUNCTION_BODY_LINES` lines in the
  construct package (``constructs/cdk_event_pipeline``, tools and local runner included) and the runtime
  (``lambdas/runtime/python/event_pipeline_runtime``). A body is counted from its first statement after the
  docstring to its last line, so the signature and the docstring are not counted; a nested function counts in
  its own body and in the body around it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "constructs" / "cdk_event_pipeline"
RUNTIME = ROOT / "lambdas" / "runtime" / "python" / "event_pipeline_runtime"
CHECKED = (PACKAGE, RUNTIME)

MAX_MODULE_LINES = 500
MAX_FUNCTION_BODY_LINES = 60

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


# --- sizes ---------------------------------------------------------------------------------------------------


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``function``'s body, its docstring left out."""
    body = function.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    if not body:
        return 0
    end = body[-1].end_lineno or body[-1].lineno
    return end - body[0].lineno + 1


def oversized(roots: tuple[Path, ...]) -> list[str]:
    """Every module over the line limit and every function whose body is over the body limit, below ``roots``."""
    found: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            name = path.relative_to(root.parent)
            lines = len(source.splitlines())
            if lines > MAX_MODULE_LINES:
                found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
            for node in ast.walk(ast.parse(source, filename=str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = body_lines(node)
                    if length > MAX_FUNCTION_BODY_LINES:
                        found.append(
                            f"{name}:{node.lineno} {node.name}: body of {length} lines (at most "
                            f"{MAX_FUNCTION_BODY_LINES})"
                        )
    return found


def test_no_module_or_function_body_over_the_limits() -> None:
    assert oversized(CHECKED) == []


def test_a_planted_long_module_and_function_body_fail_the_size_check(tmp_path: Path) -> None:
    package = tmp_path / "planted"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_BODY_LINES + 1))
    (package / "long_function.py").write_text(f'def long():\n    """Doc."""\n{body}\n', encoding="utf-8")
    fits = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_BODY_LINES))
    (package / "fits.py").write_text(f'def fits():\n    """A docstring\n\n    of lines.\n    """\n{fits}\n')
    (package / "long_module.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    (package / "just_fits.py").write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")

    assert oversized((package,)) == [
        f"planted/long_function.py:1 long: body of {MAX_FUNCTION_BODY_LINES + 1} lines (at most 60)",
        f"planted/long_module.py: {MAX_MODULE_LINES + 1} lines (at most 500)",
    ]


# --- import contracts ----------------------------------------------------------------------------------------


def lint_imports(*, python_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts; ``python_path`` puts other copies of the packages first."""
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(python_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )


def test_import_contracts_are_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    kept = re.search(r"(\d+) kept, (\d+) broken\.", result.stdout)
    assert kept is not None, result.stdout
    assert int(kept.group(1)) >= 5 and kept.group(2) == "0", result.stdout


@pytest.fixture(scope="module")
def copied_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the construct package and the runtime, to plant violations in."""
    where = tmp_path_factory.mktemp("packages")
    for source in CHECKED:
        shutil.copytree(source, where / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return where


PLANTED = {
    "runtime-imports-aws-cdk": ("event_pipeline_runtime/contract.py", "import aws_cdk\n"),
    "runtime-imports-the-constructs": ("event_pipeline_runtime/contract.py", "import cdk_event_pipeline._defaults\n"),
    "bottom-imports-a-construct": ("cdk_event_pipeline/_kinds.py", "from cdk_event_pipeline import stream\n"),
    "tools-import-a-construct": ("cdk_event_pipeline/tools/errors.py", "from cdk_event_pipeline import queue\n"),
    "a-cycle-in-the-runtime": ("event_pipeline_runtime/contract.py", "from event_pipeline_runtime import producer\n"),
}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_a_planted_import_breaks_a_contract(copied_packages: Path, tmp_path: Path, planted: str) -> None:
    where = tmp_path / "src"
    shutil.copytree(copied_packages, where)
    module, line = PLANTED[planted]
    path = where / module
    assert path.exists(), f"{module} is not where the planted violation expects it"
    path.write_text(path.read_text(encoding="utf-8") + line, encoding="utf-8")

    result = lint_imports(python_path=where)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
