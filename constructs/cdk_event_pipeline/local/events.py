"""What the local runner did, as a list of events (for tests, the demo's story and --json)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunnerEvent:
    """One thing the runner did.

    Attributes:
        kind: ``invoke``, ``on-failure``, ``discarded``, ``filtered``, ``trimmed``, ``deleted``, ``info``.
        mapping: The event source mapping's logical id (or the function's, for direct calls).
        function: The function's logical id.
        detail: Kind-specific fields: ``shard``, ``first``/``last`` sequence numbers, ``count``,
            ``outcome`` (``ok``/``partial``/``error``), ``error``, ``failed`` (item ids),
            ``condition``, ``destination``, ``attempt``, ``at`` (clock time), ...
    """

    kind: str
    mapping: str
    function: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class EventLog:
    """Collects :class:`RunnerEvent` s and forwards each to listeners."""

    def __init__(self) -> None:
        self.events: list[RunnerEvent] = []
        self.listeners: list[Callable[[RunnerEvent], None]] = []

    def emit(self, kind: str, mapping: str, function: str, **detail: Any) -> RunnerEvent:
        """Record one event."""
        event = RunnerEvent(kind, mapping, function, detail)
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    def of(self, kind: str, mapping: str | None = None) -> list[RunnerEvent]:
        """The events of one kind (and mapping)."""
        return [e for e in self.events if e.kind == kind and (mapping is None or e.mapping == mapping)]
