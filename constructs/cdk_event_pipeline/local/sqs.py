"""An SQS event source mapping, run locally with Lambda's semantics on the endpoint's queue.

The queue does the hard parts itself (moto implements them): a received message is hidden
for the queue's visibility timeout, its ``ApproximateReceiveCount`` grows on every receive,
once that count passes the redrive policy's ``maxReceiveCount`` the queue moves the message
to its dead-letter queue, and a FIFO queue delivers no message of a group while another of
that group is in flight. The poller (AWS Lambda Developer Guide, "Using Lambda with Amazon
SQS", "Lambda event filtering"):

* receives up to ``BatchSize`` messages (10 per ReceiveMessage call), waiting up to
  ``MaximumBatchingWindowInSeconds`` for a full batch, and fewer when the event would exceed
  the 6 MB invocation payload limit (the rest waits, already received, for the next batch);
* deletes messages that match no ``FilterCriteria`` pattern without invoking (filtering is on
  ``body`` only);
* invokes once per batch; on success deletes every message; with ``ReportBatchItemFailures``
  and a valid partial response deletes only the messages not named in ``batchItemFailures``;
  on a function error (raised, exited, timed out) or an invalid partial response deletes
  none, so the failed messages come back after the visibility timeout.

The poller has its own clock, like a stream lane (see :mod:`.streams`): a failed message comes
back when the visibility timeout has passed *on the poller's clock*, while the poller goes on
with the other messages of the queue; only when the queue has nothing else does the poller's
clock move to the moment the message becomes visible (it is then made visible at once with
ChangeMessageVisibility 0, which is what the queue would do when the timeout ends).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .clock import PipelineClock
from .events import EventLog
from .filters import EventFilter
from .invoke import LocalFunctionLike, read_response, run
from .streams import PAYLOAD_LIMIT_BYTES

#: ReceiveMessage's maximum.
RECEIVE_MAX = 10


@dataclass(frozen=True)
class SqsMappingConfig:
    """The SQS-relevant properties of an ``AWS::Lambda::EventSourceMapping`` (Lambda's defaults)."""

    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    enabled: bool = True

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> SqsMappingConfig:
        """Build from resolved template properties."""
        return cls(
            batch_size=int(props.get("BatchSize", 10)),
            batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            enabled=bool(props.get("Enabled", True)),
        )


def sqs_event_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage message as Lambda puts it in an SQS event."""
    attributes = {k: v for k, v in (message.get("Attributes") or {}).items()}
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller:
    """Runs one SQS event source mapping.

    Args:
        mapping_id: The mapping's logical id.
        client: boto3 SQS client on the endpoint.
        queue_url: The source queue.
        queue_arn: Its ARN.
        function: What to invoke.
        config: The mapping's properties.
        log: Where events go.
        event_filter: ``FilterCriteria``.
        region: ``awsRegion`` in event records.
        started_at: When the mapping starts (the poller's clock starts there). Default: now.
        clock: The pipeline's time (messages' sent times are read in it). Default: the real time.
    """

    kind = "sqs"

    def __init__(
        self,
        mapping_id: str,
        client: Any,
        queue_url: str,
        queue_arn: str,
        function: LocalFunctionLike,
        config: SqsMappingConfig,
        log: EventLog,
        *,
        event_filter: EventFilter | None = None,
        region: str = "us-east-1",
        started_at: float | None = None,
        clock: PipelineClock | None = None,
    ) -> None:
        self.mapping_id = mapping_id
        self.clock = clock if clock is not None else PipelineClock()
        self.client = client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.config = config
        self.log = log
        self.filter = event_filter or EventFilter(None)
        self.region = region
        self.invocations = 0
        self.now = started_at if started_at is not None else self.clock.now()
        attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
        self.visibility_timeout = int(attributes["Attributes"].get("VisibilityTimeout", 30))
        self._held: list[dict[str, Any]] = []
        self._hidden: list[tuple[float, dict[str, Any]]] = []

    def advance(self, seconds: float, present: float) -> None:
        """Time passes: the poller's clock moves ``seconds`` past ``present`` (or past its own time,
        when it is ahead), so failed messages become visible when their timeout has passed."""
        self.now = max(self.now, present) + seconds

    def _sent_at(self, message: Mapping[str, Any]) -> float:
        """When the message was sent, in the pipeline's time."""
        sent = (message.get("Attributes") or {}).get("SentTimestamp")
        return self.clock.shifted(int(sent) / 1000) if sent else self.now

    # --- the queue --------------------------------------------------------------------------

    def _receive(self, count: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            page = self.client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(RECEIVE_MAX, count - len(messages)),
                AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=0,
            ).get("Messages", [])
            if not page:
                break
            messages += page
        return messages

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), RECEIVE_MAX):
            chunk = messages[start : start + RECEIVE_MAX]
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """The visibility timeout of failed messages has passed on the poller's clock."""
        for start in range(0, len(messages), RECEIVE_MAX):
            chunk = messages[start : start + RECEIVE_MAX]
            self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                         for i, m in enumerate(chunk)],
            )

    # --- scheduling -------------------------------------------------------------------------

    def refresh(self) -> int:
        """Receive messages for the next batch; return how many arrived."""
        if not self.config.enabled:
            return 0
        received = self._receive(self.config.batch_size - len(self._held))
        self._held += received
        return len(received)

    def agenda(self) -> list[tuple[float, bool, Any]]:
        """(poller time, now (True) or at a time (False), self) when there is something to do."""
        if not self.config.enabled:
            return []
        if self._held:
            return [(self.now, True, self)]
        if self._hidden:
            return [(max(self.now, min(t for t, _ in self._hidden)), False, self)]
        return []

    def step(self) -> bool:
        """Invoke once with the next batch (or let failed messages' visibility timeout pass)."""
        if not self._held:
            if not self._hidden:
                return False
            self.now = max(self.now, min(t for t, _ in self._hidden))
            due = [m for t, m in self._hidden if t <= self.now]
            self._hidden = [(t, m) for t, m in self._hidden if t > self.now]
            self._release(due)
            self.refresh()
            return True
        return self.step_batch()

    def step_lane(self, _lane: Any) -> bool:
        """The runner's entry point (one lane: the poller itself)."""
        return self.step()

    def step_batch(self) -> bool:
        """Receive one batch and invoke once."""
        config = self.config
        if len(self._held) < config.batch_size:
            self.refresh()
        if len(self._held) < config.batch_size and config.batching_window_seconds > 0:
            self.now = max(self.now, min(self._sent_at(m) for m in self._held)) + config.batching_window_seconds
            self.refresh()
        messages: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        size = len('{"Records":[]}')
        for message in self._held:
            record = sqs_event_record(message, self.queue_arn, self.region)
            record_size = len(json.dumps(record, separators=(",", ":")).encode("utf-8")) + 1
            if records and size + record_size > PAYLOAD_LIMIT_BYTES:
                break
            messages.append(message)
            records.append(record)
            size += record_size
        self._held = self._held[len(messages):]
        self.now = max(self.now, max(self._sent_at(m) for m in messages))
        if self.filter:
            keep = [self.filter.matches_record(r) for r in records]
            dropped = [m for m, k in zip(messages, keep, strict=True) if not k]
            if dropped:
                self._delete(dropped)
                self.log.emit("filtered", self.mapping_id, self.function.logical_id, count=len(dropped),
                              ids=[m["MessageId"] for m in dropped])
            messages = [m for m, k in zip(messages, keep, strict=True) if k]
            records = [r for r, k in zip(records, keep, strict=True) if k]
            if not records:
                self.refresh()
                return True
        self.invocations += 1
        ids = [m["MessageId"] for m in messages]
        invocation = run(self.function, json.loads(json.dumps({"Records": records})))
        outcome = read_response(invocation, ids, report_failures=config.report_batch_item_failures)
        self.now += outcome.duration
        failed = (set(outcome.failed_ids) if outcome.status == "partial"
                  else set(ids) if outcome.status == "error" else set())
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        self._delete(succeeded)
        self.log.emit(
            "invoke", self.mapping_id, self.function.logical_id, count=len(records), outcome=outcome.status,
            failed=sorted(failed), deleted=[m["MessageId"] for m in succeeded], succeeded=len(succeeded),
            error=outcome.error,
            receive_counts={m["MessageId"]: int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0))
                            for m in messages},
            message_ids=ids, bodies=[m.get("Body", "") for m in messages],
            duration=round(outcome.duration, 6), timed_out=outcome.timed_out, at=self.now,
        )
        visible_at = self.now + self.visibility_timeout
        self._hidden += [(visible_at, m) for m in messages if m["MessageId"] in failed]
        self.refresh()
        return True


def body_json(message: Mapping[str, Any]) -> Any:
    """An SQS message body parsed as JSON (for callers reading DLQs)."""
    return json.loads(message["Body"])
