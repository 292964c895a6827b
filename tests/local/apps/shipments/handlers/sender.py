"""Send a customer notification; an undeliverable address fails the message."""

from __future__ import annotations

import json
from typing import Any

SENT: list[tuple[str, str]] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        notice = json.loads(record["body"])
        if failures or "@" not in notice["email"]:
            # FIFO: after the first failure, report it and every later message of the batch.
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        SENT.append((record["attributes"]["MessageGroupId"], notice["text"]))
    return {"batchItemFailures": failures}
