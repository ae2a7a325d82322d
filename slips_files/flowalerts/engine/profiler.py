"""Profiles, time windows and flow time for the standalone host (spec 1.3.2).

profile = the record's source IP; window N = floor((ts - T0) / W) + 1, where
T0 is the start of the capture: the earliest ``ts`` among the first records
(``t0_lookahead`` of them, ignoring clock-jump outliers), since in Zeek's
write order the first record is not the one that started first. Windows are
global: every profile has the same N at the same time.

The profiler drives flow time (``flowalerts.core.clock.EventClock``) and emits, in
stream order, the control items the module needs:

* ``Advance(watermark)`` whenever the watermark moves (in whole ticks);
* ``TwClosed(profile, N)`` once the watermark passes the end of window N;
* every record as a ``Message``, with ``late=True`` when its window had
  already closed when it arrived.

At end of input the watermark becomes +inf: every timer fires and every
window closes. The same input always gives the same items, whatever batch
sizes the host uses downstream.
"""

from __future__ import annotations

import heapq
import math
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowalerts.core.clock import ClockPolicy, EventClock
from flowalerts.core.messages import Advance, Message, TwClosed
from flowalerts.core.records import Record

if TYPE_CHECKING:
    from flowalerts.core.config import Config

Item = Message[Any] | TwClosed | Advance
_intern = sys.intern


class Profiler:
    def __init__(
        self,
        width: float,
        policy: ClockPolicy | None = None,
        t0_lookahead: int = 100,
        warn: Callable[[str, str], None] | None = None,
    ) -> None:
        self.width = width
        self.clock = EventClock(policy)
        self.t0: float | None = None
        self.t0_lookahead = max(1, t0_lookahead)
        self._startup: list[tuple[Record, str]] = []
        # window number -> profiles with that window open; heap of numbers.
        self._open: dict[int, set[str]] = {}
        self._open_heap: list[int] = []
        self._published_watermark = float("-inf")
        # Live mode: the newest flow time, and the wall time it was seen at.
        self._newest_walled = float("-inf")
        self._wall_at_newest: float | None = None
        self.published: Counter[str] = Counter()
        self.late: Counter[str] = Counter()
        self.clock_jumps: Counter[str] = Counter()
        # warn(kind, text): a counted warning naming file and line.
        self._warn = warn or (lambda kind, text: None)

    @classmethod
    def from_config(cls, config: Config, warn: Callable[[str, str], None] | None = None) -> Profiler:
        """The profiler of a configuration (window width, clock policy, T0 look-ahead)."""
        return cls(config.parameters.width, ClockPolicy.from_config(config), config.time.t0_lookahead, warn=warn)

    # -- windows ----------------------------------------------------------------
    def twid_of(self, ts: float) -> int:
        assert self.t0 is not None
        return math.floor((ts - self.t0) / self.width) + 1

    def window_end(self, twid: int) -> float:
        assert self.t0 is not None
        return self.t0 + twid * self.width

    def window_start(self, twid: int) -> float:
        return self.window_end(twid) - self.width

    # -- records ----------------------------------------------------------------
    def assign(self, record: Record, where: str = "") -> list[Item]:
        """The items one record produces (maybe none yet, while T0 is chosen)."""
        if self.t0 is None:
            self._startup.append((record, where))
            if len(self._startup) < self.t0_lookahead:
                return []
            return self._release_startup()
        return self._assign(record, where)

    def flush(self) -> list[Item]:
        """The input is idle (live mode): stop waiting for more start-up records."""
        if self.t0 is None and self._startup:
            return self._release_startup()
        return []

    def observe_time(self, flow_time: float) -> list[Item]:
        """Flow time reached ``flow_time`` without a record (live mode when the
        sensor is quiet; tests advancing the clock by hand)."""
        if self.t0 is None:
            return []
        observation = self.clock.observe(flow_time)
        return self._closures() if observation.ok else []

    def note_wall(self, wall_now: float) -> None:
        """Live mode: the wall time a record was read (see ``quiet_advance``)."""
        if self.clock.newest > self._newest_walled:
            self._newest_walled = self.clock.newest
            self._wall_at_newest = wall_now

    def quiet_advance(self, wall_now: float, quiet_after: float) -> list[Item]:
        """Live mode, input idle: on a sensor quiet for ``quiet_after`` seconds
        of wall time, flow time is taken to have moved on by the wall time
        elapsed since the newest record, so windows still close and timers
        still fire (the only place the wall clock moves flow time)."""
        if self._wall_at_newest is None:
            return []
        quiet = wall_now - self._wall_at_newest
        if quiet < quiet_after:
            return []
        return self.observe_time(self._newest_walled + quiet)

    def finish(self) -> list[Item]:
        """End of input: close everything; the watermark becomes +inf."""
        items = self.flush()
        self.clock.finish()
        items.extend(self._closures())
        items.append(Advance(math.inf))
        return items

    def _release_startup(self) -> list[Item]:
        starts = [record.starttime for record, _ in self._startup]
        middle = statistics.median(starts)
        threshold = self.clock.policy.jump_threshold
        plausible = [ts for ts in starts if abs(ts - middle) <= threshold] or starts
        self.t0 = min(plausible)
        items: list[Item] = []
        pending, self._startup = self._startup, []
        for record, where in pending:
            items.extend(self._assign(record, where))
        return items

    def _assign(self, record: Record, where: str) -> list[Item]:
        # Addresses recur constantly: one string object each (state keys and
        # facts hold references to them for hours of flow time).
        record.saddr = _intern(record.saddr)
        record.daddr = _intern(record.daddr)
        items: list[Item] = []
        ts = record.starttime
        t0, width = self.t0, self.width
        twid = math.floor((ts - t0) / width) + 1  # twid_of, inlined (hot path)
        late = t0 + twid * width <= self.clock.watermark
        observation = self.clock.observe(ts)
        if not observation.ok:
            self.clock_jumps[record.log_type] += 1
            self._warn(
                "clock jump",
                f"{where}: flow time jumps {observation.jump_seconds:.0f} s ahead of the rest of the input; "
                "held (the record is processed in its own window, no other window is closed) until "
                f"{self.clock.policy.jump_confirmations} records in a row confirm it",
            )
        elif observation.confirmed_jump:
            self._warn("clock jump", f"{where}: flow time jumped {observation.jump_seconds:.0f} s ahead (confirmed)")
        if late:
            self.late[record.log_type] += 1
            if ts < self.clock.newest - self.clock.policy.jump_threshold:
                self.clock_jumps[record.log_type] += 1
                self._warn("clock jump", f"{where}: flow time {ts - self.clock.newest:.0f} s behind the rest of the input")
        else:
            profiles = self._open.get(twid)
            if profiles is None:
                profiles = self._open[twid] = set()
                heapq.heappush(self._open_heap, twid)
            profiles.add(record.saddr)
        self.published[record.log_type] += 1
        items.append(Message(record.saddr, twid, record, late))
        if observation.ok and self.clock.watermark > self._published_watermark:
            items.extend(self._closures())
        return items

    def _closures(self) -> list[Item]:
        """Advance (if the watermark moved) then the windows it closed."""
        watermark = self.clock.watermark
        if watermark <= self._published_watermark:
            return []
        self._published_watermark = watermark
        items: list[Item] = [Advance(watermark)]
        heap = self._open_heap
        while heap and self.window_end(heap[0]) <= watermark:
            twid = heapq.heappop(heap)
            for profile in sorted(self._open.pop(twid)):
                items.append(TwClosed(profile=profile, twid=twid))
        return items

    def open_windows(self) -> int:
        return sum(len(profiles) for profiles in self._open.values())
