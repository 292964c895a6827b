r"""Decoding, one function per event source: a Lambda event record -> the :class:`ConsumerRecord`\ s
``process`` gets (see :mod:`event_pipeline_runtime.consumer` for the failure semantics).

Also: which group (shard, FIFO message group) a record belongs to, for the ordering rule, and its
item identifier in a partial batch response. Needs no Powertools (boto3 only for DynamoDB images).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from event_pipeline_runtime.aggregation import AGGREGATION_MAGIC
from event_pipeline_runtime.codec import GZIP_MAGIC, DecodeError, DecodeLimitError, decode_json_text, decode_record_data
from event_pipeline_runtime.contract import MAX_DECOMPRESSED_BYTES_ENV
from event_pipeline_runtime.envelope import Envelope, EnvelopeError, envelope_error, parse_envelope
from event_pipeline_runtime.lambda_events import short, strict_b64decode

__all__ = ["DECODERS", "GROUPS", "ConsumerRecord", "UnsupportedVersionError", "item_identifier"]

_decode_json = decode_json_text  # json.loads minus its wrapper; refuses NaN and infinities

#: A DynamoDB number as text ("Data types", DynamoDB Developer Guide: numbers are sent as strings); no
#: NaN, no Infinity, nothing else.
NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", re.ASCII)


class UnsupportedVersionError(ValueError):
    """An envelope's version is not one the handler supports."""



@dataclass(slots=True)
class ConsumerRecord:
    """One user record handed to ``process``.

    Attributes:
        body: The decoded JSON value (Kinesis, SQS) or, for DynamoDB Streams, the new image
            (the old image for REMOVE, the keys when the stream carries no image).
        envelope: The envelope when ``body`` is envelope-shaped (never for DynamoDB).
        partition_key: Kinesis partition key (the user record's, inside KPL aggregates); the
            ``MessageGroupId`` for SQS (a FIFO queue's group, a fair queue's tenant); else None.
        sequence_number: Kinesis / DynamoDB sequence number; SQS FIFO ``SequenceNumber``.
        shard_id: Kinesis shard id (from ``eventID``); else None.
        event_source: ``"aws:kinesis"``, ``"aws:sqs"`` or ``"aws:dynamodb"``.
        raw: The original event record.
        message_id: SQS ``messageId``.
        new_image: DynamoDB ``NewImage`` as plain Python (boto3 ``TypeDeserializer``).
        old_image: DynamoDB ``OldImage`` as plain Python.
        event_name: DynamoDB ``INSERT`` / ``MODIFY`` / ``REMOVE``.
        idempotency_key: The default idempotency key (see the module docstring).
        sub_sequence: Index inside a KPL aggregated record; None when not aggregated.
        keys: DynamoDB ``Keys`` as plain Python; else None.
    """

    body: Any
    envelope: Envelope | None
    partition_key: str | None
    sequence_number: str | None
    shard_id: str | None
    event_source: str
    raw: dict[str, Any]
    message_id: str | None = None
    new_image: dict[str, Any] | None = None
    old_image: dict[str, Any] | None = None
    event_name: str | None = None
    idempotency_key: str = ""
    sub_sequence: int | None = None
    keys: dict[str, Any] | None = None

    @property
    def data(self) -> Any:
        """The envelope's ``data`` when there is an envelope, else ``body``."""
        envelope = self.envelope
        return envelope.data if envelope is not None else self.body

    @property
    def type(self) -> str | None:
        """The envelope's ``type``, or None."""
        envelope = self.envelope
        return envelope.type if envelope is not None else None

    @property
    def envelope_error(self) -> str | None:
        """Why ``body`` is not a valid envelope; None when :attr:`envelope` is set."""
        if self.envelope is not None:
            return None
        if self.event_source == "aws:dynamodb":
            return "a DynamoDB stream record carries no envelope"
        return envelope_error(self.body) or "not an envelope"

    def require_envelope(self) -> Envelope:
        """The envelope; raise when the record has none.

        Returns:
            :attr:`envelope`.

        Raises:
            EnvelopeError: When ``body`` is not a valid envelope; the message names the record
                and the broken rule (e.g. ``envelope version must be an integer (given '1' (str))``).
        """
        envelope = self.envelope
        if envelope is not None:
            return envelope
        raise EnvelopeError(f"{self.where}: {self.envelope_error}")

    @property
    def where(self) -> str:
        """The record named for messages: ``Kinesis record <seq>[ user record <n>]``, ..."""
        if self.event_source == "aws:sqs":
            return f"SQS message {self.message_id}"
        if self.event_source == "aws:dynamodb":
            return f"DynamoDB stream record {self.sequence_number}"
        if self.sub_sequence is not None:
            return f"Kinesis record {self.sequence_number} user record {self.sub_sequence}"
        return f"Kinesis record {self.sequence_number}"


