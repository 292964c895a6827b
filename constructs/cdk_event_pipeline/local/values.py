"""Values between a test's plain Python and AWS's wire forms (DynamoDB numbers, Kinesis data, bodies)."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """DynamoDB's Decimal numbers as int / float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return {plain(v) for v in value}
    return value


def dynamo(value: Any) -> Any:
    """Python floats as Decimal (what boto3's serializer accepts)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dynamo(v) for v in value]
    return value


def json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def decode_data(data: str) -> Any:
    """Kinesis ``data`` as a test reads it: JSON, else UTF-8 text, else the base64 text itself
    (also when it is not valid base64: decoded strictly, never by skipping characters)."""
    try:
        raw = base64.b64decode(data, validate=True)
        return json_or_text(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return data


def payload(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    return json.dumps(data, default=str).encode("utf-8")
