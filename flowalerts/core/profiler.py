"""Profile and time window of each record, and window closing (spec 1.3.2).

profile = the record's source IP; window N = floor((ts - T0) / W) + 1 where T0
is the first record's ``ts`` (windows are global: every profile has the same N
at the same time; records older than T0 get N <= 0). A (profile, window) is
closed - ``tw_closed`` - once the flow-time watermark passes the window's end
plus a grace period (late conn.log lines still land in their window), and
every open window is closed at end of input.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter

from flowalerts.core.config import Config
from flowalerts.core.messages import Message, TwClosed
from flowalerts.core.records import Record


class Profiler:
    def __init__(self, config: Config) -> None:
        self.width = config.parameters.width
        self.grace = config.parameters.tw_close_grace
        self.t0: float | None = None
        self.watermark = float("-inf")
        # window number -> profiles with that window open; heap of numbers.
        self._open: dict[int, set[str]] = {}
        self._open_heap: list[int] = []
        self.published: Counter[str] = Counter()

    def twid_of(self, ts: float) -> int:
        assert self.t0 is not None
        return math.floor((ts - self.t0) / self.width) + 1

    def window_end(self, twid: int) -> float:
        assert self.t0 is not None
        return self.t0 + twid * self.width

    def assign(self, record: Record) -> Message[Record]:
        """The message for one record; updates the open windows."""
        ts = record.starttime
        if self.t0 is None:
            self.t0 = ts
        twid = self.twid_of(ts)
        profile = record.saddr
        profiles = self._open.get(twid)
        if profiles is None:
            profiles = self._open[twid] = set()
            heapq.heappush(self._open_heap, twid)
        profiles.add(profile)
        if ts > self.watermark:
            self.watermark = ts
        self.published[record.log_type] += 1
        return Message(profile=profile, twid=twid, flow=record)

    def due_closures(self) -> list[TwClosed]:
        """Windows whose end (plus grace) the watermark has passed."""
        closed: list[TwClosed] = []
        heap = self._open_heap
        while heap and self.window_end(heap[0]) + self.grace <= self.watermark:
            twid = heapq.heappop(heap)
            for profile in sorted(self._open.pop(twid)):
                closed.append(TwClosed(profile=profile, twid=twid))
        return closed

    def close_all(self) -> list[TwClosed]:
        """End of input: close every window still open."""
        closed: list[TwClosed] = []
        while self._open_heap:
            twid = heapq.heappop(self._open_heap)
            for profile in sorted(self._open.pop(twid)):
                closed.append(TwClosed(profile=profile, twid=twid))
        return closed
