"""Lambda's stream event records: the one strict decoder, and the builder, of their shape.

:func:`record_from_lambda_event` reads one record of a Kinesis or DynamoDB Streams Lambda event
back into a :class:`SourceRecord`, checking every field (used by the redrive tool on S3
on-failure objects); :func:`kinesis_event_record`, :func:`dynamodb_event_record` and
:func:`lambda_event` build the events as Lambda delivers them (the local runner and the tools'
targets); :func:`strict_b64decode` is the one base64 check (also used by the consumer).

Stdlib only: the command-line tools, the local runner and the Lambda layer import the same code.
Event shapes: "Using AWS Lambda with Amazon Kinesis" and "Using AWS Lambda with Amazon DynamoDB"
(Lambda Developer Guide, https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html and
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html), example events.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from event_pipeline_runtime.contract import MAX_PARTITION_KEY_CHARS

__all__ = [
    "DYNAMODB_EVENT_VERSION",
    "EVENT_VERSION",
    "KINESIS_SCHEMA_VERSION",
    "SEQUENCE_NUMBER",
    "SourceRecord",
    "UnreadableRecordError",
    "dynamodb_event_record",
    "jsonable",
    "kinesis_event_record",
    "lambda_event",
    "record_from_lambda_event",
    "require_item_identifiers",
    "short",
    "strict_b64decode",
]

_a2b = binascii.a2b_base64

#: Lambda's event record version fields (documented Kinesis / DynamoDB event examples).
KINESIS_SCHEMA_VERSION = "1.0"
EVENT_VERSION = "1.0"
DYNAMODB_EVENT_VERSION = "1.1"


@dataclass(frozen=True)
class SourceRecord:
    """One record of a Kinesis stream or a DynamoDB stream.

    Attributes:
        source: ``kinesis`` or ``dynamodb``.
        stream_arn: The ARN of the stream the record belongs to.
        shard_id: Its shard.
        sequence_number: Its sequence number (a decimal string; compare as ``int`` only
            within one shard).
        partition_key: Kinesis partition key (None for DynamoDB).
        data: Kinesis data blob (None for DynamoDB).
        arrival: Approximate arrival (Kinesis) or creation (DynamoDB) time, if known.
        dynamodb: The DynamoDB stream record's ``dynamodb`` map and event fields, as
            GetRecords returns them (None for Kinesis).
    """

    source: Literal["kinesis", "dynamodb"]
    stream_arn: str
    shard_id: str
    sequence_number: str
    partition_key: str | None = None
    data: bytes | None = None
    arrival: datetime | None = None
    dynamodb: dict[str, Any] | None = None

    @property
    def region(self) -> str:
        """The region from the stream ARN."""
        return self.stream_arn.split(":")[3] if self.stream_arn.count(":") >= 5 else ""

    @property
    def seq(self) -> int:
        """The sequence number as an integer."""
        return int(self.sequence_number)

    @property
    def event_id(self) -> str:
        """Lambda's ``eventID`` for a Kinesis record: ``shardId:sequenceNumber``."""
        return f"{self.shard_id}:{self.sequence_number}"


