"""An SQS event source mapping, run locally with Lambda's semantics on the endpoint's queue.

The queue does the hard parts itself (moto implements them): a received message is hidden
for the queue's visibility timeout, its ``ApproximateReceiveCount`` grows on every receive,
and once that count passes the redrive policy's ``maxReceiveCount`` the queue moves the
message to its dead-letter queue. The poller (AWS Lambda Developer Guide, "Using Lambda with
Amazon SQS"):

* receives up to ``BatchSize`` messages (10 per ReceiveMessage call), waiting up to
  ``MaximumBatchingWindowInSeconds`` for a full batch;
* drops (deletes) messages that match no ``FilterCriteria`` pattern without invoking;
* invokes once per batch; on success deletes every message; with ``ReportBatchItemFailures``
  and a valid partial response deletes only the messages not named in ``batchItemFailures``;
  on a function error (or an invalid partial response) deletes none, so the failed messages
  come back after the visibility timeout.

With a virtual clock the visibility timeout is skipped: the clock is advanced by it and the
failed messages are made visible again at once (ChangeMessageVisibility 0), which is what the
queue would do when the timeout ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .events import EventLog
from .filters import EventFilter, sqs_filter_view
from .invoke import LocalFunctionLike, call, read_response

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
        clock: Real or virtual time.
        log: Where events go.
        event_filter: ``FilterCriteria``.
        region: ``awsRegion`` in event records.
    """

    def __init__(
        self,
        mapping_id: str,
        client: Any,
        queue_url: str,
        queue_arn: str,
        function: LocalFunctionLike,
        config: SqsMappingConfig,
        clock: Clock,
        log: EventLog,
        *,
        event_filter: EventFilter | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.mapping_id = mapping_id
        self.client = client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.config = config
        self.clock = clock
        self.log = log
        self.filter = event_filter or EventFilter(None)
        self.region = region
        self.invocations = 0
        attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
        self.visibility_timeout = int(attributes["Attributes"].get("VisibilityTimeout", 30))
        self._waiting_since: float | None = None
        self._held: list[dict[str, Any]] = []

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
        """The visibility timeout of failed messages passes (virtual clock only)."""
        if not messages or not self.clock.virtual:
            return
        self.clock.sleep(self.visibility_timeout)
        for start in range(0, len(messages), RECEIVE_MAX):
            chunk = messages[start : start + RECEIVE_MAX]
            self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                         for i, m in enumerate(chunk)],
            )

    def step(self) -> bool | float:
        """Receive one batch and invoke once.

        Returns:
            True when a batch was handled, False when the queue was empty, or seconds to
            wait for the batching window.
        """
        if not self.config.enabled:
            return False
        config = self.config
        self._held += self._receive(config.batch_size - len(self._held))
        if not self._held:
            self._waiting_since = None
            return False
        if len(self._held) < config.batch_size and config.batching_window_seconds > 0:
            now = self.clock.now()
            if self._waiting_since is None:
                self._waiting_since = now
            left = self._waiting_since + config.batching_window_seconds - now
            if left > 0:
                return left
        messages, self._held, self._waiting_since = self._held, [], None
        records = [sqs_event_record(m, self.queue_arn, self.region) for m in messages]
        if self.filter:
            keep = [self.filter.matches(sqs_filter_view(r)) for r in records]
            dropped = [m for m, k in zip(messages, keep, strict=True) if not k]
            if dropped:
                self._delete(dropped)
                self.log.emit("filtered", self.mapping_id, self.function.logical_id, count=len(dropped),
                              ids=[m["MessageId"] for m in dropped])
            messages = [m for m, k in zip(messages, keep, strict=True) if k]
            records = [r for r, k in zip(records, keep, strict=True) if k]
            if not records:
                return True
        self.invocations += 1
        response, outcome = call(self.function, {"Records": records})
        ids = [m["MessageId"] for m in messages]
        if outcome is None:
            outcome = read_response(response, ids, report_failures=config.report_batch_item_failures)
        failed = set(outcome.failed_ids) if outcome.status == "partial" else set(ids) if outcome.status == "error" else set()
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        self._delete(succeeded)
        self.log.emit(
            "invoke", self.mapping_id, self.function.logical_id, count=len(records), outcome=outcome.status,
            failed=sorted(failed), deleted=[m["MessageId"] for m in succeeded], error=outcome.error,
            receive_counts={m["MessageId"]: int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0))
                            for m in messages},
            at=self.clock.now(),
        )
        self._release([m for m in messages if m["MessageId"] in failed])
        return True


def body_json(message: Mapping[str, Any]) -> Any:
    """An SQS message body parsed as JSON (for callers reading DLQs)."""
    return json.loads(message["Body"])
