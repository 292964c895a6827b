#!/usr/bin/env python3
"""Synth cost, as ratios measured in one interleaved run.

Each sample is a fresh Python process that imports aws_cdk, builds one app and synthesizes it (what
``cdk synth`` and a test session pay). The kinds are interleaved round by round, so machine load
affects them alike; medians are compared:

- ``reference`` over ``empty``: the reference app (``app.py``, cdk-nag included, as users run it)
  over an empty App + Stack.
- ``system-library`` over ``system-sc``: the like-for-like system (``system_apps.py``) built with
  this library vs with AWS Solutions Constructs.
- ``system-library`` over ``system-l1``: the library over the floor, its own template as plain L1.

Each child also reports its jsii round trips (requests Python sent to jsii's Node process).

    make bench-synth                    # the venv with Solutions Constructs, then --rounds 7
    .venv/bench/bin/python benchmarks/synth_ratio.py [--rounds 7] [--kinds empty,reference]

With ``--baseline DIR`` (a source tree of an earlier commit: ``git archive <commit> | tar -x -C DIR``)
the library's kinds (``reference``, ``system-library``) are also sampled from that tree, in the same
rounds, as ``<kind>@base``: before/after figures from one interleaved run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("empty", "reference", "system-library", "system-sc", "system-l1")
RATIOS = (("reference", "empty"), ("system-library", "system-sc"), ("system-library", "system-l1"),
          ("system-sc", "empty"), ("system-l1", "empty"))


def child(kind: str, floor_template: str | None) -> None:
    """One sample: build and synthesize ``kind``; print the round trips and resource count as JSON."""
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    import aws_cdk as cdk
    import system_apps
    from jsii_calls import install_counter

    counter = install_counter(attribute=False)
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if kind == "empty":
        app = cdk.App(context=context)
        cdk.Stack(app, "Empty", analytics_reporting=True)  # CDKMetadata: an empty Resources section fails validation
    elif kind == "reference":
        import app as reference

        app = reference.build_app(cdk.App(context=context))
    else:
        app = system_apps.build(kind, context, floor_template)
    assembly = app.synth()
    resources = sum(system_apps.resource_count(s.template) for s in assembly.stacks)
    print(json.dumps({"round_trips": counter.total, "resources": resources}))


#: The kinds built by the library, sampled from the baseline tree too with ``--baseline``.
LIBRARY_KINDS = ("reference", "system-library")


def sample(kind: str, floor_template: str | None, baseline: Path | None = None) -> tuple[float, dict[str, int]]:
    env = {**os.environ, "CDK_OUTDIR": tempfile.mkdtemp(prefix="bench-synth-"),
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    script = __file__
    if baseline is not None:  # the baseline's package, app.py and system_apps.py, ahead of the editable install
        env["PYTHONPATH"] = os.pathsep.join(
            [str(baseline / "constructs"), str(baseline / "lambdas" / "runtime" / "python")])
        script = str(baseline / "benchmarks" / "synth_ratio.py")
    command = [sys.executable, script, "--child", kind]
    if floor_template:
        command += ["--floor-template", floor_template]
    start = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--floor-template", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help="an earlier source tree to sample the library's kinds from too")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.floor_template)
        return
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}")
    floor = None
    if "system-l1" in kinds:
        floor = str(_floor_template())
    runs = [(k, k, None) for k in kinds]
    if args.baseline is not None:
        runs += [(f"{k}@base", k, args.baseline.resolve()) for k in kinds if k in LIBRARY_KINDS]
    for _, kind, base in runs:
        sample(kind, floor, base)  # warm the OS file cache; not counted
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    facts: dict[str, dict[str, int]] = {}
    for _ in range(args.rounds):
        for name, kind, base in runs:
            elapsed, facts[name] = sample(kind, floor, base)
            times[name].append(elapsed)
    kinds = [name for name, _, _ in runs]
    medians = {k: statistics.median(v) for k, v in times.items()}
    for kind in kinds:
        samples = ", ".join(f"{x:.2f}" for x in times[kind])
        print(f"{kind:15s} median {medians[kind]:.2f} s  resources {facts[kind]['resources']:3d}  "
              f"jsii round trips {facts[kind]['round_trips']:5d}  (samples {samples})")
    ratios = list(RATIOS) + [(f"{a}@base", b) for a, b in RATIOS] + [(k, f"{k}@base") for k in LIBRARY_KINDS]
    for a, b in ratios:
        if a in medians and b in medians:
            print(f"ratio {a}/{b}: {medians[a] / medians[b]:.2f}x")


def _floor_template() -> Path:
    """The library-built system's template, synthesized in a child so this process stays jsii-free."""
    directory = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    code = ("import json, sys; from pathlib import Path; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/benchmarks'];"
            "import system_apps; ctx = json.loads(Path(sys.argv[1], 'cdk.json').read_text())['context'];"
            "print(system_apps.write_floor_template(ctx, Path(sys.argv[2])))")
    env = {**os.environ, "CDK_OUTDIR": str(directory / "out"), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(directory)], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
