"""SMTP login brute force (seed "SMTP bruteforce"; spec 2.23).

``threshold`` (3) or more failed SMTP logins (``bad_smtp_login.is_bad_login``)
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
level and confidence grow with the count (``scale_with_count``: critical from
12 failures), and for alerts it weighs as one evidence per ``threshold``
failures (the reference's one evidence per burst of 3).

Exceptions, and why:

* failures to different servers are separate: a brute force targets one
  server (each failure is still in BAD_SMTP_LOGIN);
* replies that are not authentication failures do not count.
"""

from __future__ import annotations

from collections import deque

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, scale_with_count, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SmtpRecord
from flowalerts.detections.smtp.bad_smtp_login import is_bad_login
from flowalerts.engine.bursts import burst_members, settle_exact
from flowalerts.engine.detection import Detection, Tally

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
)


class SmtpBruteforce(Detection):
    """Several failed SMTP logins from one host to one server in a short time."""

    id = "smtp_bruteforce"
    channels = ("new_smtp",)
    Config = SmtpBruteforceConfig
    evidence = (SMTP_LOGIN_BRUTEFORCE,)

    def handle(self, msg: Message[SmtpRecord]) -> None:
        flow = msg.flow
        if not is_bad_login(flow.last_reply) or not is_ip(flow.daddr):
            return
        threshold = max(1, self.config.threshold)
        bursts = self.window(msg).setdefault("bursts", {})
        burst = bursts.get(flow.daddr)
        if burst is None:
            burst = bursts[flow.daddr] = {"recent": deque(), "newest": flow.starttime, "events": [],
                                          "counted": set()}
        events: list[tuple[float, str]] = burst["events"]
        seq = len(events)
        if seq < MAX_EVENTS:
            events.append((flow.starttime, flow.uid))
        # Online: a sliding window over the failures as they arrive, so a burst
        # is reported as soon as it is seen (exact when they arrive in time order;
        # recounted over every failure at window close, see ``settle_tallies``).
        recent: deque[tuple[float, int, str]] = burst["recent"]
        newest = burst["newest"] = max(burst["newest"], flow.starttime)
        horizon = newest - self.config.window
        while recent and (recent[0][0] < horizon or len(recent) >= MAX_RECENT):
            recent.popleft()
        if flow.starttime < horizon:
            return
        recent.append((flow.starttime, seq, flow.uid))
        if len(recent) < threshold:
            return
        counted: set[int] = burst["counted"]
        for ts, number, uid in sorted(recent):
            if number in counted:
                continue
            counted.add(number)
            self.tally(msg, flow.daddr, threshold, uid=uid, update=lambda tally, ts=ts: _span(tally, ts))

    def settle_tallies(self, profile: str, twid: int) -> None:
        """Window close: recount over every failure of the window in time order."""
        window = self.window_of(profile, twid)
        threshold = max(1, self.config.threshold)
        for server, burst in ((window or {}).get("bursts") or {}).items():
            events = sorted(burst["events"])
            marks = burst_members([(ts, str(index)) for index, (ts, _) in enumerate(events)], self.config.window,
                                  threshold)
            members = [(ts, "", uid) for (ts, uid), member in zip(events, marks) if member]
            settle_exact(self, profile, twid, window, server, members, len(members), threshold)
        super().settle_tallies(profile, twid)

    def report_tally(self, profile: str, twid: int, key: str, tally: Tally) -> None:
        threshold = tally.threshold
        level, confidence = scale_with_count(SMTP_LOGIN_BRUTEFORCE, tally.count, threshold)
        self.report(
            SMTP_LOGIN_BRUTEFORCE,
            profile=profile,
            twid=twid,
            ts=tally.extra["first"],
            attacker=src_ip(profile),
            victim=dst_ip(key),
            uids=tally.uids,
            threat_level=level,
            confidence=confidence,
            details=SmtpBruteforceDetails(failures=tally.count, threshold=threshold, window=self.config.window,
                                          server=key),
            description=(
                f"SMTP login brute force from {profile} to {key}: {tally.count} failed logins in bursts of at "
                f"least {threshold} within {self.config.window:g} s"
            ),
            count=tally.count,
            occurrences=tally.count // threshold,
            evidence_id=self.tally_id(SMTP_LOGIN_BRUTEFORCE, profile, twid, key),
        )


def _span(tally: Tally, ts: float) -> None:
    extra = tally.extra
    extra["first"] = min(extra.get("first", ts), ts)
    extra["last"] = max(extra.get("last", ts), ts)
