"""The one place that finds Lambda code: in the source tree, or inside the installed wheel.

Bundled code (the runtime layer, the reference handlers) is located from this package's own
location and nowhere else, never from the current directory or a sibling of the install
directory:

* **Installed wheel** (``pip install``, ``pip install --target DIR``, ``--prefix``, a zipapp
  unpacked on disk): the wheel carries the code as ``cdk_event_pipeline/lambdas``, right next to
  this file.
* **Source checkout** (``pip install -e .``, or ``constructs/`` put on ``sys.path``): this file
  is ``<repo>/constructs/cdk_event_pipeline/_assets.py`` and the code is ``<repo>/lambdas``. The
  checkout is recognised only when all three hold: this package's parent directory is named
  ``constructs``, ``<repo>/pyproject.toml`` declares ``name = "cdk-event-pipeline"``, and
  ``<repo>/lambdas/runtime`` exists. A user's own ``lambdas/`` folder two levels above an
  install directory (``pip install --target build/deps`` in a project that has ``lambdas/``)
  fails the first two checks, so it can never be shipped as the runtime layer.

The checkout wins when both exist: an editable install also leaves a stale copy of ``lambdas/``
in site-packages (hatchling force-includes it into the editable wheel), but that copy is not
next to the package that Python imports, which is the one in the checkout.

Why not ``importlib.metadata``'s ``direct_url.json`` (``dir_info.editable``)? It exists only
for an editable *install*; ``python app.py`` with ``constructs/`` on ``PYTHONPATH``, or a copy
of the checkout, has none, and a stale one survives moving the checkout. The path of the file
being executed cannot go stale.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

_PACKAGE_DIR = Path(__file__).resolve().parent
#: The distribution name a checkout's pyproject.toml must declare to be recognised as ours.
DISTRIBUTION_NAME = "cdk-event-pipeline"
#: Never part of an asset: they change its hash between machines and runs.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.DS_Store"]


def _source_tree_lambdas(package_dir: Path) -> Path | None:
    """``<repo>/lambdas`` when ``package_dir`` is ``<repo>/constructs/cdk_event_pipeline`` of
    this project's checkout, else None (see the module docstring for the three checks)."""
    if package_dir.parent.name != "constructs":
        return None
    root = package_dir.parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(project, dict) or project.get("name") != DISTRIBUTION_NAME:
        return None
    candidate = root / "lambdas"
    return candidate if (candidate / "runtime").is_dir() else None


def find_lambdas_root(package_dir: Path) -> Path:
    """Directory holding the Lambda code directories for a package installed at
    ``package_dir``: the checkout's ``lambdas/``, else the wheel's ``<package_dir>/lambdas``.

    Raises:
        FileNotFoundError: neither exists (a broken install), naming both places looked at.
    """
    source = _source_tree_lambdas(package_dir)
    if source is not None:
        return source
    in_package = package_dir / "lambdas"
    if (in_package / "runtime").is_dir():
        return in_package
    raise FileNotFoundError(
        f"cdk_event_pipeline cannot find its Lambda code: expected {in_package} (an installed "
        f"wheel) or {package_dir.parent.parent / 'lambdas'} (a {DISTRIBUTION_NAME} checkout, "
        "with the package in constructs/); reinstall the package"
    )


@lru_cache(maxsize=1)
def lambdas_root() -> Path:
    """Directory holding the library's Lambda code directories (``runtime``, ``audit``, ...)."""
    return find_lambdas_root(_PACKAGE_DIR)


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
