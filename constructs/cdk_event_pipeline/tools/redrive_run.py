"""One redrive run: resolve each message's records, deliver them, report its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ._aws import Aws, translate
from .errors import ExitCode, ToolError
from .onfailure import FailedBatch, MessageError
from .output import Output
from .resolve import Fetched, check_payload, fetch_dynamodb, fetch_kinesis
from .targets import Target, batches

Status = Literal["redriven", "would-redrive", "expired", "incomplete", "failed", "malformed",
                 "unrecognised"]


@dataclass
class Item:
    """One DLQ message or S3 object being redriven."""

    ident: str
    body: str | None
    handle: Any
    batch: FailedBatch | None = None
    error: MessageError | None = None


@dataclass
class Redrive:
    """A redrive run.

    Args:
        aws: Clients.
        output: Printer.
        target: Where records go.
        dry_run: Read and check everything; deliver and delete nothing.
        allow_partial: When the oldest records of a batch are proven trimmed from the stream
            (before the shard's trim horizon), deliver the rest and delete the message (the
            missing records are still reported and the exit code is still 3). Never applies to
            a ``payload`` that disagrees with its batch info, nor to a batch none of whose
            records is left.
    """

    aws: Aws
    output: Output
    target: Target
    dry_run: bool = False
    allow_partial: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    records_delivered: int = 0
    records_missing: int = 0

    def _report(self, item: Item, status: Status, text: str, **fields: Any) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        batch = item.batch
        self.output.report(
            "message",
            f"{status:<13} {item.ident} {batch.describe() if batch else ''} {text}".rstrip(),
            id=item.ident,
            status=status,
            kind=batch.kind if batch else None,
            batchInfo=batch.info if batch else None,
            **fields,
        )

    def _fetch(self, batch: FailedBatch) -> Fetched:
        if batch.has_payload:
            return check_payload(batch)
        if batch.kind == "kinesis":
            return fetch_kinesis(self.aws, batch)
        return fetch_dynamodb(self.aws, batch)

    def process(self, item: Item) -> bool:
        """Redrive one item; True when it may be deleted.

        Errors that concern only this item (its stream cannot be read, an unexpected value)
        are reported as its outcome and the run goes on; errors of the target, which every
        item needs, end the run.
        """
        batch = item.batch
        if batch is None:
            error = item.error or MessageError("unrecognised", "no message body")
            self._report(item, error.status, f"kept: {error.reason}", reason=error.reason)
            return False
        try:
            fetched = self._fetch(batch)
        except (ToolError, ClientError, BotoCoreError) as exc:
            tool_error = translate(exc, f"stream {batch.stream_arn}")
            reason = f"cannot read the source stream: {tool_error.message if tool_error else exc}"
            self._report(item, "failed", f"kept: {reason}", reason=reason)
            return False
        return self._deliver(item, batch, fetched)

    def _deliver(self, item: Item, batch: FailedBatch, fetched: Fetched) -> bool:
        records = fetched.records
        if fetched.status == "incomplete":
            self._report(item, "incomplete", f"kept: {fetched.reason}", reason=fetched.reason,
                         found=len(records))
            return False
        if fetched.status == "expired":
            self.records_missing += fetched.missing
            if not (self.allow_partial and fetched.trimmed and records):
                self._report(item, "expired", f"kept: {fetched.missing} record(s) missing: "
                             f"{fetched.reason}", missing=fetched.missing, found=len(records),
                             reason=fetched.reason)
                return False
        reason = self.target.unsupported(records[0]) if records else None
        if reason:
            self._report(item, "failed", f"kept: {reason}", reason=reason)
            return False
        if self.dry_run:
            self._report(item, "would-redrive", f"{len(records)} records to {self.target.name} "
                         "(dry run: nothing delivered or deleted)", records=len(records),
                         missing=fetched.missing)
            return False
        delivered = 0
        for chunk in batches(records, self.target.max_count, self.target.max_bytes):
            outcome = self.target.deliver(chunk)
            delivered += outcome.delivered
            self.records_delivered += outcome.delivered
            if outcome.delivered < len(chunk):
                self._report(item, "failed", f"kept: {delivered} of {len(records)} records "
                             f"delivered: {outcome.error}", records=len(records),
                             delivered=delivered, reason=outcome.error)
                return False
        note = f" ({fetched.missing} missing: {fetched.reason})" if fetched.missing else ""
        self._report(item, "redriven", f"{len(records)} records to {self.target.name}{note}",
                     records=len(records), missing=fetched.missing)
        return True

    def exit_code(self) -> ExitCode:
        """3 when records are gone, else 7 when a message was kept unproven (unrecognised,
        malformed, incomplete), else 1 when anything was not delivered, else 0."""
        if self.records_missing or self.counts.get("expired"):
            return ExitCode.EXPIRED
        if any(self.counts.get(s) for s in ("incomplete", "malformed", "unrecognised")):
            return ExitCode.UNPROVEN
        if self.counts.get("failed"):
            return ExitCode.NOT_DELIVERED
        return ExitCode.OK

    def summary(self, source: str) -> None:
        """Print the totals."""
        parts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        self.output.report(
            "summary",
            f"redrive from {source} to {self.target.name}: {parts or 'no messages'}; "
            f"{self.records_delivered} records delivered, {self.records_missing} missing",
            command="redrive",
            source=source,
            target=self.target.name,
            dryRun=self.dry_run,
            messages=self.counts,
            recordsDelivered=self.records_delivered,
            recordsMissing=self.records_missing,
        )

