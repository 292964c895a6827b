"""Helpers for template tests: apps with cdk.json's context, IAM lookups (snapshots: ``template_snapshot``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
from aws_cdk import assertions
from constructs import IConstruct

ROOT = Path(__file__).resolve().parent.parent
CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


def new_app() -> cdk.App:
    """An App with the feature flags of cdk.json, writing to a temporary directory."""
    return cdk.App(context=CONTEXT, outdir=tempfile.mkdtemp(prefix="cdk-test-"))


class Stacks:
    """One app (cdk.json's flags; cdk-nag's AwsSolutions checks unless ``nag=False``), its stacks by
    name and the constructs a test module looks at (``things``)."""

    def __init__(self, *, nag: bool = True) -> None:
        self.app = new_app()
        if nag:
            cdk.Validations.of(self.app).add_plugins(cdk_nag.AwsSolutionsChecks(self.app))
        self.stacks: dict[str, cdk.Stack] = {}
        self.things: dict[str, Any] = {}

    def stack(self, name: str, region: str | None = None) -> cdk.Stack:
        env = cdk.Environment(region=region) if region is not None else None
        self.stacks[name] = cdk.Stack(self.app, name, env=env)
        return self.stacks[name]


def logical_id(construct: IConstruct) -> str:
    """Logical id of an L2's CloudFormation resource (never hard-code the hashed ids)."""
    child = construct.node.default_child
    target = child if child is not None else construct
    return cdk.Stack.of(construct).get_logical_id(target)  # type: ignore[arg-type]


def get_att_arn(construct: IConstruct) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(construct), "Arn"]}


def role_statements(template: assertions.Template, role: IConstruct) -> list[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy attached to ``role``, in template order."""
    role_ref = {"Ref": logical_id(role)}
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if role_ref in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return sorted([action] if isinstance(action, str) else action)


def all_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every IAM statement in a template: policies, roles' inline policies, resource policies."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Statement" in node and isinstance(node["Statement"], list):
                found.extend(node["Statement"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(template.get("Resources", {}))
    return found


def cfn_lint(template: dict[str, Any] | str, regions: list[str] | None = None) -> tuple[list[str], set[str]]:
    """cfn-lint a template: (errors as ``"<rule> <message> (<path>)"``, ids of warnings).

    ``regions=None`` checks every region cfn-lint knows; pass a list to check only those.
    """
    from cfnlint.api import lint, lint_all

    text = template if isinstance(template, str) else json.dumps(template)
    matches = lint_all(text) if regions is None else lint(text, regions=regions)
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches
              if m.rule.severity.lower() == "error" or m.rule.id.startswith("E")]
    return errors, {m.rule.id for m in matches if m.rule.id.startswith("W")}
