"""Records read from a stream, the Lambda event shapes built from them, and time parsing."""

from __future__ import annotations

import base64
import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

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


def record_from_lambda_event(event_record: dict[str, Any]) -> SourceRecord:
    """Rebuild a :class:`SourceRecord` from one record of a Lambda stream event.

    Used for S3 on-failure objects, whose ``payload`` holds the original event.

    Args:
        event_record: One element of ``event["Records"]``.

    Returns:
        The record.

    Raises:
        ValueError: Neither a Kinesis nor a DynamoDB Streams event record.
    """
    source = event_record.get("eventSource")
    arn = str(event_record.get("eventSourceARN", ""))
    if source == "aws:kinesis" or "kinesis" in event_record:
        kinesis = event_record["kinesis"]
        shard_id = str(event_record.get("eventID", "")).rsplit(":", 1)[0]
        arrival = kinesis.get("approximateArrivalTimestamp")
        return SourceRecord(
            source="kinesis",
            stream_arn=arn,
            shard_id=shard_id,
            sequence_number=str(kinesis["sequenceNumber"]),
            partition_key=str(kinesis["partitionKey"]),
            data=base64.b64decode(kinesis["data"]),
            arrival=datetime.fromtimestamp(float(arrival), UTC) if arrival else None,
        )
    if source == "aws:dynamodb" or "dynamodb" in event_record:
        body = {k: v for k, v in event_record.items() if k != "eventSourceARN"}
        created = body.get("dynamodb", {}).get("ApproximateCreationDateTime")
        return SourceRecord(
            source="dynamodb",
            stream_arn=arn,
            shard_id="",
            sequence_number=str(body["dynamodb"]["SequenceNumber"]),
            arrival=datetime.fromtimestamp(float(created), UTC) if created else None,
            dynamodb=body,
        )
    raise ValueError("not a Kinesis or DynamoDB Streams event record")


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


_RELATIVE = re.compile(r"^-?(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """Parse a ``--from`` / ``--to`` value.

    Accepted: ISO 8601 (``2024-05-01T12:00:00Z``, an offset, or naive = UTC), Unix epoch
    seconds (``1714564800`` or with a fraction), or a duration ago (``15m``, ``-2h``, ``1d``;
    units s, m, h, d, w).

    Args:
        text: The value.
        now: "Now" for relative values (default: the current time).

    Returns:
        An aware UTC datetime.

    Raises:
        ValueError: Not a recognised time.
    """
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"not a time: {text!r} (use ISO 8601, epoch seconds, or a duration ago like 2h)"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
