"""Lambda on-failure destination records: parse one and check its batch info.

Lambda's on-failure record for a Kinesis or DynamoDB Streams event source mapping holds only
metadata when it goes to SQS or SNS (``KinesisBatchInfo`` / ``DDBStreamBatchInfo``: stream ARN,
shard id, first and last sequence number, batch size). An S3 destination object also holds the
original event as an escaped JSON string in ``payload``
(https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from .records import SEQUENCE_NUMBER, SourceRecord, record_from_lambda_event, short

#: The largest batch an event source mapping invokes with (Kinesis and DynamoDB Streams):
#: https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html (BatchSize).
MAX_BATCH_SIZE = 10_000

KINESIS_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]{1,32}:[0-9]{12}:stream/([a-zA-Z0-9_.-]{1,128})",
    re.ASCII)
_DYNAMODB_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]{1,32}:[0-9]{12}:table/[a-zA-Z0-9_.-]{3,255}"
    r"/stream/[a-zA-Z0-9_.:-]{1,64}", re.ASCII)
_SHARD_ID = re.compile(r"[a-zA-Z0-9_.-]{1,128}", re.ASCII)


class MessageError(ValueError):
    """A message that is not a usable on-failure record.

    Args:
        status: ``unrecognised`` (not an on-failure record) or ``malformed`` (its batch info
            is invalid).
        reason: Why, in one line.
    """

    def __init__(self, status: Literal["unrecognised", "malformed"], reason: str) -> None:
        super().__init__(reason)
        self.status: Literal["unrecognised", "malformed"] = status
        self.reason = reason


@dataclass(frozen=True)
class FailedBatch:
    """One on-failure invocation record, its batch info checked.

    Attributes:
        kind: ``kinesis`` or ``dynamodb``.
        info: ``KinesisBatchInfo`` / ``DDBStreamBatchInfo`` as received (for reports).
        stream_arn: The stream's ARN.
        shard_id: The shard.
        start: ``startSequenceNumber``.
        end: ``endSequenceNumber``.
        batch_size: ``batchSize``.
        records: The records from ``payload`` (S3 destinations), else None.
        payload_error: Why a ``payload`` that is present cannot be used, else None.
    """

    kind: Literal["kinesis", "dynamodb"]
    info: dict[str, Any]
    stream_arn: str
    shard_id: str
    start: int
    end: int
    batch_size: int
    records: list[SourceRecord] | None = None
    payload_error: str | None = None

    @property
    def has_payload(self) -> bool:
        """True when the message carried a ``payload`` (usable or not)."""
        return self.records is not None or self.payload_error is not None

    @property
    def sort_key(self) -> tuple[str, str, int]:
        """(stream, shard, first sequence number): the order to redrive in."""
        return (self.stream_arn, self.shard_id, self.start)

    def describe(self) -> str:
        """``kinesis orders shardId-...0 [start..end] (n records)`` for reports."""
        where = self.stream_arn.rsplit("/", 1)[-1] if self.kind == "kinesis" else self.stream_arn
        return (f"{self.kind} {where} {self.shard_id} [{self.start}..{self.end}] "
                f"({self.batch_size} records)")


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise ValueError(f"{what} is not JSON ({exc})") from None


def _batch_info(info: dict[str, Any], kind: Literal["kinesis", "dynamodb"]) -> tuple[str, str, int, int, int]:
    arn = info.get("streamArn")
    pattern = KINESIS_ARN if kind == "kinesis" else _DYNAMODB_ARN
    if not isinstance(arn, str) or not pattern.fullmatch(arn):
        raise MessageError("malformed", f"streamArn is not a {kind} stream ARN: {short(arn)}")
    shard = info.get("shardId")
    if not isinstance(shard, str) or not _SHARD_ID.fullmatch(shard):
        raise MessageError("malformed", f"shardId is not a shard id: {short(shard)}")
    bounds = []
    for key in ("startSequenceNumber", "endSequenceNumber"):
        value = info.get(key)
        if not isinstance(value, str) or not SEQUENCE_NUMBER.fullmatch(value):
            raise MessageError("malformed", f"{key} is not a sequence number: {short(value)}")
        bounds.append(int(value))
    start, end = bounds
    if start > end:
        raise MessageError("malformed", f"startSequenceNumber {start} is after "
                           f"endSequenceNumber {end}")
    size = info.get("batchSize")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE:
        raise MessageError("malformed", f"batchSize is not an integer between 1 and "
                           f"{MAX_BATCH_SIZE}: {short(size)}")
    if size > end - start + 1:
        raise MessageError("malformed", f"batchSize {size} records cannot fit between "
                           f"sequence numbers {start} and {end}")
    return arn, shard, start, end, size


def _payload_records(payload: Any, kind: str, shard_id: str) -> list[SourceRecord]:
    """The records of a ``payload``; ValueError says why there are none to trust."""
    event = _load_json(payload, "payload") if isinstance(payload, str) else payload
    if not isinstance(event, dict):
        raise ValueError(f"payload is a JSON {type(event).__name__}, not a Lambda event object")
    raw = event.get("Records")
    if not isinstance(raw, list):
        raise ValueError("payload has no Records list")
    records = []
    for index, item in enumerate(raw):
        try:
            record = record_from_lambda_event(item)
        except ValueError as exc:
            raise ValueError(f"payload record {index}: {exc}") from None
        if record.source != kind:
            raise ValueError(f"payload record {index} is a {record.source} record in a {kind} batch")
        if record.source == "dynamodb":  # DynamoDB event records carry no shard id
            record = replace(record, shard_id=shard_id)
        records.append(record)
    return records


def parse_invocation_record(body: str) -> FailedBatch:
    """Parse an on-failure destination document (SQS body, SNS message or S3 object).

    SNS notifications delivered to SQS without raw message delivery are unwrapped. The batch
    info is checked field by field; a ``payload`` that cannot be used is recorded in
    :attr:`FailedBatch.payload_error` (the message is then reported ``incomplete``).

    Args:
        body: The JSON text.

    Returns:
        The failed batch.

    Raises:
        MessageError: Not an on-failure record (``unrecognised``), or one whose batch info is
            invalid (``malformed``).
    """
    try:
        document = _load_json(body, "the message")
        if isinstance(document, dict) and document.get("Type") == "Notification":
            message = document.get("Message")
            if not isinstance(message, str):
                raise ValueError("the SNS notification has no Message string")
            document = _load_json(message, "the SNS Message")
    except ValueError as exc:
        raise MessageError("unrecognised", str(exc)) from None
    if not isinstance(document, dict):
        raise MessageError("unrecognised", f"a JSON {type(document).__name__}, not an object")
    kind: Literal["kinesis", "dynamodb"]
    if "KinesisBatchInfo" in document:
        kind, info = "kinesis", document["KinesisBatchInfo"]
    elif "DDBStreamBatchInfo" in document:
        kind, info = "dynamodb", document["DDBStreamBatchInfo"]
    else:
        raise MessageError("unrecognised", "neither KinesisBatchInfo nor DDBStreamBatchInfo "
                           "in the message")
    if not isinstance(info, dict):
        raise MessageError("malformed", f"the batch info is a JSON {type(info).__name__}, "
                           "not an object")
    arn, shard, start, end, size = _batch_info(info, kind)
    records, payload_error = None, None
    payload = document.get("payload")
    if payload is not None:
        try:
            records = _payload_records(payload, kind, shard)
        except ValueError as exc:
            payload_error = str(exc)
    return FailedBatch(kind=kind, info=info, stream_arn=arn, shard_id=shard, start=start,
                       end=end, batch_size=size, records=records, payload_error=payload_error)

