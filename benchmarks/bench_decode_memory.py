"""Decode-memory benchmark: peak RSS of a consumer fed hostile records (not a test).

Run from the repository root:

    .venv/bin/python benchmarks/bench_decode_memory.py [--memory 128 256 512 1024] [--old DIR]

For each function memory size and each hostile Kinesis record of ``tests/runtime/memory_probe.py``
(gzip bombs, the costliest JSON just under the decode limit, deep nesting, a KPL aggregate of
bombs), one fresh interpreter that imports what a real handler imports (boto3 and a client,
Powertools, the runtime) decodes a batch ``[good, hostile, good]`` with ``pipeline_handler``
and reports its peak resident set size (``VmHWM``), plus one SQS batch of five failing
1 MiB messages (a failed record must not stay in memory). ``--old DIR`` measures another
runtime too (``DIR`` holds its ``event_pipeline_runtime`` package, e.g. extracted with
``git archive e7b8bbc lambdas/runtime | tar -x -C /tmp/old`` then
``--old /tmp/old/lambdas/runtime/python``), at 256 MB only. Each child caps its data segment
at 1 GiB (``RLIMIT_DATA``): a peak near 1,024 MiB means "would have used more" (a
``MemoryError`` failed the record).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(ROOT / "lambdas" / "runtime" / "python"))

from memory_probe import KINESIS_CASES, RUNTIME, derived_limit, run_probe, write_event  # noqa: E402

SQS_CASE = "sqs-failing-1m-x5"


def measure(memory_mb: int, runtime: Path, folder: Path) -> list[tuple[str, dict]]:
    rows = []
    for case in (*KINESIS_CASES, SQS_CASE):
        event = folder / f"{case}-{memory_mb}.json"
        source = write_event(event, memory_mb, (case,))
        rows.append((case, run_probe(event, source, memory_mb, runtime=runtime)))
    return rows


def outcome(case: str, result: dict) -> str:
    if case == SQS_CASE:
        return f"{len(result['failed'])} failed by the handler"
    if not result["failed"]:
        return "processed"
    reason = result["reasons"][0] if result["reasons"] else ""
    return "failed: " + (reason.split(": ", 1)[-1][:70] if reason else "MemoryError")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--old", type=Path, help="directory holding an older event_pipeline_runtime")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; peak RSS of a fresh handler process, MiB")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = [(memory, "this runtime", RUNTIME) for memory in args.memory]
        if args.old:
            runs.append((256, f"old ({args.old})", args.old))
        for memory, label, runtime in runs:
            limit = derived_limit(memory)
            print(f"\n{label}, {memory} MB function (decode limit {limit / 1024 / 1024:g} MiB):")
            print(f"  {'case':<30} {'before':>7} {'peak':>7} {'of memory':>9}  outcome")
            for case, result in measure(memory, runtime, folder):
                share = result["peak_mib"] / memory
                print(
                    f"  {case:<30} {result['before_mib']:7.1f} {result['peak_mib']:7.1f} {share:9.0%}  "
                    f"{outcome(case, result)}"
                )


if __name__ == "__main__":
    main()
