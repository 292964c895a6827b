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
import re
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..tools import arguments

#: ``--max-invocations``: invocations in one run (every one is kept in the run's event log).
MAX_INVOCATIONS_RANGE = (1, 1_000_000)
#: ``--max-rounds``: scheduling steps in one run.
MAX_ROUNDS_RANGE = (1, 10_000_000)
#: A Kinesis partition key: 1-256 Unicode characters (PutRecord API).
PARTITION_KEY_MAX_CHARS = 256
#: Longest NAME in --put / --send / --write (a construct path, logical id or physical name).
NAME_MAX_CHARS = 1024
#: The options that feed the pipeline (none applies to --demo).
FEEDING = ("records", "put", "send", "write")

_STACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,127})*", re.ASCII)


def _text(value: str) -> bool:
    """Text that can be sent as UTF-8 (no lone surrogates from undecodable command-line bytes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stack_name(text: str) -> str:
    """``--stack``: a stack's name in the assembly (``Stage/Stack`` for a stack in a stage)."""
    if len(text) > 512 or not _STACK.fullmatch(text):
        raise arguments.invalid(text, "a stack name (letters, digits, _ . -; Stage/Stack for a stack in a stage)")
    return text


def records_file(text: str) -> str:
    """``--records``: an existing file, or ``-`` for stdin."""
    if text == "-":
        return text
    return arguments.existing_path(text, os.path.isfile, "an existing file (or - for stdin)")


def partition_key(text: str) -> str:
    """``--partition-key``: 1-256 characters (Kinesis' PutRecord limit)."""
    if not text or len(text) > PARTITION_KEY_MAX_CHARS or not _text(text):
        raise arguments.invalid(text, f"a partition key (1-{PARTITION_KEY_MAX_CHARS} characters)")
    return text


def name_value(option: str, value_kind: str, check: Callable[[str], Any] | None = None
               ) -> Callable[[str], tuple[str, Any]]:
    """A ``NAME=VALUE`` option: NAME names a resource of the app, VALUE is checked by ``check``."""

    def parse(text: str) -> tuple[str, Any]:
        name, sep, value = text.partition("=")
        if not sep or not name or len(name) > NAME_MAX_CHARS or not name.isprintable() or not _text(text):
            raise arguments.invalid(text, f"NAME={value_kind} (NAME: a construct path, logical id or physical name)")
        return name, (check(value) if check is not None else value)

    parse.__name__ = option.lstrip("-")
    return parse


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"the item {text[:60]!r} is not a JSON object")
    return value


