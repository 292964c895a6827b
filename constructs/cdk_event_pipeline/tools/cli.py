"""The tools' part of the ``event-pipeline`` command line: ``replay``, ``redrive`` and ``tail``.

The options shared by every subcommand, one small function per subcommand that adds its parser
and :func:`run_tool`, which runs it; :func:`execute` parses, checks and runs a command line and
turns errors into exit codes. The console script itself (every subcommand, ``local`` included)
is :mod:`cdk_event_pipeline.cli`, above both this package and the local runner.
``main`` and ``build_parser`` moved there; importing them from here still works, with a
DeprecationWarning.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from . import arguments as types
from ._aws import Aws, translate
from .errors import ExitCode, ToolError
from .output import Output, one_line
from .targets import (
    DEFAULT_FUNCTION_BATCH_SIZE,
    FunctionTarget,
    HandlerTarget,
    PrintTarget,
    StreamTarget,
    Target,
)

EXIT_CODES = """\
exit codes:
  0    everything asked for was done
  1    some records were not delivered (the target or handler failed); retrying may help
  2    bad command line (one line on stderr says which option and why)
  3    some records are gone from the stream (past retention, shard or stream deleted);
       their DLQ messages are kept
  4    not found: stream, queue, bucket, function or handler
  5    no credentials, invalid credentials, or access denied
  6    AWS endpoint unreachable, or no region configured
  7    some DLQ messages were kept unproven: unrecognised, malformed, or incomplete (the
       records they hold or name are not exactly their batch); retrying will not help
  130  interrupted (Ctrl-C; tail exits 0)
when several apply, the first of 3, 7, 1 wins.
"""

TIMES = """\
times (--from, --to): ISO 8601 (2024-05-01T12:00:00Z; naive = UTC), Unix epoch seconds,
or a duration ago: 90s, 15m, 2h, 1d, 1w. A time must not be in the future nor more than
365 days ago (the longest a Kinesis stream keeps records).
"""

DESCRIPTION = """\
Operate Kinesis / DynamoDB Streams event pipelines: replay a time window, redrive
Lambda on-failure (DLQ) messages, tail a stream decoded.

Uses the standard AWS credential chain; --endpoint-url or AWS_ENDPOINT_URL points it at
another endpoint (a local moto server, for example).
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``event-pipeline replay: error: ... (see --help)``."""

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        """Parse, refusing ``--option=--`` first: Python 3.11's argparse drops that ``--``
        and stores an empty list without calling the option's type.

        ``namespace`` and the result are typed as argparse's overloads allow (a
        ``Namespace``, or the object given as ``namespace``)."""
        tokens = sys.argv[1:] if args is None else list(args)  # read once: ``args`` may be an iterator
        for token in tokens:
            if isinstance(token, str) and token.startswith("--") and token.endswith("=--"):
                self.error(f"argument {token[:-3]}: expected a value, not '--'")
        return super().parse_known_args(tokens, namespace)

    def error(self, message: str) -> NoReturn:
        """Print one line on stderr and exit 2 (argparse prints the whole usage)."""
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {one_line(message)} "
                  f"(see '{self.prog} --help')\n")


def _common() -> _Parser:
    common = _Parser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--region", type=types.region,
                       help="AWS region (default: the environment / profile's)")
    group.add_argument(
        "--endpoint-url",
        type=types.endpoint_url,
        help="AWS endpoint URL for every service (default: AWS_ENDPOINT_URL, else AWS's)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line on stdout, each with a 'type' "
        "(record, message, summary, error); no progress bars",
    )
    group.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (they are drawn on stderr only when it is a terminal)",
    )
    return common


def _add_targets(parser: argparse.ArgumentParser, *, handler: bool, required: bool) -> None:
    targets = parser.add_mutually_exclusive_group(required=required)
    targets.add_argument("--to-function", metavar="NAME", type=types.function_name, help="invoke this Lambda function "
                         "synchronously with a Kinesis / DynamoDB Streams shaped event")
    targets.add_argument("--to-stream", metavar="NAME", type=types.stream_name, help="put the records to this Kinesis "
                         "stream (original partition keys, per-key order kept)")
    if handler:
        targets.add_argument("--to-handler", metavar="MODULE:FUNC", type=types.handler_spec,
                             help="import a Python Lambda handler and call it in this process "
                             "(Lambda's MODULE.FUNC also works)")
    targets.add_argument("--print", action="store_true", help="print the records decoded")
    parser.add_argument(
        "--batch-size",
        type=types.int_range(*types.BATCH_SIZE_RANGE),
        default=DEFAULT_FUNCTION_BATCH_SIZE,
        metavar="1-10000",
        help="records per invocation for --to-function / --to-handler (default: %(default)s; "
        "--to-stream puts up to 500 per request)",
    )
    if handler:
        parser.add_argument(
            "--handler-path", action="append", default=[], metavar="DIR", type=types.directory,
            help="directory put first on sys.path for --to-handler (repeatable; the current "
            "directory is always searched)",
        )


def new_parser() -> tuple[argparse.ArgumentParser, Any, argparse.ArgumentParser]:
    """The ``event-pipeline`` parser without subcommands yet.

    Returns:
        The parser, its subcommands (``add_parser`` adds one) and the parent parser holding
        the common options (``--region``, ``--endpoint-url``, ``--json``, ``--no-progress``).
    """
    parser = _Parser(
        prog="event-pipeline", description=DESCRIPTION, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return parser, commands, _common()


def add_replay_parser(commands: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register the ``replay`` subcommand."""
    replay = commands.add_parser(
        "replay", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=TIMES + "\n" + EXIT_CODES,
        help="re-deliver a time window of a Kinesis stream",
        description="Read every shard from --from (AT_TIMESTAMP) to --to, parents before "
        "children after a reshard, in order per shard, and re-deliver in batches. Stops at "
        "the first batch the target refuses and says where.",
    )
    replay.add_argument("--stream", required=True, metavar="NAME", type=types.stream_name,
                        help="source stream")
    replay.add_argument("--from", dest="start", required=True, metavar="TIME",
                        type=types.time_value,
                        help="replay records that arrived at or after this time")
    replay.add_argument("--to", dest="end", metavar="TIME", type=types.time_value,
                        help="... and at or before this time (default: when the run starts, so "
                        "a replay into the same stream never chases its own writes)")
    _add_targets(replay, handler=True, required=True)
    replay.set_defaults(subparser=replay)
    return replay


