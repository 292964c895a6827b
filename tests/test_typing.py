"""Typed props end to end (issue 10, finding 2): a misspelled or misplaced prop is a type error
where it is written, not a bare TypeError at synth.

mypy checks two fixture files against the package: ``typing_fixtures/misspelled_props.py`` must
fail on exactly the lines marked ``# expect-error``, ``typing_fixtures/typed_usage.py`` must
pass. aws-cdk-lib is skipped there (``typing_fixtures/mypy.ini``): TypedDict keys are checked
without it, and the run takes ~2 s instead of a minute. The strict check of the whole package
and ``app.py`` (with aws-cdk-lib) is the project's type-check step.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy)")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "typing_fixtures"


def mypy(*files: Path, cache: Path) -> dict[int, list[str]]:
    """Errors by line of the given files (mypy run on them together)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(FIXTURES / "mypy.ini"), "--cache-dir", str(cache),
         "--no-error-summary", *map(str, files)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    errors: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$", line)
        if match:
            errors.setdefault(int(match["line"]), []).append(f"{Path(match['file']).name}: {match['message']}")
    return errors


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def test_every_misspelled_or_misplaced_prop_is_a_type_error(cache):
    fixture = FIXTURES / "misspelled_props.py"
    marked = {n for n, text in enumerate(fixture.read_text().splitlines(), 1) if "# expect-error" in text}
    errors = mypy(fixture, cache=cache)
    assert set(errors) == marked, errors
    assert any('"batchsize"' in e and 'did you mean "batch_size"' in e for e in errors[min(marked)])
    assert any('"enhanced_fan_out" for "add_change_consumer"' in e for es in errors.values() for e in es)


def test_correct_props_type_check(cache):
    assert mypy(FIXTURES / "typed_usage.py", cache=cache) == {}


def test_the_reference_app_needs_no_type_ignore():
    assert "type: ignore" not in (ROOT / "app.py").read_text()
