"""SnapStart functions on the local runner (tests/local/apps/platform).

``snap_start=True`` publishes a version with an alias ``live``, and the mapping's
``FunctionName`` becomes the alias's name (``Fn::Join`` of ``Fn::Select``/``Fn::Split`` over the
alias ARN, plus ``:live``). The runner resolves the version and the alias to the function and runs
the function's code; SnapStart itself (the snapshot, restore hooks) is not modelled: every local
init is an on-demand one (``AWS_LAMBDA_INITIALIZATION_TYPE=on-demand``, as Lambda sets it without
SnapStart).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def local_pipeline_assembly(platform_app_assembly: Path) -> Path:
    """The app the ``local_pipeline`` fixture deploys (overrides the plugin's fixture)."""
    return platform_app_assembly


def _event(name: str) -> dict:
    return {"type": "counted", "version": 1, "id": name, "at": "2026-01-01T00:00:00Z", "data": {"name": name}}


def test_the_template_invokes_the_alias_of_a_published_version(local_pipeline_assembly) -> None:
    template = json.loads((local_pipeline_assembly / "Platform.template.json").read_text())["Resources"]
    aliases = {lid: r for lid, r in template.items() if r["Type"] == "AWS::Lambda::Alias"}
    assert len(aliases) == 2 and {r["Properties"]["Name"] for r in aliases.values()} == {"live"}
    assert sum(r["Type"] == "AWS::Lambda::Version" for r in template.values()) == 2
    targets = [r["Properties"]["FunctionName"] for r in template.values()
               if r["Type"] == "AWS::Lambda::EventSourceMapping" and "Fn::Join" in r["Properties"]["FunctionName"]]
    assert len(targets) == 2
    for target in targets:
        (selected, suffix) = target["Fn::Join"][1]
        assert suffix == ":live" and selected["Fn::Select"][1]["Fn::Split"][1]["Ref"] in aliases


def test_snapstart_consumer_and_worker_run_through_their_alias(local_pipeline) -> None:
    local_pipeline.put_records("Snap", [_event(f"record-{n}") for n in range(3)], partition_key=lambda e: e["id"])
    local_pipeline.send_messages("Jobs", [_event(f"message-{n}") for n in range(2)])

    report = local_pipeline.run_until_idle()

    seen = {item["id"]: item["seen"] for item in local_pipeline.table_items("Seen")}
    assert seen == {"record-0": 1, "record-1": 1, "record-2": 1, "message-0": 1, "message-1": 1}
    sent = {path: mapping.records_sent for path, mapping in report.mappings.items()}
    assert sent["Snap/Counter/EventSourceMapping"] == 3 and sent["Jobs/Counter/EventSourceMapping"] == 2
    assert not [note for note in local_pipeline.notes() if "skipped" in note]
    for name in ("Snap/Counter", "Jobs/Counter"):
        assert local_pipeline.function(name).environment["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
