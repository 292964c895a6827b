"""The ``event-pipeline`` console script: ``replay``, ``redrive``, ``tail`` and ``local``.

This module knows every subcommand, so it sits above both packages that provide them: the tools
library (:mod:`cdk_event_pipeline.tools`: ``replay``, ``redrive``, ``tail``, the common options,
the error handling) and the local runner (:mod:`cdk_event_pipeline.local`, built on the tools).
Neither of them imports it, so ``local`` imports the tools and nothing imports back up.
``python -m cdk_event_pipeline.tools`` runs :func:`main` too.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from .tools._aws import Aws
from .tools.cli import add_tool_parsers, execute, new_parser, run_tool
from .tools.output import Output


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render the README's usage text)."""
    parser, commands, common = new_parser()
    add_tool_parsers(commands, common)
    from .local.cli import add_parser as add_local_parser  # the local runner loads only here

    add_local_parser(commands, [common])
    return parser


def _run(args: argparse.Namespace, aws: Aws, output: Output, now: datetime) -> int:
    if args.command == "local":
        from .local.cli import run as run_local

        return run_local(args)
    return run_tool(args, aws, output, now)


def main(argv: list[str] | None = None) -> int:
    """Run ``event-pipeline``.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code (see ``event-pipeline --help``).
    """
    return execute(build_parser(), argv, _run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
