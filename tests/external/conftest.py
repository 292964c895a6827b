"""Fixtures for the tests that use the library the way another team does: from a built wheel.

* ``dist``: an sdist built from this working tree, and a wheel built **from that sdist** (in a
  directory outside the repository), both with ``python -m build --no-isolation`` (the build
  backend is a dev dependency, so no download). Once per session.
* ``fresh_venv``: a new virtual environment outside the repository with the wheel and its
  ``[runtime,local,nag]`` extras installed by pip (what the README's tests need). Once per session.

How the fresh venv stays fast and honest. Installing aws-cdk-lib and its dependencies into a
new venv costs ~37 s here even from pip's warm cache (measured: ``pip install
'<wheel>[runtime]' pytest syrupy``, 520 MB). Instead the venv gets the *third-party*
packages of this repository's venv through a ``.pth`` file pointing at a directory of symlinks
to them (every entry of the repo venv's site-packages **except** this project's own:
``cdk_event_pipeline*``, ``event_pipeline_runtime*``, the editable-install hooks and ``.pth``
files). Then ``pip install --no-index '<wheel>[runtime,local,nag]'`` installs the wheel into the
fresh venv and resolves every requirement, the extras included, against what is
importable there: a missing or conflicting dependency fails the install. ~1.6 s. The library
and ``event_pipeline_runtime`` can only come from the wheel; the tests assert it.

``tests/external/shipments`` is the other team's project; it is copied to a temporary
directory and run there, never collected from here.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from tests.external._support import PROJECT_FIXTURE, ROOT, Dist, FreshVenv, run

# The other team's project has its own pytest configuration and runs in its own venv.
collect_ignore = ["shipments"]

#: Entries of the repo venv's site-packages that belong to this project (not third-party).
_OWN = ("cdk_event_pipeline", "event_pipeline_runtime", "_editable_impl_", "__editable__")


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """sdist from the working tree, then the wheel from the unpacked sdist."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    (sdist,) = out.glob("*.tar.gz")
    unpacked = tmp_path_factory.mktemp("sdist-unpacked")
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = [p for p in unpacked.iterdir() if p.is_dir()]
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)], cwd=source)
    (wheel,) = out.glob("*.whl")
    return Dist(sdist=sdist, wheel=wheel)


def third_party_overlay(target: Path) -> Path:
    """A directory of symlinks to every third-party entry of this venv's site-packages."""
    target.mkdir()
    site_packages = Path(sysconfig.get_path("purelib"))
    for entry in site_packages.iterdir():
        if entry.name.startswith(_OWN) or entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, dist: Dist) -> FreshVenv:
    """A new venv outside the repository with ``<wheel>[runtime,local,nag]`` installed by pip."""
    base = tmp_path_factory.mktemp("fresh-venv")
    assert not base.resolve().is_relative_to(ROOT)
    root = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=base)
    python = root / "bin" / "python"
    site_packages = Path(run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=base
    ).strip())
    overlay = third_party_overlay(base / "third-party")
    (site_packages / "_third_party.pth").write_text(f"{overlay}\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
         "--disable-pip-version-check", "--no-input", f"{dist.wheel}[runtime,local,nag]"], cwd=base)
    return FreshVenv(root=root, python=python, site_packages=site_packages)


@pytest.fixture(scope="session")
def external_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the other team's project in a temporary directory (outside the repository)."""
    project = tmp_path_factory.mktemp("external") / "shipments"
    shutil.copytree(PROJECT_FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "cdk.out"))
    return project
