"""Small handlers for the runner's fidelity scenarios (Kinesis, DynamoDB Streams and SQS).

A record is poison when its JSON payload has ``"poison": true``. Every handler appends what it
processed to ``PROCESSED`` and the identifiers of each batch to ``INVOCATIONS`` (their own
copies per function: the runner isolates module namespaces).
"""

from __future__ import annotations

import _thread
import base64
import json
import sys
import threading
import time
from typing import Any

PROCESSED: list[str] = []
INVOCATIONS: list[list[str]] = []
EVENT_SIZES: list[int] = []
WINDOW_EVENTS: list[dict[str, Any]] = []
FINISHED: list[str] = []
THREADS: list[int] = []
RECORDS: list[dict[str, Any]] = []
_NEVER = threading.Event()


def _payload(record: dict[str, Any]) -> dict[str, Any]:
    if "kinesis" in record:
        try:
            return json.loads(base64.b64decode(record["kinesis"]["data"]))
        except ValueError:
            return {}
    if "dynamodb" in record:  # a DynamoDB Streams change: poison when the new image says so
        return {"poison": record["dynamodb"].get("NewImage", {}).get("poison", {}).get("BOOL", False)}
    try:
        body = json.loads(record["body"])
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _ident(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    return record["messageId"]


def _start(event: dict[str, Any]) -> list[dict[str, Any]]:
    THREADS.append(threading.get_ident())
    INVOCATIONS.append([_ident(r) for r in event["Records"]])
    EVENT_SIZES.append(len(json.dumps(event).encode("utf-8")))
    return event["Records"]


def raise_on_poison(event: dict[str, Any], context: Any) -> None:
    """Fail the whole invocation (raise) when the batch holds a poison record."""
    records = _start(event)
    for record in records:
        if _payload(record).get("poison"):
            raise ValueError(f"poison record {_ident(record)}")
    PROCESSED.extend(_ident(r) for r in records)


def report_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process every good record; report every poison one in ``batchItemFailures``."""
    failures = []
    for record in _start(event):
        if _payload(record).get("poison"):
            failures.append({"itemIdentifier": _ident(record)})
        else:
            PROCESSED.append(_ident(record))
    return {"batchItemFailures": failures}


def exit_on_poison(event: dict[str, Any], context: Any) -> None:
    """``sys.exit(3)`` when the batch holds a poison record (Lambda: a runtime exit, a function error)."""
    records = _start(event)
    if any(_payload(r).get("poison") for r in records):
        sys.exit(3)
    PROCESSED.extend(_ident(r) for r in records)


def keyboard_interrupt_on_poison(event: dict[str, Any], context: Any) -> None:
    """Raise KeyboardInterrupt itself on poison (the handler's own exception: a function error)."""
    records = _start(event)
    if any(_payload(r).get("poison") for r in records):
        raise KeyboardInterrupt
    PROCESSED.extend(_ident(r) for r in records)


def slow_on_poison(event: dict[str, Any], context: Any) -> None:
    """Run for up to 30 s on a poison record (far beyond a 1 s timeout), then mark it finished."""
    records = _start(event)
    if any(_payload(r).get("poison") for r in records):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _NEVER.wait(0.01)  # short waits: the runner can stop this thread between them
        FINISHED.extend(_ident(r) for r in records)
        return
    PROCESSED.extend(_ident(r) for r in records)


def interrupt_runner(event: dict[str, Any], context: Any) -> None:
    """Stand-in for the user pressing Ctrl-C while a handler runs (SIGINT reaches the main thread)."""
    _start(event)
    _thread.interrupt_main()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _NEVER.wait(0.01)
    FINISHED.append("interrupted handler ran to its end")


def count_per_key(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Tumbling-window aggregation: count records per partition key in the state."""
    WINDOW_EVENTS.append({k: v for k, v in event.items() if k != "Records"} | {"count": len(event["Records"])})
    state = dict(event["state"])
    for record in _start(event):
        key = record["kinesis"]["partitionKey"]
        state[key] = state.get(key, 0) + 1
        PROCESSED.append(_ident(record))
    return {"state": state}


def huge_state_once(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Tumbling window whose first aggregation returns a state over 1 MB."""
    WINDOW_EVENTS.append({k: v for k, v in event.items() if k != "Records"} | {"count": len(event["Records"])})
    _start(event)
    if event["isFinalInvokeForWindow"]:
        return {"state": {}}
    state = dict(event["state"])
    if not any(w.get("isWindowTerminatedEarly") for w in WINDOW_EVENTS):
        state["padding"] = "x" * (1024 * 1024 + 1)
    state["n"] = state.get("n", 0) + len(event["Records"])
    return {"state": state}


def no_state(event: dict[str, Any], context: Any) -> None:
    """A tumbling-window handler that forgets to return its state."""
    _start(event)


def process_all(event: dict[str, Any], context: Any) -> None:
    """Process every record (a healthy consumer)."""
    PROCESSED.extend(_ident(r) for r in _start(event))


def returns_text(event: dict[str, Any], context: Any) -> str:
    """Processes nothing and answers with a string (not a batch response object)."""
    _start(event)
    return "OK"


def record_all(event: dict[str, Any], context: Any) -> None:
    """Keep every event record as delivered (``RECORDS``) and succeed."""
    RECORDS.extend(_start(event))
