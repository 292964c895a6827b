"""docs/security.md's hostile-input table points at tests that exist.

Every row names the test that proves its outcome; a renamed or deleted test would leave the
row unproven. The table must also keep at least 40 rows across the API, the consumers, the
producer and the CLI (issue 9's acceptance).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
NODE_ID = re.compile(r"tests/[\w/]+\.py::[\w]+(?:\[[^\]]*\])?")


def _hostile_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Hostile inputs"):]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 4 and cells[0] not in ("area", "---"):
            rows.append(cells)
    return rows


def test_the_hostile_input_table_has_40_rows_across_api_consumers_producer_and_cli() -> None:
    areas = Counter(row[0].split()[0].lower() for row in _hostile_rows())
    assert sum(areas.values()) >= 40, areas
    for area in ("api", "consumer", "producer", "cli"):
        assert areas[area] >= 5, (area, areas)


def test_every_test_the_table_names_exists() -> None:
    named = {m.group(0) for row in _hostile_rows() for m in NODE_ID.finditer(row[-1])}
    assert len(named) >= 40
    files = sorted({node.split("::")[0] for node in named})
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    ids = set(collected.stdout.splitlines())
    functions = {node.split("[")[0] for node in ids}
    missing = sorted(node for node in named if node not in ids and node not in functions)
    assert not missing, f"docs/security.md names tests that do not exist: {missing}\n{collected.stderr[-2000:]}"
