"""``event-pipeline local``: run a CDK app's pipeline locally, feed it, and show what happened.

    event-pipeline local                                   # synthesize ./app.py (cdk.json's app), run
    event-pipeline local --cdk-out cdk.out --records events.jsonl
    event-pipeline local --put 'Orders={"sku": "A1"}' --send 'Jobs=hello' --write 'Stock={"sku": "A1", "n": 5}'
    event-pipeline local --demo                            # the reference system's story (make demo)

Without ``--endpoint-url`` a moto server is started in this process on 127.0.0.1 for the run,
and the handlers' AWS calls are answered in-process. Credentials are never needed: the runner
uses dummy ones for its own endpoint. A missing dependency, a missing assembly, an app that
fails to synthesize: one line on stderr (the app's own output first), no traceback.

``--records FILE`` reads JSON lines, one action each (``-`` = stdin)::

    {"stream": "Orders", "data": {"sku": "A1"}, "partition_key": "o-1"}
    {"queue": "Jobs", "body": "hello", "group_id": "g1"}
    {"table": "Stock", "item": {"sku": "A1", "n": 5}}
    {"function": "Api", "event": {"rawPath": "/items/1"}}

After the run it prints what each mapping did, what is in each dead-letter queue / failure
destination, and each table's item count (``--items`` prints the items). ``--json`` prints one
JSON object per line instead (``type``: ``note``, ``invoke``, ``mapping``, ``failure``,
``dead-letter``, ``table``, ``summary``). Exit code 0 when every mapping ran out of work, 1 when
``--max-invocations`` stopped it first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register the ``local`` subcommand."""
    local = commands.add_parser(
        "local", parents=parents, formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run a CDK app's pipeline locally on a moto endpoint, feed it, show what happened",
        description="Create the stack's streams, queues, tables and buckets on a local endpoint, load each "
        "Python function's handler from the cloud assembly, and run every event source mapping with Lambda's "
        "semantics (batching, bisect, retries, record age, partial batch responses, tumbling windows, filters, "
        "on-failure destinations). Feed it with --records / --put / --send / --write; see docs/local-runner.md.",
        epilog="records file (--records): JSON lines, each one of\n"
        '  {"stream": NAME, "data": ..., "partition_key": KEY}\n'
        '  {"queue": NAME, "body": ..., "group_id": GROUP}\n'
        '  {"table": NAME, "item": {...}}\n'
        '  {"function": NAME, "event": {...}}\n'
        "NAME: a construct path (Orders, Orders/Billing), logical id or physical name.\n\n"
        "exit codes: 0 every mapping ran out of work; 1 stopped by --max-invocations;\n"
        "2 bad command line; 4 no assembly / app failed to synthesize / missing dependency / unknown name",
    )
    source = local.add_mutually_exclusive_group()
    source.add_argument("--cdk-out", metavar="DIR", help="an existing cloud assembly (default: synthesize the app)")
    source.add_argument("--app-dir", metavar="DIR", help="the CDK app's directory (default: .)")
    local.add_argument("--stack", help="stack name when the assembly has several")
    local.add_argument("--records", metavar="FILE", action="append", default=[],
                       help="JSON-lines file of records / messages / items / invocations ('-' = stdin; repeatable)")
    local.add_argument("--put", metavar="STREAM=DATA", action="append", default=[],
                       help="put a record on a stream (DATA: JSON or text; repeatable)")
    local.add_argument("--partition-key", default="local", help="partition key for --put (default: %(default)s)")
    local.add_argument("--send", metavar="QUEUE=BODY", action="append", default=[],
                       help="send a message to a queue (repeatable)")
    local.add_argument("--write", metavar="TABLE=ITEM", action="append", default=[],
                       help="put an item (a JSON object) into a table (repeatable)")
    local.add_argument("--max-invocations", type=int, default=10000,
                       help="stop after this many invocations (default: %(default)s)")
    local.add_argument("--max-rounds", type=int, help=argparse.SUPPRESS)
    local.add_argument("--items", action="store_true", help="print every table's items, not only their count")
    local.add_argument("--invocations", action="store_true", help="print every invocation")
    local.add_argument("--demo", action="store_true", help="run the reference system's story (make demo)")
    return local


