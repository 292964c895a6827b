"""The code in the README's "Use it in your project" and in docs/subclassing.md works as written.

The README's files (``app.py``, a handler, ``pyproject.toml`` and the tests of "Testing your stack":
the handler test, a template snapshot, the rule pack, time in the local runner) are written to a
new project outside the repository and run in the fresh venv (the built wheel with
``[runtime,local,nag]``), as a reader would run them. The acceptance of the snapshot fixture runs
there too: the user's snapshot test passes twice, still passes after a handler edit, and fails
after a batch size change. The subclassing example is the external project's ``shipments_infra/streams.py``,
which ``test_external_project.py`` runs; here it is checked to be the same text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.external._support import PROJECT_FIXTURE, ROOT, FreshVenv, clean_env, run

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_FILE_BLOCK = re.compile(r"^```(?:python|toml)\n# ([\w/]+\.(?:py|toml))\n(.*?)^```", re.S | re.M)


def python_blocks(markdown: str) -> list[str]:
    return _PYTHON_BLOCK.findall(markdown)


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def readme_files() -> dict[str, str]:
    """The section's Python and TOML blocks that start with ``# <relative path>``, by path."""
    return dict(_FILE_BLOCK.findall(readme_section("Use it in your project")))


def test_the_subclassing_example_is_the_module_the_external_project_runs() -> None:
    blocks = python_blocks((ROOT / "docs" / "subclassing.md").read_text())
    assert blocks[0] == (PROJECT_FIXTURE / "shipments_infra" / "streams.py").read_text()


#: A method the library calls to make one decision, by its name (what docs/subclassing.md's table lists).
_EXTENSION_POINT = re.compile(
    r"^(build_\w+|apply_\w+|check_\w+|default_\w+|\w+_class|consumer_defaults|grant_(source|queue)_read"
    r"|add_to_dashboard|share_stream)$"
)


def documented_extension_points() -> dict[str, set[str]]:
    """docs/subclassing.md's table: ``{class: {method, ...}}`` (a row without a class continues the last)."""
    text = (ROOT / "docs" / "subclassing.md").read_text()
    table = text[text.index("| construct | method | decides |"):].split("\n\n", 1)[0]
    documented: dict[str, set[str]] = {}
    classes: list[str] = []
    for row in table.splitlines()[2:]:
        class_cell, method_cell, _ = row.strip("|").split(" | ")
        classes = re.findall(r"`(\w+)`", class_cell) or classes
        for name in classes:
            documented.setdefault(name, set()).update(re.findall(r"`(\w+)`", method_cell))
    return documented


def test_the_subclassing_table_names_real_methods_and_every_extension_point() -> None:
    import cdk_event_pipeline as lib

    documented = documented_extension_points()
    for class_name, methods in documented.items():
        cls = getattr(lib, class_name)
        for method in methods:
            assert callable(getattr(cls, method, None)), f"docs/subclassing.md: {class_name}.{method} does not exist"
    for name in lib.__all__:
        cls = getattr(lib, name)
        if not isinstance(cls, type):
            continue
        points = {
            method for klass in cls.__mro__ if klass.__module__.startswith("cdk_event_pipeline")
            for method in vars(klass) if _EXTENSION_POINT.match(method)
        }
        missing = points - documented.get(name, set())
        assert not missing, f"docs/subclassing.md does not list {name}.{sorted(missing)}"


def test_the_readme_points_to_the_subclassing_doc() -> None:
    assert "docs/subclassing.md" in readme_section("Usage")


@pytest.fixture(scope="module")
def readme_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = readme_files()
    assert set(files) == {"app.py", "lambdas/label_printer/label_handler.py", "pyproject.toml",
                          "tests/test_label_handler.py", "tests/test_stack_snapshot.py", "tests/test_rule_pack.py",
                          "tests/test_local_time.py"}
    project = tmp_path_factory.mktemp("readme") / "project"
    for relative, text in files.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)
    return project


def test_the_readme_app_and_its_tests_run_in_a_fresh_venv(fresh_venv: FreshVenv, readme_project: Path) -> None:
    outdir = readme_project / "cdk.out"
    synth = subprocess.Popen(  # noqa: S603 - runs alongside the handler test
        [str(fresh_venv.python), "app.py"], cwd=readme_project, env=clean_env(CDK_OUTDIR=str(outdir)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # a first run writes the snapshot, as the README says (--snapshot-update)
        pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--snapshot-update", "tests"]
        tests = run([str(fresh_venv.python), *pytest_args], cwd=readme_project)
        assert re.search(r"\b5 passed\b", tests) and "1 snapshot generated" in tests, tests
    finally:
        stdout, stderr = synth.communicate(timeout=600)
    assert synth.returncode == 0, f"python app.py failed:\n{stdout}\n{stderr}"

    resources = json.loads((outdir / "Shipments.template.json").read_text())["Resources"]
    (mapping,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mapping["BatchSize"] == 50 and mapping["BisectBatchOnFunctionError"] is True
    actions = {a for r in resources.values() if r["Type"] == "AWS::IAM::Policy"
               for s in r["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"s3:PutObject", "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:GetRecords"} <= actions
    (dispatcher,) = [r["Properties"] for r in resources.values()
                     if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "index.handler"]
    # connect_producer: the stream name and the encoding the runtime producer writes (plain JSON here)
    assert dispatcher["Environment"]["Variables"] == {
        "STREAM_NAME": dispatcher["Environment"]["Variables"]["STREAM_NAME"],
        "EVENT_PIPELINE_COMPRESS": "false",
        "EVENT_PIPELINE_AGGREGATE": "false",
    }


def _snapshot_run(fresh_venv: FreshVenv, project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(fresh_venv.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra,
         "tests/test_stack_snapshot.py"],
        cwd=project, env=clean_env(), capture_output=True, text=True, timeout=600, check=False,
    )


def test_a_users_template_snapshot_survives_a_handler_edit_and_not_a_batch_size_change(
    fresh_venv: FreshVenv, readme_project: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(readme_project, project, ignore=shutil.ignore_patterns("cdk.out", "__snapshots__", "__pycache__"))

    written = _snapshot_run(fresh_venv, project, "--snapshot-update")
    assert written.returncode == 0 and "1 snapshot generated" in written.stdout, written.stdout
    (snapshot,) = (project / "tests" / "__snapshots__").rglob("*.json")
    assert "<asset:" in snapshot.read_text() and not re.search(r"[0-9a-f]{64}", snapshot.read_text())
    for _ in range(2):
        again = _snapshot_run(fresh_venv, project)
        assert again.returncode == 0 and "1 snapshot passed" in again.stdout, again.stdout

    handler = project / "lambdas" / "label_printer" / "label_handler.py"
    handler.write_text(handler.read_text().replace('"Label printed"', '"Label printed for"'))
    edited = _snapshot_run(fresh_venv, project)
    assert edited.returncode == 0 and "1 snapshot passed" in edited.stdout, edited.stdout

    app = project / "app.py"
    assert app.read_text().count("batch_size=50") == 1
    app.write_text(app.read_text().replace("batch_size=50", "batch_size=60"))
    changed = _snapshot_run(fresh_venv, project)
    assert changed.returncode == 1 and "1 snapshot failed" in changed.stdout, changed.stdout
    assert "BatchSize" in changed.stdout, changed.stdout  # the diff names the property
