"""The 10,000-order scenario through the local runner: wall and CPU time, per endpoint mode.

The scenario is the suite's ``tests/local/test_order_pipeline.py`` (the real reference app and
handlers, both order consumers idempotent, 1% poison, exactly-once checked by effects, then the
redrive tool after the fix), at ``--orders`` orders. Each mode runs in a fresh process, modes
interleaved round by round, so their ratio is measured under the same machine load:

* ``http``: the handlers' and the runner's AWS calls go over HTTP to the moto server (what the
  runner did before, and still does with ``--endpoint-url``);
* ``in-process``: the same calls answered by moto in this process (botocore hooks), no moto
  speed-ups;
* ``fast``: in-process plus the moto speed-ups (the ``local._moto`` adapter; the default);
* ``baseline``: ``fast`` as another checkout of the project does it (``--baseline DIR``, e.g. the
  commit before a change: ``git archive main constructs tests lambdas | tar -x -C DIR``); its
  library and its scenario are imported from ``DIR``, everything else (the app, the venv) is shared.

    .venv/bin/python benchmarks/local_orders.py --orders 10000 --modes fast,http --rounds 1
    .venv/bin/python benchmarks/local_orders.py --orders 10000 --modes fast --baseline /tmp/base --rounds 2

Prints one line per run and the medians' ratios (each mode against the last one listed, the
baseline last when given); ``--json`` for machine-readable lines.
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

ROOT = Path(__file__).resolve().parents[1]
MODES = {"http": {"in_process": False, "speedups": False}, "in-process": {"in_process": True, "speedups": False},
         "fast": {"in_process": True, "speedups": True}, "baseline": {"in_process": True, "speedups": True}}


def _one(mode: str, orders: int, cdk_out: str, root: Path = ROOT) -> dict[str, float]:
    """Run the scenario once in this process (library and scenario from ``root``); return its timings."""
    os.environ["LOCAL_RUNNER_ORDERS"] = str(orders)
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        os.environ.setdefault(key, value)
    sys.path[:0] = [str(root / "constructs"), str(root)]
    from cdk_event_pipeline.local import LocalEndpoint, LocalPipeline
    from tests.local.test_order_pipeline import run_scenario

    endpoint = LocalEndpoint(**MODES[mode]).start()
    cpu, wall = time.process_time(), time.perf_counter()
    with LocalPipeline.from_assembly(cdk_out, endpoint=endpoint, environment={
            "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}) as pipeline:
        timings = run_scenario(pipeline, endpoint.url)
    timings.update(total_seconds=time.perf_counter() - wall, cpu_seconds=time.process_time() - cpu)
    endpoint.stop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--modes", default="fast,http", help="comma-separated: " + ", ".join(MODES))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cdk-out", help="a synthesized reference app (default: synthesize app.py once)")
    parser.add_argument("--baseline", type=Path, help="a checkout to compare with (adds the mode 'baseline')")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        timings = _one(args.child, args.orders, args.cdk_out, args.root)
        print(json.dumps(timings))
        return
    modes = [m for m in args.modes.split(",") if m != "baseline"] + (["baseline"] if args.baseline else [])
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown mode(s) {unknown}: choose from {sorted(MODES)}")
    with tempfile.TemporaryDirectory(prefix="cdk.out.bench.") as tmp:
        cdk_out = args.cdk_out
        if cdk_out is None:
            sys.path.insert(0, str(ROOT))
            from cdk_event_pipeline.local import synthesize

            cdk_out = str(synthesize(ROOT, tmp))
        results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                load = os.getloadavg()[0]
                root = args.baseline.resolve() if mode == "baseline" else ROOT
                child = subprocess.run(  # noqa: S603 - this script, in a fresh interpreter
                    [sys.executable, __file__, "--child", mode, "--orders", str(args.orders), "--cdk-out", cdk_out,
                     "--root", str(root)],
                    capture_output=True, text=True, check=True, cwd=ROOT)
                timings = json.loads(child.stdout.strip().splitlines()[-1])
                timings["load_before"] = load
                timings["load_after"] = os.getloadavg()[0]
                results[mode].append(timings)
                line = {"mode": mode, "orders": args.orders, **{k: round(v, 2) for k, v in timings.items()}}
                print(json.dumps(line) if args.json else
                      f"{mode:<10} {args.orders} orders: consumed in {timings['consume_seconds']:.1f} s wall, "
                      f"redrive {timings['redrive_seconds']:.1f} s, total {timings['total_seconds']:.1f} s wall / "
                      f"{timings['cpu_seconds']:.1f} s CPU, {int(timings['invocations'])} invocations "
                      f"(load {load:.1f} -> {timings['load_after']:.1f})", flush=True)
        if len(modes) > 1:
            base = modes[-1]
            for mode in modes[:-1]:
                for key in ("consume_seconds", "total_seconds", "cpu_seconds"):
                    before = statistics.median(r[key] for r in results[base])
                    ratio = before / statistics.median(r[key] for r in results[mode])
                    print(f"{mode} vs {base}: {ratio:.2f}x less {key.replace('_seconds', '')} time")


if __name__ == "__main__":
    main()
