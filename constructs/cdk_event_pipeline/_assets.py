"""The one place that finds Lambda code: in the source tree, or inside the installed wheel.

From a checkout (``pip install -e .`` or ``python app.py`` at the repository root) the code is
``<repo>/lambdas``; an installed wheel carries it as ``cdk_event_pipeline/lambdas``. The source
tree wins when both exist, because an editable install also leaves a stale copy in
site-packages.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

_PACKAGE_DIR = Path(__file__).resolve().parent
#: Never part of an asset: they change its hash between machines and runs.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.DS_Store"]


@lru_cache(maxsize=1)
def lambdas_root() -> Path:
    """Directory holding the Lambda code directories (``runtime``, ``audit``, ...)."""
    for candidate in (_PACKAGE_DIR.parent.parent / "lambdas", _PACKAGE_DIR / "lambdas"):
        if (candidate / "runtime").is_dir():
            return candidate
    raise FileNotFoundError(
        "cdk_event_pipeline cannot find its Lambda code: expected <repo>/lambdas or "
        f"{_PACKAGE_DIR / 'lambdas'} (reinstall the package)"
    )


def lambda_dir(name: str) -> Path:
    """Path of one Lambda code directory, e.g. ``lambda_dir('audit')``."""
    path = lambdas_root() / name
    if not path.is_dir():
        raise FileNotFoundError(f"no Lambda code directory named {name!r} under {lambdas_root()}")
    return path


def code_from_dir(path: str | Path) -> lambda_.Code:
    """``Code.from_asset`` with the excludes that keep asset hashes stable across machines."""
    return lambda_.Code.from_asset(str(path), exclude=ASSET_EXCLUDES)


def bundled_code(name: str) -> lambda_.Code:
    """Code of one of the library's own Lambda directories (reference handlers, runtime layer)."""
    return code_from_dir(lambda_dir(name))
