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
import statistics
import sys
import tempfile
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
    children = {child for n in profile["nodes"] for child in n.get("children", [])}
    category: dict[int, str] = {}
    pending = [(node_id, "rest") for node_id in nodes if node_id not in children]  # the root(s), top down
    while pending:
        node_id, above = pending.pop()
        frame = nodes[node_id]["callFrame"]
        own = [name for name, fn, url in CATEGORIES if frame["functionName"] == fn and url in frame["url"]]
        category[node_id] = min(own + [above], key=NAMES.index)
        pending += [(child, category[node_id]) for child in nodes[node_id].get("children", [])]
    spent: collections.Counter[str] = collections.Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        spent[category[node_id]] += delta / 1000
    return {name: spent[name] for name in NAMES}


def kernel_profile(directory: Path) -> dict[str, Any]:
    """The jsii kernel's profile: jsii's runtime host starts the kernel as a second node process."""
    for path in sorted(directory.glob("*.cpuprofile"), key=lambda p: p.stat().st_size, reverse=True):
        profile = json.loads(path.read_text())
        if any(n["callFrame"]["functionName"] == "processRequest" for n in profile["nodes"]):
            return profile
    raise SystemExit(f"no jsii kernel profile in {directory}")


def sample(kind: str, floors: dict[str, str], wrapper: Path, directory: Path) -> tuple[float, dict[str, float]]:
    """One child of ``synth_ratio.py`` under the profiler (writing to ``directory``): its wall time and split."""
    elapsed, _ = synth_ratio.sample(synth_ratio.Run(kind, kind, jsii_node=wrapper), floors)
    parts = split(kernel_profile(directory))
    for written in directory.glob("*.cpuprofile"):
        written.unlink()
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
    directory = Path(tempfile.mkdtemp(prefix="node-profile-"))
    wrapper = synth_ratio.node_wrapper(f'--cpu-prof --cpu-prof-dir="{directory}"')
    floors = synth_ratio.floor_templates(kinds)
    walls: dict[str, list[float]] = {k: [] for k in kinds}
    parts: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            elapsed, split_ms = sample(kind, floors, wrapper, directory)
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
