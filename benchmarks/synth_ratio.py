#!/usr/bin/env python3
"""Synth cost of the reference app relative to an empty App + Stack, measured in one run.

Each sample is a fresh Python process (what `cdk synth` and a test session pay), the two kinds
interleaved so machine load affects both alike. Prints the medians and their ratio.

    .venv/bin/python benchmarks/synth_ratio.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EMPTY = """
import json, aws_cdk as cdk
ctx = json.load(open('cdk.json'))['context']
app = cdk.App(context=ctx)
cdk.Stack(app, 'Empty', analytics_reporting=True)  # CDKMetadata: an empty Resources section fails validation
app.synth()
"""

REFERENCE = """
import json, aws_cdk as cdk, app as reference
ctx = json.load(open('cdk.json'))['context']
reference.build_app(cdk.App(context=ctx)).synth()
"""


def run(code: str) -> float:
    env = {**os.environ, "CDK_OUTDIR": tempfile.mkdtemp(prefix="bench-synth-"),
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    run(EMPTY)  # warm the OS file cache; not counted
    empty, reference = [], []
    for _ in range(args.rounds):
        empty.append(run(EMPTY))
        reference.append(run(REFERENCE))
    e, r = statistics.median(empty), statistics.median(reference)
    print(f"empty App+Stack synth : median {e:.2f} s  (samples {', '.join(f'{x:.2f}' for x in empty)})")
    print(f"reference app synth   : median {r:.2f} s  (samples {', '.join(f'{x:.2f}' for x in reference)})")
    print(f"ratio reference/empty : {r / e:.2f}x")


if __name__ == "__main__":
    main()