def kinesis_event_record(record: SourceRecord, identity_arn: str = "") -> dict[str, Any]:
    """The record as Lambda puts it in a Kinesis event (``event["Records"][i]``).

    Args:
        record: A Kinesis record.
        identity_arn: ``invokeIdentityArn`` (the caller's ARN when known).

    Returns:
        A JSON-ready dict.
    """
    assert record.data is not None and record.partition_key is not None
    arrival = record.arrival.timestamp() if record.arrival is not None else 0.0
    return {
        "kinesis": {
            "kinesisSchemaVersion": KINESIS_SCHEMA_VERSION,
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": base64.b64encode(record.data).decode("ascii"),
            "approximateArrivalTimestamp": round(arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": EVENT_VERSION,
        "eventID": record.event_id,
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": identity_arn,
        "awsRegion": record.region,
        "eventSourceARN": record.stream_arn,
    }


def dynamodb_event_record(record: SourceRecord) -> dict[str, Any]:
    """The record as Lambda puts it in a DynamoDB Streams event.

    Args:
        record: A DynamoDB stream record.

    Returns:
        A JSON-ready dict (binary attributes base64-encoded, times as epoch seconds).
    """
    assert record.dynamodb is not None
    event = jsonable(dict(record.dynamodb))
    event.setdefault("eventSource", "aws:dynamodb")
    event.setdefault("eventVersion", DYNAMODB_EVENT_VERSION)
    event.setdefault("awsRegion", record.region)
    event["eventSourceARN"] = record.stream_arn
    return event


def lambda_event(records: list[SourceRecord], identity_arn: str = "") -> dict[str, Any]:
    """A Lambda stream event for a batch from one source.

    Args:
        records: The batch (all Kinesis or all DynamoDB).
        identity_arn: ``invokeIdentityArn`` for Kinesis records.

    Returns:
        ``{"Records": [...]}``.
    """
    return {
        "Records": [
            kinesis_event_record(r, identity_arn)
            if r.source == "kinesis"
            else dynamodb_event_record(r)
            for r in records
        ]
    }


#: A Kinesis or DynamoDB Streams sequence number: decimal digits (Kinesis allows up to 128).
SEQUENCE_NUMBER = re.compile(r"[0-9]{1,128}", re.ASCII)


def _sequence_number(value: Any, where: str) -> str:
    if not isinstance(value, str) or not SEQUENCE_NUMBER.fullmatch(value):
        raise ValueError(f"{where} is not a sequence number (decimal digits): {short(value)}")
    return value


def _epoch(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} is not epoch seconds: {short(value)}")
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"{where} is out of range: {short(value)}") from exc


def strict_b64decode(value: Any, where: str) -> bytes:
    """Decode base64 strictly: only the alphabet and correct padding, nothing around it.

    The one base64 check of the library (the consumer, the tools and the local runner use it):
    ``binascii.a2b_base64(strict_mode=True)``, the same check as ``base64.b64decode(validate=True)``
    (junk, whitespace or newlines anywhere, missing or excess padding, data after the padding are
    all refused; nothing is skipped).

    Args:
        value: The text.
        where: What it is, for the error message.

    Returns:
        The bytes.

    Raises:
        ValueError: ``"<where> is not valid base64: <why>"``: not a string, or not strict base64.
    """
    if not isinstance(value, str):
        raise ValueError(f"{where} is not valid base64: not a string ({short(value)})")
    try:
        return _a2b(value, strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII characters
        raise ValueError(f"{where} is not valid base64: {exc}") from exc


def record_from_lambda_event(event_record: Any) -> SourceRecord:
    """Rebuild a :class:`SourceRecord` from one record of a Lambda stream event.

    Used for S3 on-failure objects, whose ``payload`` holds the original event. Every field
    the tools rely on is checked: sequence numbers are decimal strings, Kinesis ``data`` is
    strict base64, ``eventID`` is ``shardId:sequenceNumber``. DynamoDB records carry no
    shard id (the caller takes it from the batch info).

    Args:
        event_record: One element of ``event["Records"]``.

    Returns:
        The record.

    Raises:
        ValueError: Not a well-formed Kinesis or DynamoDB Streams event record.
    """
    if not isinstance(event_record, dict):
        raise ValueError(f"not a JSON object: {short(event_record)}")
    source = event_record.get("eventSource")
    arn = event_record.get("eventSourceARN")
    if not isinstance(arn, str) or not arn:
        raise ValueError("eventSourceARN missing or not a string")
    if source == "aws:kinesis":
        kinesis = event_record.get("kinesis")
        if not isinstance(kinesis, dict):
            raise ValueError("'kinesis' missing or not an object")
        sequence = _sequence_number(kinesis.get("sequenceNumber"), "kinesis.sequenceNumber")
        key = kinesis.get("partitionKey")
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_PARTITION_KEY_CHARS:
            raise ValueError(f"kinesis.partitionKey is not a 1-256 character string: {short(key)}")
        event_id = event_record.get("eventID")
        shard_id, sep, id_sequence = event_id.rpartition(":") if isinstance(event_id, str) else ("", "", "")
        if not sep or not shard_id or id_sequence != sequence:
            raise ValueError(f"eventID is not 'shardId:{sequence}': {short(event_id)}")
        return SourceRecord(
            source="kinesis",
            stream_arn=arn,
            shard_id=shard_id,
            sequence_number=sequence,
            partition_key=key,
            data=strict_b64decode(kinesis.get("data"), "kinesis.data"),
            arrival=_epoch(kinesis.get("approximateArrivalTimestamp"),
                           "kinesis.approximateArrivalTimestamp"),
        )
    if source == "aws:dynamodb":
        body = {k: v for k, v in event_record.items() if k != "eventSourceARN"}
        dynamodb = body.get("dynamodb")
        if not isinstance(dynamodb, dict):
            raise ValueError("'dynamodb' missing or not an object")
        return SourceRecord(
            source="dynamodb",
            stream_arn=arn,
            shard_id="",
            sequence_number=_sequence_number(dynamodb.get("SequenceNumber"),
                                             "dynamodb.SequenceNumber"),
            arrival=_epoch(dynamodb.get("ApproximateCreationDateTime"),
                           "dynamodb.ApproximateCreationDateTime"),
            dynamodb=body,
        )
    raise ValueError(f"eventSource is not aws:kinesis or aws:dynamodb: {short(source)}")


class UnreadableRecordError(ValueError):
    """A record of a Lambda event has no item identifier, so it cannot be reported as one failed
    record: the invocation fails as a whole (Lambda retries the batch; bisect isolates the record)."""


_IDENTIFIERS: dict[str, tuple[str, str]] = {
    # source -> (the object holding the identifier, its field): what batchItemFailures' itemIdentifier
    # is ("Reporting batch item failures", Lambda Developer Guide, per source).
    "kinesis": ("kinesis", "sequenceNumber"),
    "dynamodb": ("dynamodb", "SequenceNumber"),
}


def _no_identifier(raw: Any, source: str) -> str | None:
    if not isinstance(raw, dict):
        return f"not a JSON object ({short(raw)})"
    if source == "sqs":
        message_id = raw.get("messageId")
        return None if isinstance(message_id, str) and message_id else "'messageId' missing or not a string"
    holder, field = _IDENTIFIERS[source]
    inner = raw.get(holder)
    if not isinstance(inner, dict):
        return f"{holder!r} missing or not an object"
    value = inner.get(field)
    if not isinstance(value, str) or not SEQUENCE_NUMBER.fullmatch(value):
        return f"{holder}.{field} is not a sequence number (decimal digits): {short(value)}"
    return None


def require_item_identifiers(records: Any, source: str) -> None:
    """Raise one clear error when a record of a batch has no item identifier.

    A record the runtime cannot read but can name (its sequence number or message id) is one
    failed record of a partial batch response. One it cannot even name cannot be reported that
    way: the whole invocation fails, with the record's position and ``eventID`` in the message.

    Args:
        records: ``event["Records"]``.
        source: ``kinesis``, ``dynamodb`` or ``sqs``.

    Raises:
        UnreadableRecordError: ``record <index> of the batch (eventID <id>) has no item identifier:
            <reason>; the whole batch fails``.
    """
    for index, raw in enumerate(records if isinstance(records, list) else []):
        reason = _no_identifier(raw, source)
        if reason is not None:
            event_id = raw.get("eventID") if isinstance(raw, dict) else None
            raise UnreadableRecordError(
                f"record {index} of the batch (eventID {short(event_id)}) has no item identifier: {reason}; "
                "the whole batch fails"
            )


def short(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, cut to ``limit`` characters (for one-line messages).

    Args:
        value: Anything, possibly huge or hostile.
        limit: The longest result.

    Returns:
        The repr, ending with ``...`` when cut.
    """
    try:
        text = repr(value) if not isinstance(value, dict | list) else repr(value)[: limit + 1]
    except (RecursionError, ValueError):  # ValueError: int too large to convert to str
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def jsonable(value: Any) -> Any:
    """Convert boto3 / runtime values into JSON-ready ones.

    bytes become base64 text, datetimes epoch seconds, Decimals numbers, dataclasses dicts,
    sets lists.

    Args:
        value: Any value.

    Returns:
        A value ``json.dumps`` accepts.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
