"""Issue 19: benchmarks/node_profile.py splits a V8 CPU profile by the first category on each sampled stack.

The figures in docs/benchmarks.md rest on this split: a sample inside a module load inside a constructor
is module loading, one inside the engine's constructor is the engine however it got there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import node_profile  # noqa: E402

KERNEL = "file:///tmp/jsii-kernel-x/lib/program.js"
ENGINE = "file:///tmp/k/node_modules/aws-cdk-lib/core/lib/validation/cloudformation-validate-plugin.js"


def frame(node_id: int, name: str, url: str = "", children: tuple[int, ...] = ()) -> dict[str, Any]:
    return {"id": node_id, "callFrame": {"functionName": name, "url": url, "lineNumber": 0},
            "children": list(children)}


def profile(samples: dict[int, int]) -> dict[str, Any]:
    """root -> processRequest -> (create -> Module._load -> Ctor), readLine, engine -> Module._load; GC; root."""
    nodes = [
        frame(1, "(root)", children=(2, 9)),
        frame(2, "processRequest", KERNEL, (3, 6, 7)),
        frame(3, "create", KERNEL, (4,)),
        frame(4, "Module._load", "node:internal/modules/cjs/loader", (5,)),
        frame(5, "Function", "file:///tmp/k/node_modules/aws-cdk-lib/aws-lambda/lib/function.js"),
        frame(6, "readLine", KERNEL),
        frame(7, "CloudFormationValidatePlugin", ENGINE, (8,)),
        frame(8, "Module._load", "node:internal/modules/cjs/loader"),
        frame(9, "(garbage collector)"),
    ]
    return {"nodes": nodes, "samples": list(samples), "timeDeltas": list(samples.values())}


def test_each_sample_goes_to_the_first_category_on_its_stack() -> None:
    split = node_profile.split(profile({5: 1000, 3: 2000, 6: 3000, 8: 4000, 9: 5000, 1: 6000}))
    assert {name: ms for name, ms in split.items() if ms} == {
        "module loading": 1.0,  # a load inside a constructor
        "construction": 2.0,
        "waiting for Python": 3.0,
        "engine start": 4.0,  # a load inside the engine's constructor is the engine's
        "garbage collection": 5.0,
        "rest": 6.0,
    }
    assert list(split) == node_profile.NAMES


def test_a_profile_without_the_kernel_is_refused(tmp_path: Path) -> None:
    (tmp_path / "host.cpuprofile").write_text('{"nodes": [{"id": 1, "callFrame": {"functionName": "(root)", '
                                              '"url": "", "lineNumber": 0}}], "samples": [], "timeDeltas": []}')
    with pytest.raises(SystemExit, match="no jsii kernel profile"):
        node_profile.kernel_profile(tmp_path)
