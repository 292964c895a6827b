"""The Powertools batch processor behind :func:`~event_pipeline_runtime.pipeline_handler`: stream
ordering (a failed shard or FIFO group holds back its later records) and failure logging."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from event_pipeline_runtime.codec import DecodeError
from event_pipeline_runtime.envelope import EnvelopeError
from event_pipeline_runtime.hops import HopLimitExceededError
from event_pipeline_runtime.lambda_events import require_item_identifiers
from event_pipeline_runtime.sources import UnsupportedVersionError, item_identifier

__all__ = ["PipelineBatchProcessor", "SkippedAfterFailureError"]


_SOURCE_OF = {EventType.KinesisDataStreams: "kinesis", EventType.DynamoDBStreams: "dynamodb", EventType.SQS: "sqs"}


class SkippedAfterFailureError(RuntimeError):
    """Not processed because an earlier record of the same shard (or FIFO group) failed."""



class PipelineBatchProcessor(BatchProcessor):
    """Powertools ``BatchProcessor`` with stream ordering and failure logging.

    Differences from the base class:

    * after a failure, later records of the same group (shard / FIFO group) are reported as
      failed without being processed (see the module docstring);
    * the record handler gets the raw event record (the runtime decodes it itself); the
      Powertools data class is only built for a failed record, to collect its identifier;
    * every failure is logged with its reason.
    """

    def __init__(
        self,
        event_type: EventType,
        group_of: Callable[[dict[str, Any]], str | None],
        logger: Any,
        *,
        raise_on_entire_batch_failure: bool = False,
    ) -> None:
        super().__init__(event_type, raise_on_entire_batch_failure=raise_on_entire_batch_failure)
        self._group_of = group_of
        self._log = logger

    def process(self) -> list[tuple]:
        """Process the records in order, holding back a group after its first failure.

        Raises:
            UnreadableRecordError: A record has no item identifier (no sequence number / message
                id): it cannot be one failed record, so the invocation fails as a whole.
        """
        require_item_identifiers(self.records, _SOURCE_OF[self.event_type])
        results: list[tuple] = []
        append = results.append
        blocked: dict[str, str] = {}
        skipped = 0
        group_of = self._group_of
        for record in self.records:
            if blocked:
                group = group_of(record)
                if group is not None and group in blocked:
                    append(self._skip(record, group, blocked[group]))
                    skipped += 1
                    continue
            result = self._process_record(record)
            if result[0] == "fail":
                group = group_of(record)
                if group is not None:
                    blocked[group] = str(item_identifier(record))
            append(result)
        if skipped:
            self._log.info(
                "Later records of a failed shard/group reported as failed without processing",
                extra={"skipped_records": skipped, "groups": sorted(blocked)},
            )
        return results

    def _skip(self, record: dict[str, Any], group: str, first_failed: str) -> tuple:
        exc = SkippedAfterFailureError(
            f"not processed: earlier record {first_failed} of {group} failed; it comes back from the checkpoint"
        )
        return self.failure_handler(
            record=self._to_batch_type(record=record, event_type=self.event_type),
            exception=(SkippedAfterFailureError, exc, None),
        )

    def _process_record(self, record: dict[str, Any]) -> tuple:
        try:
            result = self.handler(record)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            self._log_failure(record, exc)
            # Powertools keeps every failure's exception info until the next batch. A traceback
            # holds the frames that failed, and their locals hold the decoded record: drop them
            # (after logging), so failed records do not pile up in memory within a batch.
            _drop_tracebacks(exc)
            return self.failure_handler(
                record=self._to_batch_type(record=record, event_type=self.event_type),
                exception=(type(exc), exc, None),
            )
        self.success_messages.append(cast(Any, record))  # the raw record: Powertools only counts them
        return ("success", result, record)

    def _log_failure(self, record: dict[str, Any], exc: Exception) -> None:
        extra = {
            "item_identifier": item_identifier(record),
            "event_source": record.get("eventSource"),
            "error_type": type(exc).__name__,
            "failure_reason": str(exc),
        }
        if isinstance(exc, (DecodeError, UnsupportedVersionError, EnvelopeError, HopLimitExceededError)):
            self._log.error(
                "Record cannot be consumed; reported as failed (it goes to the DLQ after retries)", extra=extra
            )
        else:
            self._log.exception("Record processing failed; reported as failed", extra=extra)


def _drop_tracebacks(exc: BaseException) -> None:
    """Detach the tracebacks of ``exc`` and of its cause/context chain (their frames' locals)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        if isinstance(current, json.JSONDecodeError):
            current.doc = ""  # it keeps the whole undecodable text
        elif isinstance(current, UnicodeDecodeError):
            current.object = b""  # it keeps the whole undecodable data
        current = current.__cause__ or current.__context__
