"""SMTP login brute force (seed "SMTP bruteforce"; spec 2.23).

``threshold`` (3) or more failed SMTP logins (``flowalerts.traffic.smtp_replies.is_bad_login``)
from one host to one server within any ``window`` (10) seconds of flow time:
credentials being guessed at machine speed (HIGH, 1.0).

The window slides per (profile, server): the reference kept one list per
profile across servers and windows, forever. A failure counts when it is part
of a burst, i.e. lies in some 10-second window holding the threshold (so the
count is the size of the brute force, not every failure of the hour). Bursts
are seen online as the records arrive and recounted over all the window's
failures in time order at window close, so the result does not depend on the
arrival order (``flowalerts.engine.bursts``).

One evidence per (profile, window, server) (issue 13): reported when the first
burst is seen, updated at window close with the count and every uid. Threat
level and confidence grow with the count (the kind's ``Growth``: critical
from 12 failures), and for alerts it weighs as one evidence per ``threshold``
failures (the reference's one evidence per burst of 3).

Exceptions, and why:

* failures to different servers are separate: a brute force targets one
  server (each failure is still in BAD_SMTP_LOGIN);
* replies that are not authentication failures do not count.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, Growth, ThreatLevel, dst_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SmtpRecord
from flowalerts.engine.bursts import burst_members
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.traffic.smtp_replies import is_bad_login

MAX_RECENT = 1_000  # failures kept inside one sliding window
MAX_EVENTS = 20_000  # failures remembered per (profile, window, server) for the recount


class SmtpBruteforceConfig(SectionConfig):
    threshold: int = 3  # failed logins
    window: float = 10.0  # seconds (sliding, inclusive)

    slips_keys = {"smtp_bruteforce_threshold": "threshold", "smtp_bruteforce_window": "window"}


class SmtpBruteforceDetails(Details):
    failures: int  # failed logins that were part of a burst in this window
    threshold: int
    window: float
    server: str


SMTP_LOGIN_BRUTEFORCE = EvidenceKind(
    "SMTP_LOGIN_BRUTEFORCE",
    ThreatLevel.HIGH,
    confidence=1.0,
    details=SmtpBruteforceDetails,
    category="Attempt.Login",
    summary=">= 3 failed SMTP logins to one server within a sliding 10 s; one per server and window",
    grows=Growth(weighs="threshold"),
)


@dataclasses.dataclass
class Burst:
    """The failures of one (profile, window) to one server."""

    # (ts, sequence number, uid) of the failures inside the sliding window.
    recent: deque[tuple[float, int, str]] = dataclasses.field(default_factory=deque)
    newest: float = float("-inf")
    events: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # (ts, uid), for the recount
    counted: set[int] = dataclasses.field(default_factory=set)  # sequence numbers already in the tally


@dataclasses.dataclass
class Bursts:
    """A (profile, window)'s failures by server."""

    by_server: dict[str, Burst] = dataclasses.field(default_factory=dict)


class SmtpBruteforce(Detection[SmtpBruteforceConfig]):
    """Several failed SMTP logins from one host to one server in a short time."""

    id = "smtp_bruteforce"
    channels = ("new_smtp",)
    evidence = (SMTP_LOGIN_BRUTEFORCE,)

    def handle(self, msg: Message[SmtpRecord]) -> None:
        flow = msg.flow
        if not is_bad_login(flow.last_reply) or not is_ip(flow.daddr):
            return
        threshold = max(1, self.config.threshold)
        bursts = self.window(msg, Bursts).by_server
        burst = bursts.get(flow.daddr)
        if burst is None:
            burst = bursts[flow.daddr] = Burst(newest=flow.starttime)
        seq = len(burst.events)
        if seq < MAX_EVENTS:
            burst.events.append((flow.starttime, flow.uid))
        # Online: a sliding window over the failures as they arrive, so a burst
        # is reported as soon as it is seen (exact when they arrive in time order;
        # recounted over every failure at window close, see ``recount``).
        recent = burst.recent
        newest = burst.newest = max(burst.newest, flow.starttime)
        horizon = newest - self.config.window
        while recent and (recent[0][0] < horizon or len(recent) >= MAX_RECENT):
            recent.popleft()
        if flow.starttime < horizon:
            return
        recent.append((flow.starttime, seq, flow.uid))
        if len(recent) < threshold:
            return
        for ts, number, uid in sorted(recent):
            if number in burst.counted:
                continue
            burst.counted.add(number)
            self.tally(msg, flow.daddr, threshold, uid=uid, ts=ts)

    def recount(self, profile: str, twid: int) -> None:
        """Window close: recount over every failure of the window in time order."""
        window = self.window_of(profile, twid, Bursts)
        if window is None:
            return
        threshold = max(1, self.config.threshold)
        for server, burst in window.by_server.items():
            events = sorted(burst.events)
            marks = burst_members([(ts, str(index)) for index, (ts, _) in enumerate(events)], self.config.window,
                                  threshold)
            members = [(ts, uid) for (ts, uid), member in zip(events, marks) if member]
            if members:
                self.set_tally(profile, twid, server, count=len(members), uids=[uid for _, uid in members],
                               first_ts=members[0][0], last_ts=members[-1][0], threshold=threshold)

    def report_tally(self, profile: str, twid: int, key: str, tally: Tally) -> Finding:
        return Finding(
            victim=dst_ip(key),
            details=SmtpBruteforceDetails(failures=tally.count, threshold=tally.threshold, window=self.config.window,
                                          server=key),
            description=(
                f"SMTP login brute force from {profile} to {key}: {tally.count} failed logins in bursts of at "
                f"least {tally.threshold} within {self.config.window:g} s"
            ),
        )
