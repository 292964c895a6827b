#!/usr/bin/env python3
"""Where a synth's time goes on the Node side, measured with V8's CPU profiler, not by subtraction.

Each sample is one fresh child of ``synth_ratio.py`` (the same kinds, the same apps) whose jsii
kernel runs under ``node --cpu-prof`` (``JSII_NODE`` points at a wrapper that adds the flag). The
kernel's profile is split by what each sampled stack was doing, the first match in this order:

- ``engine start``: aws-cdk-lib's built-in template validation building its WebAssembly engine
  (``CloudFormationValidatePlugin``'s constructor, once per process);
- ``waiting for Python``: the kernel blocked reading the next request (Python running: imports,
  construct code, callbacks);
- ``template validation``: that engine validating the templates (``validateTemplate``);
- ``rule packs``: cdk-nag's packs walking the tree (``validateScope``), their module loads included;
- ``module loading``: Node loading aws-cdk-lib's (and cdk-nag's) JavaScript modules on first use;
- ``garbage collection``;
- ``synthesis``: the rest of ``app.synth()`` (``synthesize``: preparing, resolving, writing);
- ``construction``: ``create`` requests (L2 and L1 constructors);
- ``other requests``: method calls, property reads, callbacks' plumbing;
- ``rest``: Node's start-up and jsii's own bookkeeping.

The profiler adds a few percent; compare kinds within one run (they are interleaved).

    .venv/bench/bin/python benchmarks/node_profile.py [--rounds 3] [--kinds empty,reference,...]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]
import synth_ratio  # noqa: E402  (the kinds, their apps and the child entry point, once)

#: (category, function name, a piece of the script's URL), first match wins (see the module docstring).
CATEGORIES = (
    ("engine start", "CloudFormationValidatePlugin", "cloudformation-validate-plugin"),
    ("waiting for Python", "readLine", "program.js"),
    ("template validation", "validateTemplate", "cloudformation-validate"),
    ("rule packs", "validateScope", "cdk-nag"),
    ("module loading", "Module._load", "loader"),
    ("garbage collection", "(garbage collector)", ""),
    ("synthesis", "synthesize", "synthesis"),
    ("construction", "create", "program.js"),
    ("other requests", "processRequest", "program.js"),
)
NAMES = [name for name, _, _ in CATEGORIES] + ["rest"]


def split(profile: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of one ``.cpuprofile`` per category."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {child: n["id"] for n in profile["nodes"] for child in n.get("children", [])}
    category: dict[int, str] = {}

    def of(node_id: int) -> str:
        if node_id not in category:
            frame = nodes[node_id]["callFrame"]
            own = [name for name, fn, url in CATEGORIES if frame["functionName"] == fn and url in frame["url"]]
            up = of(parent[node_id]) if node_id in parent else "rest"
            ranks = [NAMES.index(c) for c in own + [up]]
            category[node_id] = NAMES[min(ranks)]
        return category[node_id]

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    spent: collections.Counter[str] = collections.Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        spent[of(node_id)] += delta / 1000
    return {name: spent[name] for name in NAMES}


def kernel_profile(directory: Path) -> dict[str, Any]:
    """The jsii kernel's profile: jsii's runtime host starts the kernel as a second node process."""
    for path in sorted(directory.glob("*.cpuprofile"), key=lambda p: p.stat().st_size, reverse=True):
        profile = json.loads(path.read_text())
        if any(n["callFrame"]["functionName"] == "processRequest" for n in profile["nodes"]):
            return profile
    raise SystemExit(f"no jsii kernel profile in {directory}")


def sample(kind: str, floors: dict[str, str], wrapper: Path) -> tuple[float, dict[str, float]]:
    """One child of ``synth_ratio.py`` under the profiler: its wall time and its Node-side split."""
    directory = Path(tempfile.mkdtemp(prefix="node-profile-"))
    env = {**os.environ, "JSII_NODE": str(wrapper), "NODE_PROFILE_DIR": str(directory),
           "CDK_OUTDIR": str(directory / "out"), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    command = [sys.executable, synth_ratio.__file__, "--child", kind, *synth_ratio.floor_arguments(kind, floors)]
    start = time.perf_counter()
    subprocess.run(command, cwd=synth_ratio.ROOT, env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    parts = split(kernel_profile(directory))
    shutil.rmtree(directory, ignore_errors=True)
    return elapsed, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(synth_ratio.KINDS))
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(synth_ratio.KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}")
    wrapper = synth_ratio.node_wrapper('--cpu-prof --cpu-prof-dir="$NODE_PROFILE_DIR"')
    floors = synth_ratio.floor_templates(kinds)
    walls: dict[str, list[float]] = {k: [] for k in kinds}
    parts: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            elapsed, split_ms = sample(kind, floors, wrapper)
            walls[kind].append(elapsed)
            parts[kind].append(split_ms)
    print(f"medians of {args.rounds} interleaved rounds, in ms")
    print("| category | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name in NAMES:
        row = [statistics.median(p[name] for p in parts[k]) for k in kinds]
        print(f"| {name} | " + " | ".join(f"{v:.0f}" for v in row) + " |")
    row = [statistics.median(sum(p.values()) for p in parts[k]) for k in kinds]
    print("| Node profile, total | " + " | ".join(f"{v:.0f}" for v in row) + " |")
    print("| wall (profiled) | " + " | ".join(f"{statistics.median(walls[k]) * 1000:.0f}" for k in kinds) + " |")


if __name__ == "__main__":
    main()