def _check_version(envelope: Envelope, supported: Collection[int], where: str) -> None:
    if envelope.version not in supported:
        raise UnsupportedVersionError(
            f"{where}: envelope version {envelope.version} of event type {envelope.type!r} "
            f"(id {envelope.id!r}) is not supported (supported: {sorted(supported)})"
        )


def _kinesis_fields(raw: dict[str, Any]) -> tuple[dict[str, Any], Any, str]:
    """``(kinesis, sequenceNumber, partitionKey)``, or a :class:`DecodeError` naming what is missing."""
    kinesis = raw.get("kinesis")  # the batch checked it has one (require_item_identifiers); a caller may not
    if not isinstance(kinesis, dict):
        raise DecodeError(f"Kinesis record (eventID {short(raw.get('eventID'))}): 'kinesis' missing or not an object")
    sequence = kinesis.get("sequenceNumber")
    partition_key = kinesis.get("partitionKey")
    if not isinstance(partition_key, str):
        raise DecodeError(f"Kinesis record {sequence}: kinesis.partitionKey missing or not a string")
    return kinesis, sequence, partition_key


def _kinesis_records(raw: dict[str, Any], supported: Collection[int], limit: int) -> list[ConsumerRecord]:
    kinesis, sequence, partition_key = _kinesis_fields(raw)
    event_id = raw.get("eventID")
    shard = event_id.partition(":")[0] if isinstance(event_id, str) and event_id else None
    try:
        data = strict_b64decode(kinesis.get("data"), "data")
    except ValueError as exc:
        raise DecodeError(f"Kinesis record {sequence}: {exc}") from exc
    head = data[:4]
    if head != AGGREGATION_MAGIC and head[:2] != GZIP_MAGIC:
        # Hot path: one plain JSON user record.
        if len(data) > limit:
            raise DecodeLimitError(
                f"Kinesis record {sequence}: payload is {len(data)} bytes of JSON text, over the limit "
                f"of {limit} bytes (set by {MAX_DECOMPRESSED_BYTES_ENV} or the function's memory)"
            )
        try:
            body = _decode_json(data.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
            raise DecodeError(f"Kinesis record {sequence}: payload is not UTF-8 JSON: {exc}") from exc
        except RecursionError as exc:
            raise DecodeError(f"Kinesis record {sequence}: payload is JSON nested too deeply to parse") from exc
        envelope = parse_envelope(body)
        if envelope is not None:
            if envelope.version not in supported:
                _check_version(envelope, supported, f"Kinesis record {sequence}")
            key = envelope.id
        else:
            key = f"{shard}:{sequence}"
        return [
            ConsumerRecord(
                body, envelope, partition_key, sequence, shard, "aws:kinesis", raw, None, None, None, None, key
            )
        ]
    try:
        decoded = decode_record_data(data, partition_key, max_decompressed_bytes=limit)
    except DecodeError as exc:
        raise type(exc)(f"Kinesis record {sequence}: {exc}") from exc
    out = []
    for user in decoded:
        envelope = user.envelope
        sub = user.sub_sequence
        where = f"Kinesis record {sequence}" if sub is None else f"Kinesis record {sequence} user record {sub}"
        if envelope is not None:
            _check_version(envelope, supported, where)
            key = envelope.id
        elif sub is None:
            key = f"{shard}:{sequence}"
        else:
            key = f"{shard}:{sequence}:{sub}"
        out.append(
            ConsumerRecord(
                user.body, envelope, user.partition_key, sequence, shard, "aws:kinesis", raw,
                idempotency_key=key, sub_sequence=sub,
            )
        )
    return out


def _sqs_records(raw: dict[str, Any], supported: Collection[int], limit: int) -> list[ConsumerRecord]:
    message_id = raw["messageId"]
    body_text = raw.get("body")
    if not isinstance(body_text, str):
        raise DecodeError(f"SQS message {message_id}: no body")
    if len(body_text) > limit:
        raise DecodeLimitError(
            f"SQS message {message_id}: body is {len(body_text)} characters of JSON text, over the limit "
            f"of {limit} (set by {MAX_DECOMPRESSED_BYTES_ENV} or the function's memory)"
        )
    try:
        body = _decode_json(body_text)
    except ValueError as exc:
        raise DecodeError(f"SQS message {message_id}: body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise DecodeError(f"SQS message {message_id}: body is JSON nested too deeply to parse") from exc
    envelope = parse_envelope(body)
    if envelope is not None:
        _check_version(envelope, supported, f"SQS message {message_id}")
        key = envelope.id
    else:
        key = message_id
    attributes = raw.get("attributes") or {}
    return [
        ConsumerRecord(
            body, envelope, attributes.get("MessageGroupId"), attributes.get("SequenceNumber"), None,
            "aws:sqs", raw, message_id=message_id, idempotency_key=key,
        )
    ]


_deserializer: Any = None


def _deserialize_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    global _deserializer  # noqa: PLW0603 - one lazily built, stateless deserializer
    if image is None:
        return None
    if _deserializer is None:
        from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415 - only DynamoDB needs boto3

        _deserializer = TypeDeserializer()
    deserialize = _deserializer.deserialize
    return {name: deserialize(_binary_to_bytes(value)) for name, value in image.items()}


def _binary_to_bytes(value: Any) -> Any:
    """Lambda's DynamoDB Streams events carry ``B``/``BS`` values as base64 text; boto3's
    ``TypeDeserializer`` wants bytes. Decode them strictly, also inside ``M`` and ``L`` values."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (tag, inner), = value.items()
    if tag == "N" or tag == "NS":  # boto3 reads any text as a number (b"abc" -> Decimal('NaN')): refuse it
        for number in [inner] if tag == "N" else inner if isinstance(inner, list) else [inner]:
            if not isinstance(number, str) or not NUMBER.fullmatch(number):
                raise ValueError(f"{tag} value is not a number: {short(number)}")
        return value
    if tag == "B" and isinstance(inner, str):
        return {"B": strict_b64decode(inner, "B value")}
    if tag == "BS" and isinstance(inner, list):
        return {"BS": [strict_b64decode(v, "BS value") if isinstance(v, str) else v for v in inner]}
    if tag == "M" and isinstance(inner, dict):
        return {"M": {k: _binary_to_bytes(v) for k, v in inner.items()}}
    if tag == "L" and isinstance(inner, list):
        return {"L": [_binary_to_bytes(v) for v in inner]}
    return value


def _dynamodb_records(raw: dict[str, Any], supported: Collection[int], limit: int) -> list[ConsumerRecord]:
    change = raw.get("dynamodb")  # the batch checked it has one (require_item_identifiers); a caller may not
    event_id = raw.get("eventID")
    if not isinstance(change, dict):
        raise DecodeError(f"DynamoDB stream record (eventID {short(event_id)}): 'dynamodb' missing or not an object")
    keys_given = change.get("Keys")
    if not isinstance(keys_given, dict) or not keys_given:
        raise DecodeError(f"DynamoDB stream record {change.get('SequenceNumber')} (eventID {short(event_id)}): "
                          "'Keys' missing, empty or not an object")
    try:
        new_image = _deserialize_image(change.get("NewImage"))
        old_image = _deserialize_image(change.get("OldImage"))
        keys = _deserialize_image(change.get("Keys"))
    # binascii.Error is a ValueError; decimal's InvalidOperation / Inexact are ArithmeticErrors.
    except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise DecodeError(f"DynamoDB stream record {event_id}: cannot deserialize image: {exc}") from exc
    body = new_image if new_image is not None else old_image if old_image is not None else keys
    sequence = change.get("SequenceNumber")
    return [
        ConsumerRecord(
            body, None, None, sequence, None, "aws:dynamodb", raw,
            new_image=new_image, old_image=old_image, event_name=raw.get("eventName"),
            idempotency_key=str(event_id if event_id is not None else sequence), keys=keys,
        )
    ]


DECODERS: dict[str, Callable[[dict[str, Any], Collection[int], int], list[ConsumerRecord]]] = {
    "kinesis": _kinesis_records,
    "sqs": _sqs_records,
    "dynamodb": _dynamodb_records,
}


def _kinesis_group(raw: dict[str, Any]) -> str | None:
    event_id = raw.get("eventID")
    if event_id:
        return event_id.partition(":")[0]
    return raw.get("eventSourceARN") or ""


def _dynamodb_group(raw: dict[str, Any]) -> str | None:
    return raw.get("eventSourceARN") or ""


def _sqs_group(raw: dict[str, Any]) -> str | None:
    """The FIFO message group of an SQS record; None (no order to keep) on a standard queue.

    A standard queue's message may carry a ``MessageGroupId`` too: on a fair queue it names the
    tenant, and messages of one tenant are delivered in no order, in parallel ("Amazon SQS fair
    queues", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html).
    Only a FIFO queue (its name, so its ARN, ends in ``.fifo``) holds a group back after a failure.
    """
    if not str(raw.get("eventSourceARN") or "").endswith(".fifo"):
        return None
    attributes = raw.get("attributes")
    return attributes.get("MessageGroupId") if attributes else None


GROUPS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "kinesis": _kinesis_group,
    "sqs": _sqs_group,
    "dynamodb": _dynamodb_group,
}


def item_identifier(raw: dict[str, Any]) -> str | None:
    if "kinesis" in raw:
        return raw["kinesis"].get("sequenceNumber")
    if "messageId" in raw:
        return raw["messageId"]
    return (raw.get("dynamodb") or {}).get("SequenceNumber")
