"""Tracker: the team's own function (no layers), counting shipment events per carrier.

Plain Python and the standard library only: it runs without the library's layers, as any
function passed with ``function=`` may. It reports records it cannot decode as failed.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Count events per carrier; report undecodable records in ``batchItemFailures``."""
    per_carrier: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        try:
            envelope = json.loads(base64.b64decode(record["kinesis"]["data"]))
            per_carrier[str(envelope["data"].get("carrier", "unknown"))] += 1
        except (ValueError, KeyError, TypeError, AttributeError):
            failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
    print(json.dumps({"per_carrier": per_carrier}))
    return {"batchItemFailures": failures}
