"""Flow time: the watermark and the lateness policy (DESIGN rule 3).

Zeek writes a conn record when the connection *ends*, with ``ts`` = its
*start*; other logs are written about when their ``ts`` happens. So a
record can arrive long after the time window of its ``ts`` began: the
longer the connection, the later.

The clock follows the newest start time (``ts``) seen and derives the
**watermark**: that newest time minus ``allowed_lateness``. The watermark
means "every record that starts before this time has arrived", as long as no
record arrives more than ``allowed_lateness`` seconds after the newest record
seen then - in Zeek's write order, as long as no connection lasts longer than
that. Time windows close, and flow-time timers fire, when the watermark passes
them; so a connection that lasted up to ``allowed_lateness`` past the end of
its window is still counted in it. A record whose window was already closed
is *late*: hosts count and report it (it is never silently added to an empty,
reopened window).

Start times, not end times, drive the clock: in Zeek's write order the newest
start seen is about the time of writing, as the newest end would be; but in a
log sorted by start time (a converted or re-sorted capture) one long
connection's end would pull the watermark hours ahead and make everything
after it late. So any order - Zeek's, or sorted by ``ts`` - works, and so does
any mix of the two within the allowed lateness.

The watermark is **global** (all logs, all profiles): time windows are global
(every profile has the same boundaries), cross-log joins (a DNS answer and the
connection it enables) need one notion of "everything up to T has arrived",
and a quiet host or a quiet log must not hold everyone's windows open.

**Clock jumps.** A few odd timestamps must not move it: a time more than
``jump_threshold`` beyond the newest one is held, not believed, until
``jump_confirmations`` such records arrive in a row (a capture that really
moved on, e.g. two captures concatenated); until then each is reported as a
clock jump and processed in its own window without closing anyone else's.
Records far in the past are simply late.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowalerts.core.config import Config

NEG_INF = float("-inf")


@dataclasses.dataclass
class ClockPolicy:
    """The tunable part of the clock (section ``time`` of slips.yaml)."""

    # Seconds of flow time a record may arrive behind the newest record seen
    # and still be counted in its window; also how long windows stay open
    # after they end.
    allowed_lateness: float = 3600.0
    # A time this far beyond the newest one is a suspected clock jump.
    jump_threshold: float = 86400.0
    # Suspected jumps in a row that confirm the clock really moved.
    jump_confirmations: int = 50
    # Watermark steps: the watermark is published in whole multiples of this,
    # so when timers fire does not depend on batch sizes.
    tick: float = 1.0

    @classmethod
    def from_config(cls, config: Config) -> ClockPolicy:
        """The policy of a configuration's ``time`` section."""
        section = config.time
        return cls(
            allowed_lateness=section.allowed_lateness,
            jump_threshold=section.clock_jump_threshold,
            jump_confirmations=section.clock_jump_confirmations,
        )


@dataclasses.dataclass
class Observation:
    """What the clock made of one record."""

    ok: bool  # False: a suspected clock jump, held (the watermark did not move)
    confirmed_jump: bool = False  # this record confirmed a held jump: the watermark jumped
    jump_seconds: float = 0.0


# The answer for the usual record (shared: observations are only read).
_OK = Observation(ok=True)


class EventClock:
    """Newest flow time seen, the watermark derived from it, and jump handling."""

    def __init__(self, policy: ClockPolicy | None = None) -> None:
        self.policy = policy or ClockPolicy()
        self.newest = NEG_INF
        self._held: list[float] = []
        self.jumps_held = 0
        self.jumps_confirmed = 0
        self.finished = False
        # The watermark of ``newest``, recomputed only when ``newest`` moves.
        self._watermark_of = NEG_INF
        self._watermark = NEG_INF

    @property
    def watermark(self) -> float:
        """Every record starting before this flow time has arrived (see module doc)."""
        if self.finished:
            return math.inf
        newest = self.newest
        if newest != self._watermark_of:
            self._watermark_of = newest
            if newest == NEG_INF:
                self._watermark = NEG_INF
            else:
                raw = newest - self.policy.allowed_lateness
                tick = self.policy.tick
                self._watermark = math.floor(raw / tick) * tick if tick > 0 else raw
        return self._watermark

    def observe(self, flow_time: float) -> Observation:
        """Account one record's start time (``ts``)."""
        newest = self.newest
        if newest == NEG_INF:
            self.newest = flow_time
            return _OK
        if flow_time <= newest + self.policy.jump_threshold:
            if flow_time > newest:
                self.newest = flow_time
            if self._held:
                self._held.clear()
            return _OK
        # Far ahead of everything else: hold it until others confirm it.
        self._held.append(flow_time)
        if len(self._held) < max(1, self.policy.jump_confirmations):
            self.jumps_held += 1
            return Observation(ok=False, jump_seconds=flow_time - self.newest)
        jump = min(self._held) - self.newest
        self.newest = max(self._held)
        self._held.clear()
        self.jumps_confirmed += 1
        return Observation(ok=True, confirmed_jump=True, jump_seconds=jump)

    def is_odd(self, ts: float) -> bool:
        """True for a start time beyond the jump threshold (a held clock jump)."""
        return self.newest != NEG_INF and ts > self.newest + self.policy.jump_threshold

    def finish(self) -> None:
        """End of input: everything has arrived."""
        self.finished = True