def add_redrive_parser(commands: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register the ``redrive`` subcommand."""
    redrive = commands.add_parser(
        "redrive", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES,
        help="re-deliver the records behind Lambda on-failure messages",
        description="Read Lambda on-failure records (KinesisBatchInfo / DDBStreamBatchInfo) "
        "from an SQS queue or S3 objects, fetch the records from the stream by shard and "
        "sequence range (S3 objects carry them in 'payload'), re-deliver them, and delete a "
        "message only after exactly the batch it names (batchSize records, from "
        "startSequenceNumber to endSequenceNumber, same stream and shard) was delivered. "
        "Messages whose records are gone are kept and reported (exit code 3); messages that "
        "cannot be proven complete are kept and reported (exit code 7).",
    )
    source = redrive.add_mutually_exclusive_group(required=True)
    source.add_argument("--dlq", metavar="QUEUE_URL", type=types.queue_url,
                        help="SQS on-failure destination queue")
    source.add_argument("--s3-uri", metavar="S3_URI", type=types.s3_uri,
                        help="S3 on-failure destination: s3://bucket[/prefix]")
    _add_targets(redrive, handler=True, required=True)
    redrive.set_defaults(subparser=redrive)
    redrive.add_argument("--dry-run", action="store_true",
                         help="fetch and check everything; deliver and delete nothing")
    redrive.add_argument("--allow-partial", action="store_true",
                         help="when the oldest records of a batch are proven trimmed from the "
                         "stream (past retention), deliver the rest and delete the message "
                         "(the missing records are still reported, exit code 3). Never applies "
                         "to a payload that disagrees with its metadata")
    redrive.add_argument("--max-messages", type=types.int_range(*types.MAX_MESSAGES_RANGE),
                         default=1000, metavar="1-10000",
                         help="handle at most this many messages / objects (default: %(default)s)")
    redrive.add_argument("--wait-seconds", type=types.int_range(*types.WAIT_SECONDS_RANGE),
                         default=2, metavar="0-20",
                         help="SQS long-poll wait; the queue counts as drained after one empty "
                         "receive (default: %(default)s)")
    redrive.add_argument("--visibility-timeout",
                         type=types.int_range(*types.VISIBILITY_TIMEOUT_RANGE), default=900,
                         metavar="1-43200",
                         help="seconds received messages stay hidden while the run lasts; "
                         "kept messages are made visible again at the end (default: %(default)s)")
    return redrive


def add_tail_parser(commands: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register the ``tail`` subcommand."""
    tail = commands.add_parser(
        "tail", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES,
        help="follow a Kinesis stream and print its records decoded",
        description="Follow new records on every shard (gzip, envelope and KPL aggregation "
        "decoded; undecodable data printed as base64). Runs until --max-records, --timeout "
        "or Ctrl-C.",
    )
    tail.add_argument("--stream", required=True, metavar="NAME", type=types.stream_name,
                      help="stream to follow")
    tail.add_argument("--from-start", action="store_true",
                      help="start at the oldest record (TRIM_HORIZON) instead of new ones")
    tail.add_argument("--max-records", type=types.int_range(*types.MAX_RECORDS_RANGE),
                      metavar="N", help="stop after N records (1 or more)")
    tail.add_argument("--timeout", type=types.float_range(*types.TIMEOUT_RANGE),
                      metavar="SECONDS", help="stop after SECONDS (more than 0, up to 365 days)")
    tail.add_argument("--poll-interval", type=types.float_range(*types.POLL_INTERVAL_RANGE),
                      default=1.0, metavar="SECONDS",
                      help="pause when no shard had new records, 0.1-3600 "
                      "(default: %(default)s)")
    tail.set_defaults(subparser=tail)
    return tail


def add_tool_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register ``replay``, ``redrive`` and ``tail``, in that order (the order of ``--help``)."""
    add_replay_parser(commands, common)
    add_redrive_parser(commands, common)
    add_tail_parser(commands, common)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace, now: datetime) -> None:
    """Checks that involve several options (exit 2 through ``parser.error``)."""
    command: argparse.ArgumentParser = getattr(args, "subparser", parser)
    if getattr(args, "handler_path", None) and not getattr(args, "to_handler", None):
        command.error("--handler-path only applies to --to-handler")
    if args.command == "replay":
        end = args.end if args.end is not None else now
        if end < args.start:
            command.error(f"--to ({end.isoformat()}) is before --from ({args.start.isoformat()})")


def _target(args: argparse.Namespace, aws: Aws, output: Output) -> Target:
    if args.to_function:
        return FunctionTarget(aws, args.to_function, args.batch_size)
    if args.to_stream:
        return StreamTarget(aws, args.to_stream)
    if getattr(args, "to_handler", None):
        return HandlerTarget(args.to_handler, args.handler_path, args.batch_size)
    return PrintTarget(output)


def run_tool(args: argparse.Namespace, aws: Aws, output: Output, now: datetime) -> int:
    """Run ``replay``, ``redrive`` or ``tail`` as parsed (and checked) from the command line.

    Returns:
        The exit code.
    """
    if args.command == "replay":
        from .replay import replay

        end = args.end if args.end is not None else now
        return replay(aws, output, stream_name=args.stream, start=args.start, end=end,
                      target=_target(args, aws, output))
    if args.command == "redrive":
        from .redrive import Redrive, redrive_s3, redrive_sqs

        run = Redrive(aws, output, _target(args, aws, output), dry_run=args.dry_run,
                      allow_partial=args.allow_partial)
        if args.dlq:
            return redrive_sqs(run, queue_url=args.dlq, max_messages=args.max_messages,
                               wait_seconds=args.wait_seconds,
                               visibility_timeout=args.visibility_timeout)
        return redrive_s3(run, uri=args.s3_uri, max_messages=args.max_messages)
    from .tail import tail

    try:
        return tail(aws, output, stream_name=args.stream, from_start=args.from_start,
                    max_records=args.max_records, timeout=args.timeout,
                    poll_interval=args.poll_interval)
    except KeyboardInterrupt:
        return ExitCode.OK


#: Runs a parsed command line: ``(args, aws, output, now) -> exit code``.
Runner = Callable[[argparse.Namespace, Aws, Output, datetime], int]


def execute(parser: argparse.ArgumentParser, argv: list[str] | None, run: Runner) -> int:
    """Parse ``argv``, check it, run it with ``run``, and turn every error into its exit code.

    Args:
        parser: The whole ``event-pipeline`` parser.
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
        run: Runs the parsed subcommand.

    Returns:
        The exit code (see ``event-pipeline --help``).
    """
    try:
        args = parser.parse_args(argv)
        now = datetime.now(UTC)
        _check(parser, args, now)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    output = Output(json_mode=args.json, progress=not args.no_progress)
    aws = Aws(region=args.region, endpoint_url=args.endpoint_url)
    try:
        return int(run(args, aws, output, now))
    except ToolError as exc:
        output.error(exc.message, exc.exit_code)
        return int(exc.exit_code)
    except (ClientError, BotoCoreError) as exc:
        tool_error = translate(exc, "AWS")
        if tool_error is None:
            tool_error = ToolError(f"AWS request failed: {exc}", ExitCode.NOT_DELIVERED)
        output.error(tool_error.message, tool_error.exit_code)
        return int(tool_error.exit_code)
    except KeyboardInterrupt:
        output.error("interrupted", ExitCode.INTERRUPTED)
        return int(ExitCode.INTERRUPTED)


#: Moved to :mod:`cdk_event_pipeline.cli` (the console script, above the tools and ``local``).
_MOVED = ("main", "build_parser")


def __getattr__(name: str) -> Any:
    """``main`` and ``build_parser``, from their new home, with a DeprecationWarning."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"cdk_event_pipeline.tools.cli.{name} moved: import it from cdk_event_pipeline.cli",
                  DeprecationWarning, stacklevel=2)
    from .. import cli as console_script  # the one edge up, listed in [tool.importlinter]

    return getattr(console_script, name)


if __name__ == "__main__":  # pragma: no cover - python -m cdk_event_pipeline.tools.cli
    from ..cli import main as _main

    sys.exit(_main())
