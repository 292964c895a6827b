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
- ``reference`` over ``reference-l1``: the same for the reference app (its template as plain L1,
  the same rule packs on), and ``reference-l1`` over ``empty``: how close 1.6x the floor already is.
- ``reference-engine-first`` over ``reference``: the same app with aws-cdk-lib's validation engine
  (``CloudFormationValidatePlugin``, default rules) created before the stacks and registered in
  place of the one synth creates: what starting the engine in a small Node heap saves.

Each child also reports its jsii round trips (requests Python sent to jsii's Node process).

    make bench-synth                    # the venv with Solutions Constructs, then --rounds 7
    .venv/bench/bin/python benchmarks/synth_ratio.py [--rounds 7] [--kinds empty,reference]

With ``--baseline DIR`` (a source tree of an earlier commit: ``git archive <commit> | tar -x -C DIR``)
the library's kinds (``reference``, ``system-library``) are also sampled from that tree, in the same
rounds, as ``<kind>@base``: before/after figures from one interleaved run. With ``--node-flags "..."``
every kind is also sampled with jsii's node process started with those flags, as ``<kind>+flags``
(e.g. ``--single-threaded-gc``: what V8's own settings do to the same synth).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("empty", "reference", "system-library", "system-sc", "system-l1", "reference-l1", "reference-engine-first")
RATIOS = (("reference", "empty"), ("system-library", "system-sc"), ("system-library", "system-l1"),
          ("reference", "reference-l1"), ("system-sc", "empty"), ("system-l1", "empty"), ("reference-l1", "empty"),
          ("reference-engine-first", "reference"))


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
    elif kind == "reference-engine-first":  # the validation engine started before the stacks are built
        import app as reference

        app = cdk.App(context=context)
        plugin = cdk.CloudFormationValidatePlugin()  # the default rules, registered in place of the singleton
        reference.build_app(app)
        cdk.Validations.of(app).add_plugins(plugin)
    else:
        app = system_apps.build(kind, context, floor_template)
    assembly = app.synth()
    resources = sum(system_apps.resource_count(s.template) for s in assembly.stacks)
    print(json.dumps({"round_trips": counter.total, "resources": resources}))


#: The kinds built by the library, sampled from the baseline tree too with ``--baseline``.
LIBRARY_KINDS = ("reference", "system-library")


class Run(NamedTuple):
    """One series of samples: a kind, from this tree or a baseline's, under the default node or a wrapper."""

    name: str
    kind: str
    baseline: Path | None = None
    jsii_node: Path | None = None


def child_env(outdir: str) -> dict[str, str]:
    """A child's environment: its own cloud assembly directory, jsii's Node-version banners off."""
    return {**os.environ, "CDK_OUTDIR": outdir, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def sample(run: Run, floors: dict[str, str]) -> tuple[float, dict[str, int]]:
    env = child_env(tempfile.mkdtemp(prefix="bench-synth-"))
    script = __file__
    if run.baseline is not None:  # the baseline's package, app.py and system_apps.py, ahead of the editable install
        env["PYTHONPATH"] = os.pathsep.join(
            [str(run.baseline / "constructs"), str(run.baseline / "lambdas" / "runtime" / "python")])
        script = str(run.baseline / "benchmarks" / "synth_ratio.py")
    if run.jsii_node is not None:
        env["JSII_NODE"] = str(run.jsii_node)
    command = [sys.executable, script, "--child", run.kind, *floor_arguments(run.kind, floors)]
    start = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(out.strip().splitlines()[-1])


def node_wrapper(flags: str) -> Path:
    """A ``node`` that adds ``flags`` (shell words) to every start: what ``JSII_NODE`` runs jsii's kernel with.

    jsii's runtime host starts the kernel as a second node process with the host's own flags.
    """
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    wrapper = Path(tempfile.mkdtemp(prefix="bench-node-")) / "node"
    wrapper.write_text(f'#!/bin/sh\nexec "{node}" {flags} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--floor-template", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help="an earlier source tree to sample the library's kinds from too")
    parser.add_argument("--node-flags", help="also sample every kind with jsii's node started with these flags")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.floor_template)
        return
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}")
    floors = floor_templates(kinds)
    runs = [Run(k, k) for k in kinds]
    if args.baseline is not None:
        runs += [Run(f"{k}@base", k, baseline=args.baseline.resolve()) for k in kinds if k in LIBRARY_KINDS]
    if args.node_flags:
        wrapper = node_wrapper(args.node_flags)
        runs += [Run(f"{k}+flags", k, jsii_node=wrapper) for k in kinds]
    for run in runs:
        sample(run, floors)  # warm the OS file cache; not counted
    times: dict[str, list[float]] = {run.name: [] for run in runs}
    facts: dict[str, dict[str, int]] = {}
    for _ in range(args.rounds):
        for run in runs:
            elapsed, facts[run.name] = sample(run, floors)
            times[run.name].append(elapsed)
    report(times, facts, kinds)


def report(times: dict[str, list[float]], facts: dict[str, dict[str, int]], kinds: list[str]) -> None:
    """Each series' median, resources and round trips, then the ratios whose both sides were sampled."""
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, samples in times.items():
        listed = ", ".join(f"{x:.2f}" for x in samples)
        print(f"{name:19s} median {medians[name]:.2f} s  resources {facts[name]['resources']:3d}  "
              f"jsii round trips {facts[name]['round_trips']:5d}  (samples {listed})")
    ratios = list(RATIOS) + [(f"{a}@base", b) for a, b in RATIOS] + [(k, f"{k}@base") for k in LIBRARY_KINDS]
    ratios += [(f"{a}+flags", f"{b}+flags") for a, b in RATIOS] + [(f"{k}+flags", k) for k in kinds]
    for a, b in ratios:
        if a in medians and b in medians:
            print(f"ratio {a}/{b}: {medians[a] / medians[b]:.2f}x")


def floor_arguments(kind: str, floors: dict[str, str]) -> list[str]:
    """The child's command-line arguments naming the floor template ``kind`` reads, if it is a floor."""
    return ["--floor-template", floors[kind]] if kind in floors else []


def floor_templates(kinds: list[str]) -> dict[str, str]:
    """The template of each floor kind among ``kinds``, each synthesized once, before the samples."""
    from system_apps import FLOORS  # jsii-free at import: aws_cdk is imported inside its functions

    return {kind: str(_floor_template(kind)) for kind in kinds if kind in FLOORS}


def _floor_template(kind: str) -> Path:
    """The template ``kind`` reads back, synthesized in a child so this process stays jsii-free."""
    directory = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    code = ("import json, sys; from pathlib import Path; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/benchmarks'];"
            "import system_apps; ctx = json.loads(Path(sys.argv[1], 'cdk.json').read_text())['context'];"
            "print(system_apps.write_floor_template(sys.argv[3], ctx, Path(sys.argv[2])))")
    env = child_env(str(directory / "out"))
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(directory), kind], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
