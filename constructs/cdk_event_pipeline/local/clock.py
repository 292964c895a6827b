"""Clocks for the local runner: real time, or a virtual clock that makes waits instant.

Lambda's retries back off and records age while a shard is stuck; with a :class:`VirtualClock`
those waits advance a counter instead of sleeping, so a test of ``MaximumRecordAgeInSeconds``
or a stalled shard runs in milliseconds. The virtual clock starts at the real time, so record
arrival times stamped by the (real) endpoint are comparable with it.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the pollers need from a clock."""

    virtual: bool

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        ...


class RealClock:
    """Wall-clock time; :meth:`sleep` really sleeps."""

    virtual = False

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` (nothing for 0 or less)."""
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that starts at the real time and only moves when told to.

    Args:
        start: Epoch seconds to start at. Default: the real time now.
    """

    virtual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = start if start is not None else time.time()
        self._real_start = time.time()
        self._start = self._now

    def now(self) -> float:
        """The virtual time (real time elapsed since creation is added, so it never stalls)."""
        return self._now + (time.time() - self._real_start)

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` without waiting."""
        if seconds > 0:
            self._now += seconds

    @property
    def skipped(self) -> float:
        """Seconds of waiting skipped so far."""
        return self._now - self._start
