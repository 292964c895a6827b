#!/usr/bin/env python3
"""Where an app's synth time goes: jsii round trips per phase and per library call site, and a cProfile.

A round trip is one request Python sends to jsii's Node process (create, get, set, invoke,
complete of a callback, ...); a callback is one request the Node process sends back into Python
(an aspect's ``visit``, a validation, a lazy value). Each round trip is attributed to the
innermost frame of the library (``cdk_event_pipeline``), of ``app.py`` or of the benchmark's own
apps on the Python stack.

    .venv/bin/python benchmarks/jsii_calls.py reference [--top 25] [--profile out.prof]
    .venv/bin/python benchmarks/jsii_calls.py system-library | system-sc | empty

Importable: :func:`install_counter` and :class:`Counter` are what ``synth_ratio.py``'s children
use to report their round trips.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_OWN = (str(ROOT / "constructs" / "cdk_event_pipeline"), str(ROOT / "app.py"), str(ROOT / "benchmarks"))


@dataclass
class Counter:
    """Round trips to jsii, by phase and by the library's innermost frame that caused them."""

    phase: str = "import"
    by_phase: collections.Counter[str] = field(default_factory=collections.Counter)
    by_site: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds_by_site: collections.Counter[str] = field(default_factory=collections.Counter)
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    callbacks: collections.Counter[str] = field(default_factory=collections.Counter)
    attribute: bool = True

    @property
    def total(self) -> int:
        return sum(self.by_phase.values())

    def site(self) -> str:
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(_OWN) and not name.endswith("jsii_calls.py"):
                rel = os.path.relpath(name, ROOT)
                return f"{rel}:{frame.f_code.co_name}"
            frame = frame.f_back  # type: ignore[assignment]
        return "(aws-cdk-lib / jsii only)"


def install_counter(attribute: bool = True) -> Counter:
    """Count every request sent to jsii's Node process from now on (and every callback into Python)."""
    import jsii._kernel as kernel
    from jsii._kernel.providers import process

    counter = Counter(attribute=attribute)
    send = process._NodeProcess.send

    def counted_send(self, request, response_type):  # type: ignore[no-untyped-def]
        counter.by_phase[counter.phase] += 1
        counter.by_kind[type(request).__name__] += 1
        if not counter.attribute:
            return send(self, request, response_type)
        site = counter.site()
        counter.by_site[site] += 1
        start = time.perf_counter()
        try:
            return send(self, request, response_type)
        finally:
            counter.seconds_by_site[site] += time.perf_counter() - start

    process._NodeProcess.send = counted_send  # type: ignore[method-assign]
    handle = kernel._handle_callback

    def counted_callback(k, callback):  # type: ignore[no-untyped-def]
        what = callback.invoke or callback.get or callback.set
        obj = kernel._reference_map.resolve_id(what.objref.ref) if what is not None else None
        counter.callbacks[f"{type(obj).__name__}.{callback.cookie}"] += 1
        return handle(k, callback)

    kernel._handle_callback = counted_callback
    return counter


def build(kind: str):  # type: ignore[no-untyped-def]
    """The app of ``kind``, built (not synthesized)."""
    import json

    import aws_cdk as cdk

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if kind == "empty":
        app = cdk.App(context=context)
        cdk.Stack(app, "Empty", analytics_reporting=True)
        return app
    if kind == "reference":
        import app as reference

        return reference.build_app(cdk.App(context=context))
    import system_apps

    return system_apps.build(kind, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["reference", "empty", "system-library", "system-sc", "system-l1"])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--profile", help="write a cProfile of build + synth to this file")
    args = parser.parse_args()
    os.environ.setdefault("CDK_OUTDIR", "/tmp/jsii-calls-out")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    t0 = time.perf_counter()
    import aws_cdk  # noqa: F401  (starts jsii's Node process)

    counter = install_counter()
    t1 = time.perf_counter()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    counter.phase = "build"
    app = build(args.kind)
    t2 = time.perf_counter()
    counter.phase = "synth"
    app.synth()
    t3 = time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(f"import {t1 - t0:.2f} s, build {t2 - t1:.2f} s, synth {t3 - t2:.2f} s")
    print(f"jsii round trips: {counter.total} ({dict(counter.by_phase)})")
    print(f"by request: {dict(counter.by_kind.most_common())}")
    print(f"callbacks into Python: {sum(counter.callbacks.values())}")
    for name, n in counter.callbacks.most_common(args.top):
        print(f"  {n:6d}  {name}")
    print("round trips by call site:")
    for name, n in counter.by_site.most_common(args.top):
        print(f"  {n:6d}  {counter.seconds_by_site[name]:6.3f} s  {name}")


if __name__ == "__main__":
    main()
