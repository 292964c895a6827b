"""Small handlers for the runner's fidelity scenarios (Kinesis, DynamoDB Streams and SQS).

A record is poison when its JSON payload has ``"poison": true``. Every handler appends what it
processed to ``PROCESSED`` (its own copy per function: the runner isolates module namespaces).
"""

from __future__ import annotations

import base64
import json
from typing import Any

PROCESSED: list[str] = []
INVOCATIONS: list[list[str]] = []


def _payload(record: dict[str, Any]) -> dict[str, Any]:
    if "kinesis" in record:
        return json.loads(base64.b64decode(record["kinesis"]["data"]))
    if "dynamodb" in record:  # a DynamoDB Streams change: poison when the new image says so
        return {"poison": record["dynamodb"].get("NewImage", {}).get("poison", {}).get("BOOL", False)}
    return json.loads(record["body"])


def _ident(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    return record["messageId"]


def raise_on_poison(event: dict[str, Any], context: Any) -> None:
    """Fail the whole invocation (raise) when the batch holds a poison record."""
    INVOCATIONS.append([_ident(r) for r in event["Records"]])
    for record in event["Records"]:
        if _payload(record).get("poison"):
            raise ValueError(f"poison record {_ident(record)}")
    PROCESSED.extend(_ident(r) for r in event["Records"])


def report_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process every good record; report every poison one in ``batchItemFailures``."""
    INVOCATIONS.append([_ident(r) for r in event["Records"]])
    failures = []
    for record in event["Records"]:
        if _payload(record).get("poison"):
            failures.append({"itemIdentifier": _ident(record)})
        else:
            PROCESSED.append(_ident(record))
    return {"batchItemFailures": failures}
