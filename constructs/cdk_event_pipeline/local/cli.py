"""``event-pipeline local``: deploy a synthesized stack on a local endpoint and run its mappings.

Without ``--endpoint-url`` a moto server is started on 127.0.0.1 for the run. ``--demo``
runs the reference system's story (:mod:`.demo`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register the ``local`` subcommand."""
    local = commands.add_parser(
        "local", parents=parents, help="run the synthesized pipeline locally on a moto endpoint",
        description="Create the stack's streams, queues, tables and buckets on a local endpoint, load each "
        "function's handler from cdk.out, and run every event source mapping with Lambda's semantics "
        "(batching, bisect, retries, record age, partial batch responses, on-failure destinations).",
    )
    source = local.add_mutually_exclusive_group()
    source.add_argument("--cdk-out", metavar="DIR", help="an existing cloud assembly (default: synthesize)")
    local.add_argument("--app-dir", default=".", metavar="DIR", help="project root with app.py (default: .)")
    local.add_argument("--stack", help="stack name when the assembly has several")
    local.add_argument("--demo", action="store_true", help="run the reference system's story")
    local.add_argument("--max-rounds", type=int, default=10000, help="polling rounds at most (default: %(default)s)")
    return local


def start_moto() -> tuple[Any, str]:
    """Start a moto server on 127.0.0.1 (an ephemeral port)."""
    import logging  # noqa: PLC0415

    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - only when no endpoint is given

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return the exit code."""
    from .assembly import synthesize  # noqa: PLC0415
    from .runner import LocalRunner  # noqa: PLC0415

    server, endpoint = (None, args.endpoint_url) if args.endpoint_url else start_moto()
    try:
        with tempfile.TemporaryDirectory(prefix="cdk.out.local.") as tmp:
            outdir = Path(args.cdk_out) if args.cdk_out else synthesize(args.app_dir, tmp)
            if args.demo:
                from .demo import run_demo  # noqa: PLC0415

                return run_demo(outdir, endpoint, region=args.region or "us-east-1", stack=args.stack)
            runner = LocalRunner.from_assembly(outdir, args.stack, endpoint_url=endpoint,
                                               region=args.region or "us-east-1").deploy()
            for note in runner.notes:
                print(f"note: {note}")
            stats = runner.run(max_rounds=args.max_rounds)
            for event in runner.log.events:
                print(json.dumps(event.to_json(), default=str) if args.json else f"{event.kind:<10} {event.mapping} {event.detail}")
            print(f"{stats.invocations} invocations in {stats.rounds} rounds; idle={stats.idle}")
            return 0
    finally:
        if server is not None:
            server.stop()
