"""On-failure destinations: the invocation record Lambda sends for a discarded stream batch.

For Kinesis and DynamoDB Streams, Lambda sends a JSON document with ``requestContext``
(``condition``: ``RetryAttemptsExhausted`` or ``RecordAgeExceeded``, ``approximateInvokeCount``),
``responseContext`` (when the function was invoked and failed), ``version``, ``timestamp``
and ``KinesisBatchInfo`` / ``DDBStreamBatchInfo`` (shard, first and last sequence number,
arrival times, batch size, stream ARN). SQS and SNS destinations get this metadata only; an
S3 destination also gets the whole invocation event, as a JSON string, in ``payload``, under
the key ``aws/lambda/<mapping UUID>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..tools.records import SourceRecord, lambda_event

#: ``requestContext.condition`` values.
RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


def _iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def invocation_record(
    records: Sequence[SourceRecord],
    *,
    condition: str,
    function_arn: str,
    invoke_count: int,
    function_error: str | None,
    now: float,
    include_payload: bool = False,
    identity_arn: str = "",
) -> dict[str, Any]:
    """Build the on-failure document for a discarded batch (all records from one shard).

    Args:
        records: The discarded records, in shard order.
        condition: ``RetryAttemptsExhausted`` or ``RecordAgeExceeded``.
        function_arn: The function's ARN.
        invoke_count: How many times the batch was invoked (0 when it expired unread).
        function_error: ``Unhandled`` / ``Handled`` for the last invocation, or None.
        now: Epoch seconds for ``timestamp``.
        include_payload: Add the invocation event as ``payload`` (S3 destinations).
        identity_arn: ``invokeIdentityArn`` for the payload's Kinesis records.

    Returns:
        The JSON-ready document.
    """
    first, last = records[0], records[-1]
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
    }
    if function_error is not None:
        document["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        }
    document["version"] = "1.0"
    document["timestamp"] = _iso(now)
    info = {
        "shardId": first.shard_id,
        "startSequenceNumber": first.sequence_number,
        "endSequenceNumber": last.sequence_number,
        "approximateArrivalOfFirstRecord": _iso(first.arrival),
        "approximateArrivalOfLastRecord": _iso(last.arrival),
        "batchSize": len(records),
        "streamArn": first.stream_arn,
    }
    document["KinesisBatchInfo" if first.source == "kinesis" else "DDBStreamBatchInfo"] = info
    if include_payload:
        document["payload"] = json.dumps(lambda_event(list(records), identity_arn))
    return document


class Destination(Protocol):
    """Where on-failure documents go."""

    arn: str
    include_payload: bool

    def send(self, document: dict[str, Any], *, mapping_uuid: str, shard_id: str, now: float) -> str:
        """Deliver one document; return where it went (message id or S3 key)."""
        ...


@dataclass
class SqsDestination:
    """An SQS queue on the local endpoint (metadata only, as Lambda sends it)."""

    arn: str
    queue_url: str
    client: Any
    include_payload: bool = False

    def send(self, document: dict[str, Any], *, mapping_uuid: str, shard_id: str, now: float) -> str:
        """SendMessage with the document as the body."""
        response = self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(document))
        return str(response["MessageId"])


@dataclass
class SnsDestination:
    """An SNS topic on the local endpoint (metadata only); its SQS subscribers receive it."""

    arn: str
    client: Any
    include_payload: bool = False

    def send(self, document: dict[str, Any], *, mapping_uuid: str, shard_id: str, now: float) -> str:
        """Publish the document as the message."""
        response = self.client.publish(TopicArn=self.arn, Message=json.dumps(document))
        return str(response["MessageId"])


@dataclass
class S3Destination:
    """An S3 bucket on the local endpoint (metadata and the full ``payload``)."""

    arn: str
    bucket: str
    client: Any
    include_payload: bool = True

    def send(self, document: dict[str, Any], *, mapping_uuid: str, shard_id: str, now: float) -> str:
        """PutObject under Lambda's documented key layout."""
        moment = datetime.fromtimestamp(now, UTC)
        key = (
            f"aws/lambda/{mapping_uuid}/{shard_id}/{moment:%Y/%m/%d}/"
            f"{moment:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
        )
        self.client.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(document).encode("utf-8"))
        return f"s3://{self.bucket}/{key}"