def _checked(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the checks that involve several options to ``parser`` (exit 2 through ``parser.error``)."""
    parse_known_args = parser.parse_known_args

    def parse(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = parse_known_args(args, namespace)
        if parsed.demo:
            given = [f"--{option}" for option in FEEDING if getattr(parsed, option)]
            given += [f"--{option}" for option in ("items", "invocations") if getattr(parsed, option)]
            given += ["--max-rounds"] * (parsed.max_rounds is not None)
            if given:
                verb = "does" if len(given) == 1 else "do"
                self.error(f"{', '.join(given)} {verb} not apply to --demo (it feeds and reports the reference "
                           "system's own story)")
        if parsed.partition_key is not None and not parsed.put:
            self.error("--partition-key only applies to --put")
        return parsed, extras

    parser.parse_known_args = types.MethodType(parse, parser)  # type: ignore[method-assign]
    return parser


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register the ``local`` subcommand; every option value is validated (one line, exit 2)."""
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
    source.add_argument("--cdk-out", metavar="DIR", type=arguments.directory,
                        help="an existing cloud assembly (default: synthesize the app)")
    source.add_argument("--app-dir", metavar="DIR", type=arguments.directory,
                        help="the CDK app's directory (default: .)")
    local.add_argument("--stack", type=stack_name, help="stack name when the assembly has several")
    local.add_argument("--records", metavar="FILE", action="append", default=[], type=records_file,
                       help="JSON-lines file of records / messages / items / invocations ('-' = stdin; repeatable)")
    local.add_argument("--put", metavar="STREAM=DATA", action="append", default=[],
                       type=name_value("--put", "DATA"),
                       help="put a record on a stream (DATA: JSON or text; repeatable)")
    local.add_argument("--partition-key", type=partition_key, metavar="KEY",
                       help="partition key for --put, 1-256 characters (default: local)")
    local.add_argument("--send", metavar="QUEUE=BODY", action="append", default=[],
                       type=name_value("--send", "BODY"), help="send a message to a queue (repeatable)")
    local.add_argument("--write", metavar="TABLE=ITEM", action="append", default=[],
                       type=name_value("--write", "ITEM", _json_object),
                       help="put an item (a JSON object) into a table (repeatable)")
    local.add_argument("--max-invocations", type=arguments.int_range(*MAX_INVOCATIONS_RANGE), default=10000,
                       metavar="N", help="stop after this many invocations, 1-1000000 (default: %(default)s)")
    local.add_argument("--max-rounds", type=arguments.int_range(*MAX_ROUNDS_RANGE), help=argparse.SUPPRESS)
    local.add_argument("--items", action="store_true", help="print every table's items, not only their count")
    local.add_argument("--invocations", action="store_true", help="print every invocation")
    local.add_argument("--demo", action="store_true", help="run the reference system's story (make demo)")
    local.set_defaults(subparser=local)
    return _checked(local)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _action_problem(action: Any) -> str | None:
    """What is wrong with one line of a records file, or None."""
    if not isinstance(action, dict):
        return "expected a JSON object"
    kinds = [k for k in ("stream", "queue", "table", "function") if k in action]
    if len(kinds) != 1:
        return "expected an object with exactly one of stream, queue, table or function"
    kind = kinds[0]
    name = action[kind]
    if not isinstance(name, str) or not name or len(name) > NAME_MAX_CHARS:
        return f"{kind} must be a non-empty name"
    key = action.get("partition_key", "local")
    if kind == "stream" and (not isinstance(key, str) or not key or len(key) > PARTITION_KEY_MAX_CHARS):
        return f"partition_key must be 1-{PARTITION_KEY_MAX_CHARS} characters"
    if kind == "queue" and action.get("group_id") is not None and not isinstance(action["group_id"], str):
        return "group_id must be a string"
    if kind == "table" and not isinstance(action.get("item"), dict):
        return "item must be a JSON object"
    if kind == "function" and not isinstance(action.get("event", {}), dict):
        return "event must be a JSON object"
    try:
        json.dumps(action, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return "holds text that is not valid UTF-8 (a lone surrogate escape)"
    return None


def _read_lines(path: str) -> list[str]:
    from ..tools.errors import ExitCode, ToolError  # noqa: PLC0415

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(f"--records {path}: cannot read it ({type(exc).__name__}: {exc})", ExitCode.USAGE) from None
    return text.splitlines()


def _actions(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Everything to feed, in command-line order: --records files, then --put, --send, --write."""
    from ..tools.errors import ExitCode, ToolError  # noqa: PLC0415

    actions: list[dict[str, Any]] = []
    for path in args.records:
        for number, line in enumerate(_read_lines(path), 1):
            if not line.strip():
                continue
            try:
                action = json.loads(line)
            except ValueError as exc:
                raise ToolError(f"{path}:{number}: not JSON ({exc})", ExitCode.USAGE) from None
            problem = _action_problem(action)
            if problem is not None:
                raise ToolError(f"{path}:{number}: {problem}", ExitCode.USAGE)
            actions.append(action)
    key = args.partition_key or "local"
    actions += [{"stream": name, "data": _json_or_text(data), "partition_key": key} for name, data in args.put]
    actions += [{"queue": name, "body": body} for name, body in args.send]
    actions += [{"table": name, "item": item} for name, item in args.write]
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
                "filtered": mapping.filtered, "discarded": dict(mapping.discarded), "outcomes": mapping.outcomes})
        if mapping.source != "sqs":
            failures = pipeline.failures(mapping.mapping)
            if failures:
                _print(out, json_mode, "failure",
                       f"failures  {mapping.mapping}: {len(failures)} on-failure document(s)",
                       {"mapping": mapping.mapping, "count": len(failures), "documents": failures})
                if not json_mode:
                    for document in failures:
                        info = document.get("KinesisBatchInfo") or document.get("DDBStreamBatchInfo") or document
                        condition = document.get("requestContext", {}).get("condition")
                        print(f"          {condition}: shard {info.get('shardId')} "
                              f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')} "
                              f"({info.get('batchSize')} records)", file=out)
    for lid, resource in pipeline.runner.resources.items():
        properties = pipeline.runner.stack.resources[lid].get("Properties") or {}
        if resource.type != "AWS::SQS::Queue" or "RedrivePolicy" not in properties:
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