def _split(value: str, option: str) -> tuple[str, str]:
    from ..tools.errors import ExitCode, ToolError  # noqa: PLC0415

    name, sep, rest = value.partition("=")
    if not sep or not name:
        raise ToolError(f"{option} {value!r}: expected NAME=VALUE", ExitCode.USAGE)
    return name, rest


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _actions(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Everything to feed, in command-line order: --records files, then --put, --send, --write."""
    from ..tools.errors import ExitCode, ToolError  # noqa: PLC0415

    actions: list[dict[str, Any]] = []
    for path in args.records:
        lines = sys.stdin.read().splitlines() if path == "-" else Path(path).read_text().splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                action = json.loads(line)
            except ValueError as exc:
                raise ToolError(f"{path}:{number}: not JSON ({exc})", ExitCode.USAGE) from None
            if not isinstance(action, dict) or not ({"stream", "queue", "table", "function"} & set(action)):
                raise ToolError(f"{path}:{number}: expected an object with stream, queue, table or function",
                                ExitCode.USAGE)
            actions.append(action)
    for value in args.put:
        name, data = _split(value, "--put")
        actions.append({"stream": name, "data": _json_or_text(data), "partition_key": args.partition_key})
    for value in args.send:
        name, body = _split(value, "--send")
        actions.append({"queue": name, "body": body})
    for value in args.write:
        name, item = _split(value, "--write")
        parsed = _json_or_text(item)
        if not isinstance(parsed, dict):
            raise ToolError(f"--write {value!r}: the item must be a JSON object", ExitCode.USAGE)
        actions.append({"table": name, "item": parsed})
    return actions


def _feed(pipeline: Any, actions: list[dict[str, Any]]) -> None:
    for action in actions:
        if "stream" in action:
            pipeline.put_records(action["stream"], [action.get("data")],
                                 partition_key=str(action.get("partition_key") or "local"))
        elif "queue" in action:
            pipeline.send_messages(action["queue"], [action.get("body", "")], group_id=action.get("group_id"))
        elif "table" in action:
            pipeline.write_items(action["table"], [action.get("item") or {}])
        else:
            pipeline.runner.log.emit("info", "cli", action["function"], message="direct invocation")
            try:
                pipeline.invoke(action["function"], action.get("event") or {})
            except Exception:  # noqa: BLE001 - a function error is reported with the invocations
                pass


def _print(out: Any, json_mode: bool, kind: str, text: str, data: dict[str, Any]) -> None:
    if json_mode:
        print(json.dumps({"type": kind, **data}, default=str), file=out)
    else:
        print(text, file=out)


def _report(pipeline: Any, report: Any, args: argparse.Namespace, out: Any) -> None:
    json_mode = args.json
    if args.invocations or json_mode:
        for inv in pipeline.invocations():
            _print(out, json_mode, "invoke",
                   f"invoke    {inv.mapping}: {len(inv.records)} record(s) attempt {inv.attempt} -> {inv.outcome}"
                   + (f" ({inv.error})" if inv.error else ""),
                   {"mapping": inv.mapping, "function": inv.function, "outcome": inv.outcome, "error": inv.error,
                    "ids": inv.ids, "attempt": inv.attempt, "failed": inv.failed, "window": inv.window,
                    "final_window": inv.final_window})
    for mapping in report.mappings.values():
        _print(out, json_mode, "mapping", f"mapping   {mapping.line()}",
               {"mapping": mapping.mapping, "function": mapping.function, "source": mapping.source,
                "invocations": mapping.invocations, "ok": mapping.ok, "partial": mapping.partial,
                "errors": mapping.errors, "timeouts": mapping.timeouts, "records_sent": mapping.records_sent,
                "filtered": mapping.filtered, "discarded": dict(mapping.discarded)})
        if mapping.source != "sqs":
            failures = pipeline.failures(mapping.mapping)
            if failures:
                _print(out, json_mode, "failure", f"failures  {mapping.mapping}: {len(failures)} on-failure document(s)",
                       {"mapping": mapping.mapping, "count": len(failures), "documents": failures})
                if not json_mode:
                    for document in failures:
                        info = document.get("KinesisBatchInfo") or document.get("DDBStreamBatchInfo") or document
                        condition = document.get("requestContext", {}).get("condition")
                        print(f"          {condition}: shard {info.get('shardId')} "
                              f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')} "
                              f"({info.get('batchSize')} records)", file=out)
    for lid, resource in pipeline.runner.resources.items():
        if resource.type != "AWS::SQS::Queue" or "RedrivePolicy" not in (pipeline.runner.stack.resources[lid].get("Properties") or {}):
            continue
        dead = pipeline.dead_letters(lid)
        if dead:
            _print(out, json_mode, "dead-letter", f"dead      {pipeline.path(lid)}: {len(dead)} message(s) in its DLQ",
                   {"queue": pipeline.path(lid), "count": len(dead), "bodies": [m.body for m in dead]})
            if not json_mode:
                for message in dead:
                    print(f"          {message.message_id}: {message.body[:200]}", file=out)
    for lid, resource in pipeline.runner.resources.items():
        if resource.type not in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            continue
        items = pipeline.table_items(lid)
        _print(out, json_mode, "table", f"table     {pipeline.path(lid)}: {len(items)} item(s)",
               {"table": pipeline.path(lid), "count": len(items), **({"items": items} if args.items else {})})
        if args.items and not json_mode:
            for item in items:
                print(f"          {json.dumps(item, default=str)}", file=out)
    stats = report.stats
    _print(out, json_mode, "summary", f"{stats.invocations} invocations; idle={stats.idle}",
           {"invocations": stats.invocations, "idle": stats.idle})


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return the exit code."""
    from ..tools.errors import ExitCode, ToolError  # noqa: PLC0415
    from .assembly import AssemblyError, SynthError, synthesize  # noqa: PLC0415
    from .endpoint import LocalEndpoint  # noqa: PLC0415
    from .filters import UnsupportedPatternError  # noqa: PLC0415
    from .functions import HandlerStuckError  # noqa: PLC0415
    from .pipeline import LocalPipeline  # noqa: PLC0415

    actions = _actions(args)
    region = args.region or "us-east-1"
    endpoint: LocalEndpoint | str | None = args.endpoint_url
    try:
        if endpoint is None:
            endpoint = LocalEndpoint().start()
            endpoint.reset()  # a fresh process has nothing; in a shared one, start from nothing too
            # This process talks only to its own endpoint: the tools it calls need no real credentials.
            for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
                os.environ.setdefault(key, value)
        with tempfile.TemporaryDirectory(prefix="cdk.out.local.") as tmp:
            outdir = Path(args.cdk_out) if args.cdk_out else synthesize(args.app_dir or ".", tmp)
            if args.demo:
                from .demo import run_demo  # noqa: PLC0415

                url = endpoint.url if isinstance(endpoint, LocalEndpoint) else endpoint
                return run_demo(outdir, url, region=region, stack=args.stack)
            with LocalPipeline.from_assembly(outdir, stack=args.stack, endpoint=endpoint, region=region) as pipeline:
                for note in pipeline.notes():
                    _print(sys.stdout, args.json, "note", f"note: {note}", {"note": note})
                _feed(pipeline, actions)
                limit = args.max_rounds if args.max_rounds is not None else None
                report = pipeline.run(max_invocations=args.max_invocations, max_steps=limit)
                _report(pipeline, report, args, sys.stdout)
                return int(ExitCode.OK) if report.idle else int(ExitCode.NOT_DELIVERED)
    except SynthError as exc:
        if exc.stderr:
            sys.stderr.write(exc.stderr[-4000:])
        raise ToolError(str(exc), ExitCode.NOT_FOUND) from None
    except HandlerStuckError as exc:
        raise ToolError(str(exc), ExitCode.NOT_DELIVERED) from None
    except (AssemblyError, UnsupportedPatternError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise ToolError(str(message), ExitCode.NOT_FOUND) from None
    finally:
        if isinstance(endpoint, LocalEndpoint):
            endpoint.stop()
