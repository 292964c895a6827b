"""Bundled Lambda code is found from the package's own location only (issue 10, finding 6).

With ``pip install --target DIR`` the package is ``DIR/cdk_event_pipeline``; the library used
to prefer ``DIR/../lambdas`` (meant for a source checkout) and so shipped the user's own
``lambdas/`` folder as its runtime layer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cdk_event_pipeline._assets import DISTRIBUTION_NAME, find_lambdas_root, lambdas_root
from tests.external._support import ROOT, Dist, clean_env, run


def make_decoy_project(root: Path, name: str = "payments") -> Path:
    """A user's project with its own pyproject.toml and a ``lambdas/runtime`` folder."""
    (root / "lambdas" / "runtime" / "python").mkdir(parents=True)
    (root / "lambdas" / "runtime" / "python" / "payments_layer.py").write_text("SECRET = 'not for the runtime layer'\n")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1.0"\n')
    return root


def make_installed_package(site: Path) -> Path:
    package = site / "cdk_event_pipeline"
    (package / "lambdas" / "runtime" / "python" / "event_pipeline_runtime").mkdir(parents=True)
    return package


def test_this_checkout_uses_its_own_lambdas_directory() -> None:
    # The editable install also copied a stale lambdas/ into site-packages: the checkout wins.
    assert lambdas_root() == ROOT / "lambdas"


@pytest.mark.parametrize("target", ["deps", "constructs"])
def test_a_target_install_ignores_the_users_lambdas_folder(tmp_path: Path, target: str) -> None:
    project = make_decoy_project(tmp_path / "payments")
    package = make_installed_package(project / target)
    assert find_lambdas_root(package) == package / "lambdas"


def test_a_checkout_is_recognised_by_name_layout_and_code(tmp_path: Path) -> None:
    checkout = make_decoy_project(tmp_path / "repo", name=DISTRIBUTION_NAME)
    package = checkout / "constructs" / "cdk_event_pipeline"
    package.mkdir(parents=True)
    assert find_lambdas_root(package) == checkout / "lambdas"
    # the same tree with the package anywhere but constructs/ is not a checkout
    other = checkout / "src" / "cdk_event_pipeline"
    other.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"expected .*src/cdk_event_pipeline/lambdas \(an installed wheel\)"):
        find_lambdas_root(other)


def test_an_unreadable_pyproject_is_not_a_checkout(tmp_path: Path) -> None:
    checkout = make_decoy_project(tmp_path / "repo")
    (checkout / "pyproject.toml").write_text("[project\nname = ")
    package = make_installed_package(checkout / "constructs")
    assert find_lambdas_root(package) == package / "lambdas"


def test_pip_install_target_next_to_a_lambdas_folder(tmp_path: Path, dist: Dist) -> None:
    """The real layout: ``pip install --target deps`` of the wheel in a project that has its own
    ``lambdas/runtime``; the runtime layer's code comes from the installed wheel."""
    project = make_decoy_project(tmp_path / "payments")
    target = project / "deps"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check",
         "--target", str(target), str(dist.wheel)], cwd=project)
    out = run([sys.executable, "-c", (
        "import json, cdk_event_pipeline\n"
        "from cdk_event_pipeline._assets import lambda_dir, lambdas_root\n"
        "print(json.dumps({'package': cdk_event_pipeline.__file__, 'root': str(lambdas_root()),\n"
        "                  'runtime': str(lambda_dir('runtime'))}))"
    )], cwd=project, env=clean_env(PYTHONPATH=str(target)))
    found = json.loads(out)
    assert found["package"] == str(target / "cdk_event_pipeline" / "__init__.py")
    assert found["root"] == str(target / "cdk_event_pipeline" / "lambdas")
    runtime = Path(found["runtime"])
    assert (runtime / "python" / "event_pipeline_runtime" / "__init__.py").is_file()
    assert not (runtime / "python" / "payments_layer.py").exists()
