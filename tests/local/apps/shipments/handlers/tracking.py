"""Start tracking each shipment; a shipment without a carrier fails the whole batch."""

from __future__ import annotations

import base64
import json
from typing import Any

TRACKED: list[str] = []


def handler(event: dict[str, Any], context: Any) -> None:
    shipments = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    for shipment in shipments:
        if not shipment.get("carrier"):
            raise ValueError(f"shipment {shipment['shipment_id']} has no carrier")
    TRACKED.extend(s["shipment_id"] for s in shipments)
