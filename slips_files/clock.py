"""Flow time: the watermark and the lateness policy (DESIGN rule 3).

Zeek writes a conn record when the connection *ends*, with ``ts`` = its
*start*; other logs are written about when their ``ts`` happens. So records
arrive ordered by (roughly) their end time, and a record can arrive long
after the time window of its ``ts`` began.

The clock follows the newest end time seen (``ts + duration`` for conn
records, ``ts`` for the others) and derives the **watermark**: that newest
end time minus ``allowed_lateness``. The watermark means "every record that
starts before this time has arrived", as long as no record arrives more than
``allowed_lateness`` seconds after it ended. Time windows close, and flow-time
timers fire, when the watermark passes them; so a connection that lasted up
to ``allowed_lateness`` past the end of its window is still counted in it.
A record whose window was already closed is *late*: hosts count and report it
(it is never silently added to an empty, reopened window).

The watermark is **global** (all logs, all profiles): time windows are global
(every profile has the same boundaries), cross-log joins (a DNS answer and the
connection it enables) need one notion of "everything up to T has arrived",
and a quiet host or a quiet log must not hold everyone's windows open.

**Clock jumps.** A few odd timestamps must not move it: an end time more than
``jump_threshold`` beyond the newest one is held, not believed, until
``jump_confirmations`` such records arrive in a row (a capture that really
moved on, e.g. two captures concatenated); until then each is reported as a
clock jump and processed in its own window without closing anyone else's.
Records far in the past are simply late.
"""

from __future__ import annotations

import dataclasses
import math

NEG_INF = float("-inf")


@dataclasses.dataclass
class ClockPolicy:
    """The tunable part of the clock (section ``time`` of slips.yaml)."""

    # Seconds a record may arrive after its own end time and still be counted
    # in its window; also how long windows stay open after they end.
    allowed_lateness: float = 3600.0
    # An end time this far beyond the newest one is a suspected clock jump.
    jump_threshold: float = 86400.0
    # Suspected jumps in a row that confirm the clock really moved.
    jump_confirmations: int = 50
    # Watermark steps: the watermark is published in whole multiples of this,
    # so when timers fire does not depend on batch sizes.
    tick: float = 1.0


@dataclasses.dataclass
class Observation:
    """What the clock made of one record."""

    ok: bool  # False: a suspected clock jump, held (the watermark did not move)
    confirmed_jump: bool = False  # this record confirmed a held jump: the watermark jumped
    jump_seconds: float = 0.0


# The answer for the usual record (shared: observations are only read).
_OK = Observation(ok=True)


class EventClock:
    """Newest end time seen, the watermark derived from it, and jump handling."""

    def __init__(self, policy: ClockPolicy | None = None) -> None:
        self.policy = policy or ClockPolicy()
        self.newest_end = NEG_INF
        self._held: list[float] = []
        self.jumps_held = 0
        self.jumps_confirmed = 0
        self.finished = False
        # The watermark of newest_end, recomputed only when newest_end moves.
        self._watermark_of = NEG_INF
        self._watermark = NEG_INF

    @property
    def watermark(self) -> float:
        """Every record starting before this flow time has arrived (see module doc)."""
        if self.finished:
            return math.inf
        newest = self.newest_end
        if newest != self._watermark_of:
            self._watermark_of = newest
            if newest == NEG_INF:
                self._watermark = NEG_INF
            else:
                raw = newest - self.policy.allowed_lateness
                tick = self.policy.tick
                self._watermark = math.floor(raw / tick) * tick if tick > 0 else raw
        return self._watermark

    def observe(self, end_time: float) -> Observation:
        """Account one record's end time (``ts + duration``, or ``ts``)."""
        newest = self.newest_end
        if newest == NEG_INF:
            self.newest_end = end_time
            return _OK
        if end_time <= newest + self.policy.jump_threshold:
            if end_time > newest:
                self.newest_end = end_time
            if self._held:
                self._held.clear()
            return _OK
        # Far ahead of everything else: hold it until others confirm it.
        self._held.append(end_time)
        if len(self._held) < max(1, self.policy.jump_confirmations):
            self.jumps_held += 1
            return Observation(ok=False, jump_seconds=end_time - self.newest_end)
        jump = min(self._held) - self.newest_end
        self.newest_end = max(self._held)
        self._held.clear()
        self.jumps_confirmed += 1
        return Observation(ok=True, confirmed_jump=True, jump_seconds=jump)

    def is_odd(self, ts: float) -> bool:
        """True for a start time beyond the jump threshold (a held clock jump)."""
        return self.newest_end != NEG_INF and ts > self.newest_end + self.policy.jump_threshold

    def finish(self) -> None:
        """End of input: everything has arrived."""
        self.finished = True
