"""The pipeline's time: the real time plus what a test made pass with :meth:`LocalPipeline.advance`.

Every lane keeps its own clock (see :mod:`.streams`); this module only says how far the pipeline
as a whole has been moved ahead, and when. The endpoint (moto) stamps records and messages with
the real time; a record that arrived after ``advance(s)`` arrived ``s`` seconds later in the
pipeline's time, one that arrived before keeps its stamp, so it has waited ``s`` seconds more.

The endpoint's stamps have millisecond resolution (Kinesis ``ApproximateArrivalTimestamp``, SQS
``SentTimestamp``), so an advance takes effect at the next whole millisecond and waits for it (at
most 1 ms): every stamp is then plainly before or after it.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable


class PipelineClock:
    """The real time plus the advances made so far.

    Args:
        real_time: Where the real time comes from. Default: ``time.time``.
        sleep: How to wait for the next millisecond. Default: ``time.sleep``.
    """

    def __init__(self, real_time: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._real_time = real_time
        self._sleep = sleep
        #: (real time of the advance, total seconds advanced up to and including it), in order.
        self._advances: list[tuple[float, float]] = []

    @property
    def advanced(self) -> float:
        """Seconds advanced in total."""
        return self._advances[-1][1] if self._advances else 0.0

    def now(self) -> float:
        """The pipeline's present (epoch seconds)."""
        return self._real_time() + self.advanced

    def advance(self, seconds: float) -> float:
        """Move the pipeline's time ``seconds`` ahead; return the present before the move."""
        present = self.now()
        boundary = math.floor(self._real_time() * 1000 + 1) / 1000  # the next whole millisecond
        while (left := boundary - self._real_time()) > 0:
            self._sleep(left)
        self._advances.append((boundary, self.advanced + seconds))
        return present

    def shifted(self, stamp: float) -> float:
        """A real-time stamp (a record's arrival, a message's sent time) in the pipeline's time: plus
        the seconds advanced before it."""
        # advances at or before the stamp (a microsecond's slack for the stamp's float rounding)
        index = bisect.bisect_right(self._advances, (stamp + 1e-6, float("inf")))
        return stamp + (self._advances[index - 1][1] if index else 0.0)
