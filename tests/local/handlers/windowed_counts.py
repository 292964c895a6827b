"""A tumbling-window consumer built on the runtime's ``window_handler``: counts records per event
``data.key`` across the invocations of a window and, on the final one, writes the aggregate to the
table ``TABLE_NAME`` (one item per window, keyed by ``window.key``, written idempotently)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3

from event_pipeline_runtime import ConsumerRecord, WindowInfo, window_handler

FOLDS: list[tuple[str | None, dict[str, Any]]] = []  # (sequence number, state before), in order
EMITS: list[dict[str, Any]] = []

_log = logging.getLogger("windowed_counts")
_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def count(state: dict[str, Any], record: ConsumerRecord, window: WindowInfo) -> dict[str, Any]:
    FOLDS.append((record.sequence_number, dict(state)))
    envelope = record.require_envelope()
    if envelope.data.get("poison"):
        raise ValueError("poison record")
    key = str(envelope.data["key"])
    return {**state, key: state.get(key, 0) + 1}


def emit(state: dict[str, Any], window: WindowInfo) -> None:
    EMITS.append({"state": state, "start": window.start.isoformat(), "early": window.terminated_early,
                  "key": window.key})
    _table.put_item(Item={"id": window.key, "counts": json.dumps(state, sort_keys=True)})


handler = window_handler(count, source="kinesis", on_window_end=emit, logger=_log)
