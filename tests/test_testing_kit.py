"""cdk_event_pipeline.testing: template snapshots that hold across machines and handler edits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource

from cdk_event_pipeline.testing import normalize_template
from cdk_event_pipeline.testing.snapshot import TemplateSnapshotExtension
from tests._cdk import new_app


def _code(tmp_path: Path, name: str, body: str) -> lambda_.Code:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "handler.py").write_text(body)
    return lambda_.Code.from_asset(str(folder))


def _stack(tmp_path: Path, *, body: str = "def handler(e, c):\n    return None\n", batch_size: int = 10) -> cdk.Stack:
    app = new_app()
    stack = cdk.Stack(app, "Kit")
    queue = sqs.Queue(stack, "Queue")
    for name in ("One", "Two"):
        fn = lambda_.Function(
            stack, name, runtime=lambda_.Runtime.PYTHON_3_13, handler="handler.handler",
            code=_code(tmp_path, name, body if name == "One" else "def handler(e, c):\n    return 2\n"),
        )
        fn.add_event_source(SqsEventSource(queue, batch_size=batch_size))
    return stack


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    first = tmp_path_factory.mktemp("first")
    edited = tmp_path_factory.mktemp("edited")
    return {
        "first": assertions.Template.from_stack(_stack(first)).to_json(),
        "edited": assertions.Template.from_stack(_stack(edited, body="def handler(e, c):\n    return 1\n")).to_json(),
        "batch": assertions.Template.from_stack(_stack(first, batch_size=5)).to_json(),
    }


def test_a_handler_edit_changes_the_template_but_not_the_snapshot(templates):
    assert templates["first"] != templates["edited"]  # the asset hash changed
    assert normalize_template(templates["first"]) == normalize_template(templates["edited"])


def test_a_property_change_changes_the_snapshot(templates):
    assert normalize_template(templates["first"]) != normalize_template(templates["batch"])


def test_assets_stay_apart_by_the_resource_that_uses_them(templates):
    text = json.dumps(normalize_template(templates["first"]))
    assert not re.search(r"[0-9a-f]{64}", text)
    owners = sorted(set(re.findall(r"<asset:(\w+)>", text)))
    assert len(owners) == 2 and all(o.startswith(("One", "Two")) for o in owners)


def test_bootstrap_version_and_cdk_metadata_are_removed(templates):
    normalized = normalize_template(templates["first"])
    assert "BootstrapVersion" in templates["first"]["Parameters"]  # what there was to remove
    assert "Parameters" not in normalized and "Rules" not in normalized
    assert all(r["Type"] != "AWS::CDK::Metadata" for r in normalized["Resources"].values())


def test_a_stack_a_template_and_a_dict_normalize_alike(tmp_path):
    stack = _stack(tmp_path)
    template = assertions.Template.from_stack(stack)
    assert normalize_template(stack) == normalize_template(template) == normalize_template(template.to_json())


def test_normalizing_leaves_the_callers_template_alone(templates):
    before = json.dumps(templates["first"], sort_keys=True)
    normalize_template(templates["first"])
    assert json.dumps(templates["first"], sort_keys=True) == before


def test_anything_else_is_refused_with_what_it_takes():
    with pytest.raises(TypeError, match=r"takes an aws_cdk.assertions.Template, a cdk.Stack or a template dict "
                                        r"\(given int\)"):
        normalize_template(3)


def test_the_extension_writes_sorted_normalized_json(templates):
    text = TemplateSnapshotExtension().serialize(templates["first"])
    assert json.loads(text) == normalize_template(templates["first"])
    keys = list(json.loads(text)["Resources"])
    assert keys == sorted(keys)


def test_the_fixture_compares_a_stack_with_its_snapshot(pytester: pytest.Pytester, monkeypatch):
    pytester.makepyfile(
        test_kit="""
import os

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs


def test_snapshot(template_snapshot):
    stack = cdk.Stack(cdk.App(), "S")
    sqs.Queue(stack, "Q", retention_period=cdk.Duration.days(int(os.environ.get("KIT_RETENTION", "4"))))
    assert stack == template_snapshot
"""
    )
    # The fixture comes from the package's pytest11 entry point, as in a user's project.
    assert pytester.runpytest_subprocess("--snapshot-update").ret == 0
    assert pytester.runpytest_subprocess().ret == 0
    monkeypatch.setenv("KIT_RETENTION", "5")
    changed = pytester.runpytest_subprocess()
    assert changed.ret == 1
    changed.stdout.fnmatch_lines(["*1 snapshot failed*"])
