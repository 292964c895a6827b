"""Reading a synthesized cloud assembly (``cdk.out``), and synthesizing one without aws_cdk.

The assembly's ``manifest.json`` lists the stacks (artifacts of type
``aws:cloudformation:stack``) with their template file; each stack's asset manifest
(``<Stack>.assets.json``) maps an asset hash to its directory ``asset.<hash>``, which is
the hash the template's ``Code.S3Key`` / ``Content.S3Key`` (``<hash>.zip``) names.
"""

from __future__ import annotations

import json
import os
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
        stacks.append(StackTemplate(artifact.get("displayName", artifact_id), json.loads(template_path.read_text()), assets))
    if not stacks:
        raise AssemblyError(f"the cloud assembly at {root} has no CloudFormation stack")
    return stacks


def synthesize(app_dir: str | os.PathLike[str], outdir: str | os.PathLike[str], *, app: str = "app.py",
               python: str | None = None, timeout: float = 300) -> Path:
    """Synthesize a CDK app into ``outdir`` by running it (``python app.py`` with ``CDK_OUTDIR``).

    The app runs in its own process, so this package never imports aws_cdk.

    Args:
        app_dir: Directory to run the app in (the project root).
        outdir: The assembly directory to write.
        app: The app file. Default: ``app.py``.
        python: The interpreter. Default: this one.
        timeout: Seconds before giving up.

    Returns:
        ``outdir``.

    Raises:
        AssemblyError: The app failed.
    """
    env = dict(os.environ, CDK_OUTDIR=str(outdir))
    # The CDK CLI hands an app cdk.json's context (the feature flags) in CDK_CONTEXT_JSON; do
    # the same, or the local template would differ from what `cdk synth` / `cdk deploy` make.
    cdk_json = Path(app_dir) / "cdk.json"
    if cdk_json.is_file() and "CDK_CONTEXT_JSON" not in env:
        env["CDK_CONTEXT_JSON"] = json.dumps(json.loads(cdk_json.read_text()).get("context", {}))
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    result = subprocess.run(  # noqa: S603 - the project's own app
        [python or sys.executable, app], cwd=app_dir, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssemblyError(f"synthesizing {app} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return Path(outdir)
