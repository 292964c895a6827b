"""Tumbling windows on the local runner's stream lanes (``TumblingWindowInSeconds``).

Lambda's semantics ("Implementing stateful Kinesis Data Streams processing in Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html, and the DynamoDB Streams
page, services-ddb-windows.html), as :class:`~.streams.StreamPoller` runs them:

* windows are aligned intervals of the records' arrival times ("Lambda determines tumbling window
  boundaries based on the time when records were inserted into the stream"); a batch holds records of
  one window;
* the event carries ``window``, ``state``, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow``
  and ``isWindowTerminatedEarly``; the response's ``state`` (read by
  :func:`event_pipeline_runtime.batch_response.read_batch_response` with ``window=True``: a response
  without one is a failed invocation) goes to the next invocation of the window, also after a
  partial batch response (the failed records come back with it);
* when the window ends (the next record belongs to a later window, or the lane's clock reaches the
  window's end) the function is invoked once more with no records, the final state and
  ``isFinalInvokeForWindow: true``, retried until it succeeds ("If invocation is unsuccessful, your
  Lambda function suspends further processing until a successful invocation"); the next window
  starts with a fresh state (``{}``);
* a state over 1 MB (:data:`event_pipeline_runtime.contract.WINDOW_STATE_LIMIT_BYTES`) ends the window
  early: a final invocation with ``isWindowTerminatedEarly: true``, then the window goes on with a
  fresh state.

Retries, record age, bisect and partial responses apply as without windows.
"""

from __future__ import annotations

import json
import math
from typing import Any

from event_pipeline_runtime.contract import WINDOW_STATE_LIMIT_BYTES, window_state_json

from .stream_lanes import Lane, iso

__all__ = ["WINDOW_STATE_LIMIT_BYTES", "close_window", "keep_state", "window_detail", "window_fields", "window_of"]


def window_of(arrival: float, size_seconds: int) -> float:
    """The start of the window a record that arrived at ``arrival`` belongs to (epoch seconds)."""
    return math.floor(arrival / size_seconds) * size_seconds


def window_fields(lane: Lane, stream_arn: str, *, final: bool, terminated_early: bool) -> dict[str, Any]:
    """The tumbling-window fields of an invocation event (a fresh copy of the state); ``{}`` without a window."""
    window = lane.window
    if window is None:
        return {}
    return {
        "window": {"start": iso(window.start), "end": iso(window.end)},
        "state": json.loads(json.dumps(window.state)),
        "shardId": lane.shard_id,
        "eventSourceARN": stream_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": terminated_early,
    }


def window_detail(lane: Lane, *, final: bool = False, early: bool = False) -> dict[str, Any]:
    """What an ``invoke`` event says about the window; ``{}`` without a window."""
    if lane.window is None:
        return {}
    return {"window": {"start": iso(lane.window.start), "end": iso(lane.window.end)},
            "final_window": final, "terminated_early": early}


def keep_state(lane: Lane, state: Any) -> bool:
    """Keep a response's state for the window's next invocation; True when it is over the 1 MB limit
    (Lambda then ends the window early)."""
    assert lane.window is not None
    lane.window.state = state
    return len(window_state_json(state, strict=False).encode("utf-8")) > WINDOW_STATE_LIMIT_BYTES


def close_window(lane: Lane, *, terminated_early: bool) -> None:
    """After a successful final invocation: the window ends, or (terminated early) goes on with a fresh state."""
    assert lane.window is not None
    if terminated_early:
        lane.window.state = {}
    else:
        lane.window = None
