"""What a local pipeline reports: its messages, invocations and per-mapping counts (plain data)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .destinations import RECORD_AGE_EXCEEDED, RETRIES_EXHAUSTED
from .events import RunnerEvent
from .runner import RunStats


class NotIdleError(AssertionError):
    """:meth:`LocalPipeline.run_until_idle` hit its bound with work left (a stalled shard, a loop)."""


@dataclass(frozen=True)
class Message:
    """A queue message, read without consuming it.

    Attributes:
        message_id: Its id.
        body: The raw body.
        json: The body parsed as JSON, or None when it is not JSON.
        receive_count: ``ApproximateReceiveCount``.
        attributes: Message attributes (name -> string value).
        group_id: ``MessageGroupId`` (FIFO queues).
    """

    message_id: str
    body: str
    json: Any
    receive_count: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None


@dataclass(frozen=True)
class Invocation:
    """One invocation a mapping made (or a direct :meth:`LocalPipeline.invoke`).

    Attributes:
        mapping: The mapping's construct path (the function's, for a direct invoke).
        function: The function's construct path.
        outcome: ``ok``, ``partial`` or ``error``.
        error: The error (one line), or None.
        records: The records sent, decoded: Kinesis data as JSON (else text, else base64),
            SQS bodies as JSON (else text), DynamoDB ``dynamodb`` maps. Empty for a tumbling
            window's final invocation.
        ids: Sequence numbers (streams) or message ids (SQS) of the records, in order.
        failed: The identifiers the function reported in ``batchItemFailures``.
        attempt: Attempt number of this batch (1 = first).
        timed_out: The function timed out.
        window: The tumbling window (``{"start", "end"}``), or None.
        final_window: A window's final invocation.
        detail: The runner's raw event detail.
    """

    mapping: str
    function: str
    outcome: str
    error: str | None
    records: list[Any]
    ids: list[str]
    failed: list[str]
    attempt: int
    timed_out: bool
    window: dict[str, str] | None
    final_window: bool
    detail: dict[str, Any]


#: The outcomes :attr:`MappingReport.outcomes` counts records by, in order.
OUTCOMES = ("invoked", "succeeded", "failed", "filtered_out", "discarded_for_age", "retries_exhausted",
            "delivered_to_on_failure")


@dataclass
class MappingReport:
    """What one mapping did (cumulative over the pipeline's runs).

    Record counts (:attr:`outcomes`, one key each): ``invoked`` records sent to the function, one per
    invocation a record is in (a record retried twice counts 3); of those, ``succeeded`` (done: an
    ``ok`` invocation, the records before the first failure of a partial response on a stream, the
    messages an SQS partial response did not list) and ``failed`` (the rest: retried, or given up),
    so ``invoked == succeeded + failed``; ``filtered_out`` records the mapping's filter dropped
    (never sent); ``discarded_for_age`` (``RecordAgeExceeded``) and ``retries_exhausted``
    (``RetryAttemptsExhausted``) records given up; ``delivered_to_on_failure`` the records of those
    that reached the on-failure destination (the rest were discarded: no destination). SQS
    messages given up go to the queue's dead-letter queue by its redrive policy
    (:meth:`LocalPipeline.dead_letters`), not to an on-failure destination.
    """

    mapping: str
    function: str
    source: str
    invocations: int = 0
    ok: int = 0
    partial: int = 0
    errors: int = 0
    timeouts: int = 0
    records_sent: int = 0
    filtered: int = 0
    discarded: Counter[str] = field(default_factory=Counter)
    on_failure: int = 0
    #: Records the stream trimmed (past its retention period) before the mapping read them.
    trimmed: int = 0
    records_succeeded: int = 0
    records_on_failure: int = 0

    @property
    def outcomes(self) -> dict[str, int]:
        """Records per outcome (:data:`OUTCOMES`; see the class docstring)."""
        return {"invoked": self.records_sent, "succeeded": self.records_succeeded,
                "failed": self.records_sent - self.records_succeeded, "filtered_out": self.filtered,
                "discarded_for_age": self.discarded[RECORD_AGE_EXCEEDED],
                "retries_exhausted": self.discarded[RETRIES_EXHAUSTED],
                "delivered_to_on_failure": self.records_on_failure}

    def line(self) -> str:
        """One line for a terminal."""
        gave_up = ", ".join(f"{n} {c}" for c, n in sorted(self.discarded.items())) or "none"
        return (f"{self.mapping:<40} {self.invocations:>6} invocations ({self.ok} ok, {self.partial} partial, "
                f"{self.errors} failed, {self.timeouts} timed out), {self.records_sent} records sent, "
                f"{self.filtered} filtered out, given up: {gave_up}"
                + (f", {self.trimmed} trimmed unread" if self.trimmed else ""))


@dataclass
class RunReport:
    """The result of :meth:`LocalPipeline.run_until_idle` / :meth:`LocalPipeline.run`.

    Attributes:
        stats: This run's steps / invocations / idleness.
        mappings: Per mapping (cumulative), by construct path.
    """

    stats: RunStats
    mappings: dict[str, MappingReport]

    @property
    def idle(self) -> bool:
        """Every mapping ran out of work."""
        return self.stats.idle

    def __str__(self) -> str:
        lines = [m.line() for m in self.mappings.values()]
        lines.append(f"{self.stats.invocations} invocations in this run; idle={self.stats.idle}")
        return "\n".join(lines)


def mapping_reports(mappings: Iterable[tuple[str, str, str]], events: Iterable[RunnerEvent],
                    path: Callable[[str], str]) -> dict[str, MappingReport]:
    """What each mapping did, by construct path.

    Args:
        mappings: ``(mapping id, function id, source kind)`` of each mapping.
        events: The run's events, oldest first.
        path: A logical id's construct path.
    """
    reports: dict[str, MappingReport] = {}
    by_id: dict[str, MappingReport] = {}
    for lid, function_id, source in mappings:
        report = MappingReport(path(lid), path(function_id), source)
        reports[report.mapping] = by_id[lid] = report
    for event in events:
        found = by_id.get(event.mapping)
        if found is not None:
            _count(found, event)
    return reports


def _count(report: MappingReport, event: RunnerEvent) -> None:
    d = event.detail
    if event.kind == "invoke":
        report.invocations += 1
        report.records_sent += int(d.get("count") or 0)
        report.records_succeeded += int(d.get("succeeded") or 0)
        outcome = d.get("outcome")
        report.ok += outcome == "ok"
        report.partial += outcome == "partial"
        report.errors += outcome == "error"
        report.timeouts += bool(d.get("timed_out"))
    elif event.kind == "filtered":
        report.filtered += int(d.get("count") or 0)
    elif event.kind == "trimmed":
        report.trimmed += int(d.get("count") or 0)
    elif event.kind in {"on-failure", "discarded"}:
        report.discarded[str(d.get("condition"))] += int(d.get("count") or 0)
        report.on_failure += event.kind == "on-failure"
        report.records_on_failure += int(d.get("count") or 0) if event.kind == "on-failure" else 0
