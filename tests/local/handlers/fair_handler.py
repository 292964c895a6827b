"""A pipeline_handler worker for the fair-queue scenario: message ``{"poison": true}`` fails.

``PROCESSED`` gets ``(n, tenant)`` of every message processed, the tenant being the record's
``partition_key`` (its ``MessageGroupId``).
"""

from __future__ import annotations

from typing import Any

from event_pipeline_runtime import ConsumerRecord, pipeline_handler

PROCESSED: list[tuple[int, str | None]] = []


def _process(record: ConsumerRecord) -> None:
    if record.body.get("poison"):
        raise ValueError(f"poison message {record.message_id}")
    PROCESSED.append((record.body["n"], record.partition_key))


handler: Any = pipeline_handler(_process, source="sqs")
