"""Issue 10, acceptance 1: another team's project, outside the repository, on the built wheel.

``tests/external/shipments`` is that project (another domain: shipments). It installs
``cdk-event-pipeline[runtime]`` only, and has its own ``app.py``, ``cdk.json`` (other feature
flags than ours), handlers and tests: a stack mixing the library's constructs with plain
aws-cdk-lib resources each passed to the other, a subclass (``docs/subclassing.md``'s example),
handler tests on the runtime library and Powertools, a syrupy snapshot, and the library's own
objects passed into aws-cdk-lib (and back) in ``tests/test_interop.py``. Here it is copied to a
temporary directory, its own pytest runs in the fresh venv of ``conftest.py`` (the wheel built from the sdist), and its
``app.py`` synthesizes with no context at all.

After an intended template change of the library, update the project's snapshot with
``.venv/bin/python -m pytest tests/external --snapshot-update`` (it is copied back).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.external._support import PROJECT_FIXTURE, ROOT, FreshVenv, clean_env, run

#: Tests of the project that must pass (the interop tests are counted separately below).
MUST_PASS = {
    "tests.test_stack::test_every_consumer_gives_up_after_six_hours",
    "tests.test_stack::test_label_printer_keeps_the_library_defaults_it_did_not_change",
    "tests.test_stack::test_label_printer_may_put_labels_in_the_plain_bucket",
    "tests.test_stack::test_tracker_is_the_teams_function_with_the_teams_dead_letter_queue",
    "tests.test_stack::test_dispatcher_is_connected_to_the_stream_the_queue_and_the_table",
    "tests.test_stack::test_the_librarys_alarms_notify_the_on_call_topic",
    "tests.test_stack::test_template_snapshot",
    "tests.test_handlers::test_prints_one_label_per_dispatched_shipment",
    "tests.test_handlers::test_an_invalid_shipment_fails_and_holds_back_the_rest_of_its_shard",
    "tests.test_handlers::test_undecodable_data_and_other_event_types",
    "tests.test_handlers::test_label_text_names_what_is_missing",
    "tests.test_handlers::test_tracker_counts_per_carrier_and_reports_undecodable_records",
}


def test_the_library_comes_from_the_wheel(fresh_venv: FreshVenv, external_project: Path) -> None:
    # Only light imports here (the package's names are lazy): no jsii start-up.
    out = run([str(fresh_venv.python), "-c", (
        "import json, importlib.metadata as md, cdk_event_pipeline, event_pipeline_runtime, aws_lambda_powertools\n"
        "dist = md.distribution('cdk-event-pipeline')\n"
        "print(json.dumps({'package': cdk_event_pipeline.__file__, 'runtime': event_pipeline_runtime.__file__,\n"
        "  'dist': str(dist.locate_file('')), 'powertools': md.version('aws-lambda-powertools'),\n"
        "  'direct_url': dist.read_text('direct_url.json'), 'extras': dist.metadata.get_all('Provides-Extra')}))"
    )], cwd=external_project)
    found = json.loads(out)
    inside = str(fresh_venv.site_packages)
    for key in ("package", "runtime", "dist"):
        assert found[key].startswith(inside), (key, found[key])
        assert not Path(found[key]).resolve().is_relative_to(ROOT), (key, found[key])
    assert found["direct_url"] is None or '"editable": true' not in found["direct_url"]
    assert "runtime" in found["extras"]
    from cdk_event_pipeline._defaults import POWERTOOLS_VERSION

    assert found["powertools"] == POWERTOOLS_VERSION


@pytest.fixture(scope="module")
def synth_without_context(fresh_venv: FreshVenv, external_project: Path) -> subprocess.Popen[str]:
    """``python app.py`` with no context at all (no cdk.json flags), started in the background
    while the project's tests run (two processes, two cores)."""
    outdir = external_project / "cdk.out"
    return subprocess.Popen(  # noqa: S603
        [str(fresh_venv.python), "app.py"], cwd=external_project, env=clean_env(CDK_OUTDIR=str(outdir)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_the_projects_own_tests_pass_in_the_fresh_venv(
    fresh_venv: FreshVenv, external_project: Path, synth_without_context: subprocess.Popen[str],
    request: pytest.FixtureRequest,
) -> None:
    update = bool(request.config.getoption("update_snapshots", default=False))
    report = external_project / "report.xml"
    args = [str(fresh_venv.python), "-m", "pytest", "-q", f"--junitxml={report}"]
    proc = subprocess.run(  # noqa: S603
        [*args, "--snapshot-update"] if update else args,
        cwd=external_project, env=clean_env(), capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"the project's tests failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    if update:
        shutil.copytree(external_project / "tests" / "__snapshots__", PROJECT_FIXTURE / "tests" / "__snapshots__",
                        dirs_exist_ok=True)

    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[name] = ("failed" if kinds & {"failure", "error"} else
                          "xfailed" if "skipped" in kinds and "xfail" in (case.find("skipped").get("type") or "") else
                          "skipped" if "skipped" in kinds else "passed")
    assert {n: outcomes.get(n) for n in MUST_PASS} == dict.fromkeys(MUST_PASS, "passed")
    assert "failed" not in outcomes.values()
    interop = {n: o for n, o in outcomes.items() if n.startswith("tests.test_interop::")}
    assert len(interop) == 6 and set(interop.values()) == {"passed"}, interop


def test_the_app_synthesizes_with_no_context(
    fresh_venv: FreshVenv, external_project: Path, synth_without_context: subprocess.Popen[str]
) -> None:
    stdout, stderr = synth_without_context.communicate(timeout=600)
    assert synth_without_context.returncode == 0, f"python app.py failed:\n{stdout}\n{stderr}"
    outdir = external_project / "cdk.out"
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert "Shipments" in manifest["artifacts"]
    template = json.loads((outdir / "Shipments.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("AWS::Lambda::EventSourceMapping") == 2
    # the runtime layer is the wheel's copy of lambdas/runtime, file for file
    (layer,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    assets = json.loads((outdir / "Shipments.assets.json").read_text())["files"]
    staged = outdir / assets[asset_hash]["source"]["path"]
    in_wheel = fresh_venv.site_packages / "cdk_event_pipeline" / "lambdas" / "runtime"
    assert files_under(staged) == files_under(in_wheel)
    assert "python/event_pipeline_runtime/py.typed" in files_under(staged)


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
