"""Reading a synthesized cloud assembly (``cdk.out``), and synthesizing one without aws_cdk.

The assembly's ``manifest.json`` lists the stacks (artifacts of type
``aws:cloudformation:stack``) with their template file; each stack's asset manifest
(``<Stack>.assets.json``) maps an asset hash to its directory ``asset.<hash>``, which is
the hash the template's ``Code.S3Key`` / ``Content.S3Key`` (``<hash>.zip``) names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(RuntimeError):
    """The cloud assembly is missing, unreadable, or lacks something the runner needs."""


@dataclass
class StackTemplate:
    """One stack of the assembly.

    Attributes:
        name: The stack name (artifact id).
        template: The CloudFormation template.
        assets: Asset hash -> its directory.
    """

    name: str
    template: dict[str, Any]
    assets: dict[str, Path] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The template's resources."""
        return self.template.get("Resources", {})

    def asset_dir(self, s3_key: Any) -> Path | None:
        """The directory of the asset a ``S3Key`` (``<hash>.zip``) names, if it is a directory."""
        if not isinstance(s3_key, str):
            return None
        digest = s3_key.rsplit("/", 1)[-1].removesuffix(".zip")
        path = self.assets.get(digest)
        return path if path is not None and path.is_dir() else None


def load_assembly(outdir: str | os.PathLike[str]) -> list[StackTemplate]:
    """Read every CloudFormation stack of a cloud assembly.

    Args:
        outdir: The ``cdk.out`` directory.

    Returns:
        The stacks, in manifest order.

    Raises:
        AssemblyError: No manifest, or a template file is missing.
    """
    root = Path(outdir)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"no cloud assembly at {root} (manifest.json missing): synthesize the app first")
    manifest = json.loads(manifest_path.read_text())
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    stacks: list[StackTemplate] = []
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") == "cdk:cloud-assembly":  # a Stage: its stacks are in a nested assembly
            nested = root / artifact.get("properties", {}).get("directoryName", "")
            if (nested / "manifest.json").is_file():
                stacks += load_assembly(nested)
            continue
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_path = root / artifact["properties"]["templateFile"]
        if not template_path.is_file():
            raise AssemblyError(f"template {template_path} of stack {artifact_id} is missing")
        assets: dict[str, Path] = {}
        for dependency in artifact.get("dependencies", []):
            dep = artifacts.get(dependency, {})
            if dep.get("type") != "cdk:asset-manifest":
                continue
            asset_manifest = json.loads((root / dep["properties"]["file"]).read_text())
            for digest, entry in asset_manifest.get("files", {}).items():
                source = entry.get("source", {})
                if source.get("packaging") == "zip" or (root / source.get("path", "")).is_dir():
                    assets[digest] = root / source["path"]
        for child in root.glob("asset.*"):
            assets.setdefault(child.name.removeprefix("asset."), child)
        template = json.loads(template_path.read_text())
        stacks.append(StackTemplate(artifact.get("displayName", artifact_id), template, assets))
    if not stacks:
        raise AssemblyError(f"the cloud assembly at {root} has no CloudFormation stack")
    return stacks


class SynthError(AssemblyError):
    """The app failed to synthesize; :attr:`stderr` has what it printed."""

    def __init__(self, message: str, stderr: str) -> None:
        super().__init__(message)
        self.stderr = stderr


_PYTHON_APP = re.compile(r"^\s*(?:\S*/)?python[\d.]*\s+(\S+\.py)((?:\s+\S+)*)\s*$")


def app_command(app_dir: str | os.PathLike[str], app: str | None = None) -> list[str] | str:
    """How to run the app: ``cdk.json``'s ``app`` command, else ``python app.py``.

    A Python command (``python3 app.py``, ``.venv/bin/python app.py``) runs with this
    interpreter, so the app sees the packages of the environment the runner runs in.
    """
    command = app
    cdk_json = Path(app_dir) / "cdk.json"
    if command is None and cdk_json.is_file():
        command = json.loads(cdk_json.read_text()).get("app")
    if command is None:
        command = "app.py"
    if command.endswith(".py") and " " not in command.strip():
        return [sys.executable, command.strip()]
    match = _PYTHON_APP.match(command)
    if match:
        return [sys.executable, match.group(1), *match.group(2).split()]
    return command


def synthesize(app_dir: str | os.PathLike[str], outdir: str | os.PathLike[str], *, app: str | None = None,
               timeout: float = 600) -> Path:
    """Synthesize a CDK app into ``outdir``, the way the CDK CLI runs it.

    The app runs in its own process (this package never imports aws_cdk) with ``CDK_OUTDIR``
    and ``CDK_CONTEXT_JSON``: ``cdk.json``'s context (the feature flags) plus
    ``aws:cdk:enable-path-metadata`` (so resources carry their construct paths, as with
    ``cdk synth``).

    Args:
        app_dir: The project root (where ``cdk.json`` is).
        outdir: The assembly directory to write.
        app: The app command or file. Default: ``cdk.json``'s ``app``, else ``app.py``.
        timeout: Seconds before giving up.

    Returns:
        ``outdir``.

    Raises:
        SynthError: The app failed.
    """
    env = dict(os.environ, CDK_OUTDIR=str(outdir))
    context: dict[str, Any] = {}
    cdk_json = Path(app_dir) / "cdk.json"
    if cdk_json.is_file():
        context = dict(json.loads(cdk_json.read_text()).get("context", {}))
    if "CDK_CONTEXT_JSON" in env:
        context.update(json.loads(env["CDK_CONTEXT_JSON"]))
    context.setdefault("aws:cdk:enable-path-metadata", True)
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    command = app_command(app_dir, app)
    try:
        result = subprocess.run(  # noqa: S603 - the user's own app, as the CDK CLI would run it
            command, cwd=app_dir, env=env, capture_output=True, text=True, timeout=timeout, check=False,
            shell=isinstance(command, str),
        )
    except FileNotFoundError as exc:
        raise SynthError(f"cannot run the app in {app_dir}: {exc}", "") from None
    if result.returncode != 0:
        last = next((line for line in reversed(result.stderr.splitlines()) if line.strip()), "no output")
        shown = command if isinstance(command, str) else " ".join(command)
        raise SynthError(f"synthesizing {shown!r} in {app_dir} failed (exit {result.returncode}): {last.strip()}",
                         result.stderr)
    if not (Path(outdir) / "manifest.json").is_file():
        raise SynthError(f"the app in {app_dir} wrote no cloud assembly to {outdir} (does it call app.synth()?)",
                         result.stderr)
    return Path(outdir)
