"""Run a Python script with the garbage collector's thresholds from ``GCT`` and, with ``GCSTATS=1``,
print how many collections ran and how long they took in all (to stderr, at exit).

    GCT=50000,20,100 GCSTATS=1 .venv/bin/python benchmarks/gc_wrap.py benchmarks/local_orders.py \
        --child fast --orders 10000 --cdk-out cdk.out
"""

from __future__ import annotations

import atexit
import gc
import os
import runpy
import sys
import time

if os.environ.get("GCT"):
    gc.set_threshold(*(int(part) for part in os.environ["GCT"].split(",")))
if os.environ.get("GCSTATS"):
    totals = {"collections": 0, "seconds": 0.0}
    started = [0.0]

    def _timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            totals["collections"] += 1
            totals["seconds"] += time.perf_counter() - started[0]

    gc.callbacks.append(_timed)
    atexit.register(lambda: print(f"GC {totals} thresholds {gc.get_threshold()}", file=sys.stderr))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
