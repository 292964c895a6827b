"""The console script's home (cdk_event_pipeline.cli) and the old import path of its main."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cdk_event_pipeline import cli


@pytest.mark.parametrize("name", ["main", "build_parser"])
def test_old_import_path_still_works_with_a_deprecation_warning(name: str) -> None:
    from cdk_event_pipeline.tools import cli as tools_cli

    with pytest.warns(DeprecationWarning, match=f"tools.cli.{name} moved: import it from cdk_event_pipeline.cli"):
        moved = getattr(tools_cli, name)
    assert moved is getattr(cli, name)


def test_other_missing_names_are_still_attribute_errors() -> None:
    from cdk_event_pipeline.tools import cli as tools_cli

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tools_cli.nope  # noqa: B018


def test_every_subcommand_is_registered_in_help_order() -> None:
    parser = cli.build_parser()
    help_text = parser.format_help()
    positions = [help_text.index(f"    {command}") for command in ("replay", "redrive", "tail", "local")]
    assert positions == sorted(positions)


def test_python_dash_m_runs_the_console_script_without_a_warning() -> None:
    done = subprocess.run([sys.executable, "-m", "cdk_event_pipeline.tools", "bogus"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == ("event-pipeline: error: argument COMMAND: invalid choice: 'bogus' (choose from "
                           "'replay', 'redrive', 'tail', 'local') (see 'event-pipeline --help')\n")
    assert done.stdout == ""
