"""The synthesized template of a resource's stack, and the references inside it.

Rules read what CloudFormation will get (property overrides included), not the L1 attributes.
A value that is not a literal of this template (a parameter, an import of another stack, a
token of a looked-up resource) is *unknown*: rules then answer "not applicable", never "error".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

Json = dict[str, Any]


class StackTemplate:
    """One stack's template, as written to the cloud assembly before validation runs."""

    def __init__(self, template: Json) -> None:
        self.resources: dict[str, Json] = template.get("Resources", {})

    def resource(self, logical_id: str | None) -> Json | None:
        """The resource ``{"Type": ..., "Properties": ...}`` with that logical id, if any."""
        return self.resources.get(logical_id) if logical_id is not None else None

    def type_of(self, logical_id: str | None) -> str | None:
        resource = self.resource(logical_id)
        return resource.get("Type") if resource is not None else None

    def props(self, logical_id: str | None) -> Json:
        resource = self.resource(logical_id)
        return resource.get("Properties", {}) if resource is not None else {}

    def of_type(self, resource_type: str) -> dict[str, Json]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == resource_type}


class TemplateCache:
    """Templates read once per file version (a pack instance may validate several synths)."""

    def __init__(self) -> None:
        self._templates: dict[Path, tuple[int, StackTemplate]] = {}

    def of(self, stack: cdk.Stack) -> StackTemplate | None:
        """The template of ``stack``; None before synthesis wrote it (e.g. ``validate_scope`` alone)."""
        stage = cdk.Stage.of(stack)
        if stage is None:
            return None
        path = Path(stage.outdir) / stack.template_file
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self._templates.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, StackTemplate(json.loads(path.read_text())))
            self._templates[path] = cached
        return cached[1]


def target(value: Any) -> tuple[str, str] | None:
    """``(logical id, attribute)`` of a ``Ref`` (attribute ``"Ref"``) or ``Fn::GetAtt``; else None."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if isinstance(value.get("Ref"), str):
        return value["Ref"], "Ref"
    get_att = value.get("Fn::GetAtt")
    if isinstance(get_att, list) and len(get_att) == 2 and all(isinstance(p, str) for p in get_att):
        return get_att[0], get_att[1]
    if isinstance(get_att, str) and "." in get_att:
        logical_id, attribute = get_att.split(".", 1)
        return logical_id, attribute
    return None


def known_int(props: Json, key: str, default: int | None) -> tuple[bool, int | None]:
    """``(known, value)``: the integer of ``props[key]``, ``default`` when absent; unknown when the
    value is an intrinsic (``{"Ref": ...}``, ``{"Fn::ImportValue": ...}``) or not a number."""
    if key not in props:
        return True, default
    value = props[key]
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int):
        return True, value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return True, int(value)
    return False, None


def literal_text(value: Any) -> str | None:
    """The literal characters of a string or an ``Fn::Join`` of strings and intrinsics (intrinsics
    left out), e.g. to tell an imported ARN's service; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Join"), list) and len(value["Fn::Join"]) == 2:
        separator, parts = value["Fn::Join"]
        if isinstance(separator, str) and isinstance(parts, list):
            return separator.join(p if isinstance(p, str) else "" for p in parts)
    return None
