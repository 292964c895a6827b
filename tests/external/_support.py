"""Helpers shared by the external-install tests (see conftest.py for the fixtures)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROJECT_FIXTURE = HERE / "shipments"

#: Variables that would leak this session's configuration into a child process.
_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CDK_CONTEXT_JSON", "CDK_OUTDIR", "PYTEST_ADDOPTS")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would steer a child Python, pytest or CDK app."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV and not k.startswith("PYTEST_")}
    env.update(extra)
    return env


def run(args: list[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command; fail the test with its whole output when it exits non-zero."""
    proc = subprocess.run(  # noqa: S603 - fixed argument lists
        args, cwd=cwd, env=dict(env) if env is not None else clean_env(), capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    if proc.returncode != 0:
        command = " ".join(map(str, args))
        pytest.fail(f"{command} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc.stdout


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class FreshVenv:
    root: Path
    python: Path
    site_packages: Path
