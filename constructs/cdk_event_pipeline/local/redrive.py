"""Redrive on-failure messages into a locally loaded function, with the ``redrive`` tool.

The operations tool (``event-pipeline redrive``) reads the on-failure messages, fetches the
records from the stream by shard and sequence range, and hands them to a target; this module
adds a target that calls a :class:`~.functions.LocalFunction` (its own module namespace and
environment), so a redrive after a fix goes to the same code the runner runs.
"""

from __future__ import annotations

import io

from ..tools._aws import Aws
from ..tools.output import Output
from ..tools.records import SourceRecord, lambda_event
from ..tools.redrive import Redrive, redrive_sqs
from ..tools.targets import Outcome, Target, first_failed_index
from .functions import LocalFunction


class LocalFunctionTarget(Target):
    """Deliver redriven records to a loaded function (an exception or batchItemFailures stop it)."""

    def __init__(self, function: LocalFunction, batch_size: int = 100) -> None:
        self.function = function
        self.name = f"local function {function.logical_id}"
        self.max_count = batch_size

    def deliver(self, records: list[SourceRecord]) -> Outcome:
        """Invoke once with the records as a stream event."""
        try:
            response = self.function.invoke(lambda_event(records))
        except Exception as exc:  # noqa: BLE001 - a function error: not delivered
            return Outcome(0, f"{self.name} raised {type(exc).__name__}: {exc}")
        failed = first_failed_index(response, records)
        return Outcome(len(records)) if failed is None else Outcome(failed, f"{self.name} reported batchItemFailures")


def redrive_queue_to_function(
    *, endpoint_url: str, region: str, queue_url: str, function: LocalFunction, output: Output | None = None,
    max_messages: int = 1000,
) -> tuple[int, Redrive]:
    """Run the redrive tool from an on-failure queue into a local function.

    Returns:
        (exit code, the run: ``counts``, ``records_delivered``, ``records_missing``).
    """
    aws = Aws(region=region, endpoint_url=endpoint_url)
    out = output if output is not None else Output(json_mode=True, progress=False, stdout=io.StringIO())
    run = Redrive(aws, out, LocalFunctionTarget(function))
    code = redrive_sqs(run, queue_url=queue_url, max_messages=max_messages, wait_seconds=0, visibility_timeout=60)
    return int(code), run


__all__ = ["LocalFunctionTarget", "redrive_queue_to_function"]

