"""Tumbling windows: :func:`window_handler`, the entry point of a consumer whose mapping has
``TumblingWindowInSeconds`` (the constructs' ``tumbling_window``).

AWS's contract ("Implementing stateful Kinesis Data Streams processing in Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html, and "... DynamoDB Streams
processing", https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html): each invocation
carries ``Records``, ``window`` ``{start, end}``, the ``state`` the previous invocation of the window
returned, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow`` and ``isWindowTerminatedEarly``;
the response is a ``TimeWindowEventResponse``, ``{"state": {...}, "batchItemFailures": [...]}``, and one
without ``state`` is a failed invocation. At the end of the window Lambda invokes the function once
more with ``isFinalInvokeForWindow: true`` ("the final state ... ready for processing"); a failed final
invocation is retried until it succeeds. The state is at most 1 MB per shard.

What :func:`window_handler` does with it:

* **Fold.** ``fold(state, record, window)`` is called once per user record, in order, with the
  decoded :class:`~event_pipeline_runtime.ConsumerRecord` (the same decoding, envelope checks and
  hop limit as :func:`~event_pipeline_runtime.pipeline_handler`: one decoder, one batch processor),
  and returns the new state (a JSON object). The state a fold is given is a fresh copy (JSON
  round-trip) for every event record, so a fold may change it in place.
* **Partial failures** (the mapping's ``ReportBatchItemFailures``, which the constructs turn on).
  A record ``fold`` raises on, or that cannot be decoded, fails *with no trace in the state*: the
  state goes back to what it was before that event record (for a KPL aggregate: before its first
  user record). As in ``pipeline_handler``, the later records of the shard are not folded and are
  reported failed too. The response then carries the state of exactly the records before the
  first failure, with the failed ones in ``batchItemFailures``: Lambda checkpoints before the
  lowest failed record and retries from there ("Reporting batch item failures"), passing that
  state to the retry (the ``TimeWindowEventResponse`` carries both fields), so a retried record is
  never counted twice. A function error (the handler raising) keeps Lambda's previous state.
* **State limit.** A state whose JSON text is over 1 MB
  (:data:`~event_pipeline_runtime.contract.WINDOW_STATE_LIMIT_BYTES`) is refused: the record whose
  fold made it so fails with :class:`WindowStateError` (so does a state that is not a JSON object or
  holds a value JSON cannot carry). Lambda would otherwise end the window early; here the record
  comes back, and after the mapping's retries reaches the on-failure destination with the reason
  logged. Keep the state small: it is copied once per record.
* **The end of the window.** On the final invocation (``window.is_final``) the handler folds any
  records it carries, then calls ``on_window_end(state, window)`` with the window's aggregate
  (``window.terminated_early`` says the aggregate is partial: Lambda ended the window early and the
  window goes on with a fresh state). Whatever ``on_window_end`` does is the emit: write the
  aggregate to a table, put it on a stream. If it raises, the invocation fails and Lambda retries the
  final invocation, with the same state, until it succeeds, so the emit may run more than once:
  write it idempotently, keyed by ``window.key``. A final invocation with a record that fails
  raises :class:`WindowIncompleteError` instead of emitting an aggregate without that record.
* **Hops.** The recursion guard follows the aggregate: the most hops of any record folded in the
  window travel in the state (under the reserved key :data:`HOPS_STATE_KEY`, hidden from ``fold``
  and ``on_window_end``), and ``on_window_end`` runs with that hop count, so an
  :class:`~event_pipeline_runtime.EventProducer` in it writes one more, and an aggregate that loops
  back into its own source stops after ``max_hops`` passes.
* **No idempotency on the fold.** ``pipeline_handler``'s idempotency skips a record whose key was
  applied; in a window that would lose the record's contribution whenever the state it went into
  was not returned (a timeout, a crash). The fold is a pure function of Lambda's state instead, and
  the side effect (``on_window_end``) is keyed by ``window.key``. ``IDEMPOTENCY_TABLE_NAME`` is not
  used here (a warning says so once when it is set).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from aws_lambda_powertools.utilities.batch import process_partial_response

from event_pipeline_runtime.consumer import HandlerSettings, decoded_records, handler_settings
from event_pipeline_runtime.contract import (
    IDEMPOTENCY_TABLE_ENV,
    MAX_HOPS_LIMIT,
    WINDOW_STATE_LIMIT_BYTES,
    window_state_json,
)
from event_pipeline_runtime.hops import consuming
from event_pipeline_runtime.sources import ConsumerRecord

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from event_pipeline_runtime.batch import PipelineBatchProcessor

__all__ = [
    "HOPS_STATE_KEY",
    "WindowEventError",
    "WindowHandler",
    "WindowIncompleteError",
    "WindowInfo",
    "WindowStateError",
    "window_handler",
]

#: The key of the state under which the window's most hops travel (hidden from the user's functions).
HOPS_STATE_KEY = "eventPipeline:hops"

Fold = Callable[[dict[str, Any], ConsumerRecord, "WindowInfo"], dict[str, Any]]
OnWindowEnd = Callable[[dict[str, Any], "WindowInfo"], Any]


class WindowEventError(ValueError):
    """The event is not a tumbling-window event (the invocation fails as a whole)."""


class WindowStateError(ValueError):
    """The state a fold returned is not a JSON object, holds a value JSON cannot carry, or is over 1 MB."""


class WindowIncompleteError(RuntimeError):
    """A record of a final invocation failed: the aggregate is not emitted, the invocation fails."""


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """The window an invocation belongs to.

    Attributes:
        start: The window's start (``window.start``), UTC.
        end: Its end (``window.end``), UTC.
        shard_id: ``shardId``.
        event_source_arn: ``eventSourceARN``.
        is_final: ``isFinalInvokeForWindow``: the window has ended, the state is its aggregate.
        terminated_early: ``isWindowTerminatedEarly``: Lambda ended the window early (its state
            reached 1 MB); the window goes on with a fresh state.
    """

    start: datetime
    end: datetime
    shard_id: str
    event_source_arn: str
    is_final: bool
    terminated_early: bool

    @property
    def key(self) -> str:
        """A stable id of the window: ``<eventSourceARN>|<shardId>|<start>|<end>`` (ISO 8601), to write
        its aggregate idempotently. An early-terminated window emits more than once under one key:
        add your own counter to the state if you keep each part."""
        return f"{self.event_source_arn}|{self.shard_id}|{self.start.isoformat()}|{self.end.isoformat()}"


class WindowHandler(Protocol):
    """What :func:`window_handler` returns: the Lambda handler, with its settings readable."""

    #: The Powertools batch processor that runs each record.
    processor: PipelineBatchProcessor
    #: The decode limit in force.
    max_decompressed_bytes: int
    #: The hop limit in force.
    max_hops: int

    def __call__(self, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]: ...


def window_handler(
    fold: Fold,
    *,
    source: str,
    on_window_end: OnWindowEnd | None = None,
    supported_versions: Collection[int] = (1,),
    logger: Any = None,
    max_decompressed_bytes: int | None = None,
    max_hops: int | None = None,
    raise_on_entire_batch_failure: bool = False,
) -> WindowHandler:
    """Build the Lambda handler of a tumbling-window consumer (see the module docstring).

    Args:
        fold: ``fold(state, record, window) -> state``: called once per user record; returns the new
            state (a JSON object, at most 1 MB as JSON); raise to fail the record.
        source: ``"kinesis"`` or ``"dynamodb"`` (tumbling windows exist for these two only).
        on_window_end: ``on_window_end(state, window)``: called on the window's final invocation
            with its aggregate; raise to fail (and retry) the final invocation. Default: none (the
            aggregate is dropped with the window, as Lambda drops it).
        supported_versions: Envelope versions ``fold`` understands. Default: ``(1,)``.
        logger: A Powertools ``Logger`` or ``logging.Logger``. Default: a Powertools Logger.
        max_decompressed_bytes: As for ``pipeline_handler``. Default: env, else from the memory size.
        max_hops: As for ``pipeline_handler``. Default: env ``EVENT_PIPELINE_MAX_HOPS``, else 10.
        raise_on_entire_batch_failure: Raise (a function error) instead of returning a response
            listing every record when all records failed. Default: False.

    Returns:
        ``handler(event, context) -> {"state": {...}, "batchItemFailures": [...]}``.

    Raises:
        ValueError: ``source`` is not ``kinesis`` or ``dynamodb``, or an argument of
            ``pipeline_handler``'s is invalid.
    """
    settings = handler_settings(source, supported_versions, max_decompressed_bytes, max_hops, logger)
    if settings.source_key == "sqs":
        raise ValueError(f"source must be 'kinesis' or 'dynamodb' for tumbling windows (given {source!r})")
    if os.environ.get(IDEMPOTENCY_TABLE_ENV):
        settings.logger.warning(
            f"{IDEMPOTENCY_TABLE_ENV} is set but window_handler applies no idempotency to its fold "
            "(see event_pipeline_runtime.windows); write the aggregate idempotently, keyed by window.key"
        )
    processor = settings.processor(raise_on_entire_batch_failure=raise_on_entire_batch_failure)

    def handler(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        window, state, hops = read_window_event(event)
        run = _WindowRun(settings, fold, window, state, hops)
        failures: list[dict[str, str]] = []
        if event.get("Records"):
            response = process_partial_response(
                event=event, record_handler=run.record_handler, processor=processor, context=context
            )
            failures = cast(list[dict[str, str]], response.get("batchItemFailures") or [])
        if window.is_final:
            if failures:
                raise WindowIncompleteError(
                    f"final invocation of window {window.key}: {len(failures)} record(s) failed "
                    f"(first {failures[0].get('itemIdentifier')}); the aggregate is not emitted, the "
                    "invocation fails and Lambda retries it"
                )
            if on_window_end is not None:
                with consuming(run.hops):
                    on_window_end(run.user_state(), window)
        return {"state": run.wire_state(), "batchItemFailures": failures}

    typed = cast(WindowHandler, handler)
    typed.processor = processor
    typed.max_decompressed_bytes = settings.limit
    typed.max_hops = settings.hop_limit
    return typed


def read_window_event(event: dict[str, Any]) -> tuple[WindowInfo, dict[str, Any], int]:
    """``(window, state, hops)`` of a tumbling-window event; the state without :data:`HOPS_STATE_KEY`.

    Raises:
        WindowEventError: A field is missing or of the wrong type.
    """
    if not isinstance(event, dict):
        raise WindowEventError(f"the event is a {type(event).__name__}, not a JSON object")
    bounds = event.get("window")
    if not isinstance(bounds, dict):
        raise WindowEventError(
            "not a tumbling-window event: 'window' is missing (is TumblingWindowInSeconds set on the "
            "mapping? A consumer without a window uses pipeline_handler)"
        )
    try:
        start, end = (datetime.fromisoformat(str(bounds[name])) for name in ("start", "end"))
    except (KeyError, ValueError) as exc:
        raise WindowEventError(f"tumbling-window event: window.start / window.end unreadable: {exc}") from exc
    flags = [event.get(name, False) for name in ("isFinalInvokeForWindow", "isWindowTerminatedEarly")]
    if not all(isinstance(flag, bool) for flag in flags):
        raise WindowEventError("tumbling-window event: isFinalInvokeForWindow / isWindowTerminatedEarly not booleans")
    state = event.get("state")
    state = {} if state is None else state
    if not isinstance(state, dict):
        raise WindowEventError(f"tumbling-window event: 'state' is a {type(state).__name__}, not a JSON object")
    state = dict(state)
    hops = state.pop(HOPS_STATE_KEY, 0)
    info = WindowInfo(start, end, str(event.get("shardId") or ""), str(event.get("eventSourceARN") or ""),
                      flags[0], flags[1])
    if not isinstance(hops, int) or isinstance(hops, bool):
        hops = 0
    return info, state, min(max(hops, 0), MAX_HOPS_LIMIT)


class _WindowRun:
    """One invocation's fold: the committed state (as JSON text) and the window's most hops."""

    def __init__(self, settings: HandlerSettings, fold: Fold, window: WindowInfo, state: dict[str, Any],
                 hops: int) -> None:
        self._settings = settings
        self._fold = fold
        self._window = window
        self.hops = hops
        self._text = _state_text(state, hops, "the incoming state")

    def user_state(self) -> dict[str, Any]:
        """A fresh copy of the committed state, without the hops."""
        state = cast(dict[str, Any], json.loads(self._text))
        state.pop(HOPS_STATE_KEY, None)
        return state

    def wire_state(self) -> dict[str, Any]:
        """The committed state as Lambda gets it back (the hops included)."""
        return cast(dict[str, Any], json.loads(self._text))

    def record_handler(self, record: dict[str, Any]) -> None:
        """Fold one event record's user records into a copy; commit it only if all of them succeed."""
        user_records = decoded_records(record, self._settings)
        state = self.user_state()
        hops = self.hops
        for user_record in user_records:
            envelope = user_record.envelope
            record_hops = envelope.hops if envelope is not None else 0
            with consuming(record_hops):
                state = self._fold(state, user_record, self._window)
            hops = max(hops, record_hops)
        where = user_records[-1].where if user_records else "the record"
        self._text = _state_text(state, hops, f"the state after {where}")
        self.hops = hops


def _state_text(state: Any, hops: int, what: str) -> str:
    """The state's JSON text as Lambda gets it (with the hops); refuse one it cannot carry."""
    if not isinstance(state, dict):
        raise WindowStateError(f"{what} is a {type(state).__name__}; a window's state must be a JSON object (a dict)")
    if HOPS_STATE_KEY in state:
        raise WindowStateError(f"{what} uses the reserved key {HOPS_STATE_KEY!r}")
    wire = {**state, HOPS_STATE_KEY: hops} if hops else state
    try:
        text = window_state_json(wire)
    except (TypeError, ValueError) as exc:
        raise WindowStateError(f"{what} is not JSON: {exc}") from exc
    size = len(text.encode("utf-8"))
    if size > WINDOW_STATE_LIMIT_BYTES:
        raise WindowStateError(
            f"{what} is {size} bytes of JSON, over Lambda's tumbling-window state limit of "
            f"{WINDOW_STATE_LIMIT_BYTES} bytes (1 MB per shard); the record is not folded (keep the state small)"
        )
    return text
