"""DNS ARPA scan (seed "DNS ARPA Scans"; spec 2.24, 5.2 item 12).

A profile that asks for the reverse (``in-addr.arpa``) names of ``threshold``
(10) or more different IPv4 addresses within ``window`` (2) seconds: a sweep
that maps the hosts of a network through DNS, without touching them.

The 2-second window slides (the reference anchored it at the first reverse
query of the profile, so a host could only ever trigger in its first 2
seconds). A name counts when it was looked up in some 2-second window holding
``threshold`` distinct names (so the count is the size of the sweep, not every
reverse lookup of the hour). Sweeps are seen online as the records arrive and
recounted over all the window's reverse queries in time order at window
close, so the result does not depend on the arrival order
(``flowalerts.engine.bursts``).

One evidence per (profile, window) (issue 13): reported when a sweep is first
seen, updated (same id) at window close with the final count and every uid.
Threat level and confidence grow with the count (the kind's ``Growth``: medium
and 0.7 at 10, high and 0.9 at 40), and for alerts it weighs as one evidence
per ``threshold`` names.

Exceptions, and why:

* ``ip6.arpa`` names are not counted (as in the reference and the seed): IPv6
  hosts look up their own and their neighbours' reverse names constantly;
* a repeated name counts once: retries are not a sweep;
* **a DNS resolver** (a private host the DNS learner saw answering port-53
  queries: "Detected DNS server by traffic heuristic"): its reverse lookups
  are recursions for its clients (a domain controller resolving the names of
  the hosts that log on, a mail server checking its peers), not a sweep of
  its own; the evidence is info (context, never alert weight). Issue 21:
  WRCCDC 2018, the teams' resolvers 10.47.2.10 and 10.47.26.25. Whether the
  profile is a resolver is judged again when the window closes, so the
  final evidence is the same in any arrival order.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, Growth, ThreatLevel
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.bursts import burst_members
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.learners.dns import DnsFacts
from flowalerts.learners.servers import ServerRoles
from flowalerts.traffic import dns_names as names

SUFFIX = ".in-addr.arpa"
MAX_RECENT = 5_000  # reverse queries kept inside one sliding window
MAX_COUNTED = 65_536  # names remembered per (profile, window) as counted
MAX_EVENTS = 65_536  # reverse queries remembered per (profile, window) for the recount


class ArpaScanConfig(SectionConfig):
    threshold: int = 10  # distinct reverse names
    window: float = 2.0  # seconds (sliding)

    slips_keys = {"arpa_scan_threshold": "threshold", "arpa_scan_window": "window"}


class ArpaScanDetails(Details):
    names: int  # distinct reverse names that were part of a sweep in this window
    threshold: int
    window: float
    duration: float  # seconds from the first to the last counted name


DNS_ARPA_SCAN = EvidenceKind(
    "DNS_ARPA_SCAN",
    ThreatLevel.MEDIUM,
    confidence=0.7,
    details=ArpaScanDetails,
    category="Recon.Scanning",
    summary=">= 10 distinct in-addr.arpa names within a sliding 2 s from one host; info from a learned DNS "
    "resolver; one per window",
    grows=Growth(weighs="threshold"),
)


class ArpaScanTally(Tally):
    """The sweep of a (profile, window); ``first_ts``/``last_ts`` span its counted names."""

    resolver: bool = False  # whether the profile was a learned DNS resolver when last reported


@dataclasses.dataclass
class ReverseQueries:
    """A (profile, window)'s reverse queries."""

    # (ts, name, uid) inside the sliding window, and how often each name is in it.
    recent: deque[tuple[float, str, str]] = dataclasses.field(default_factory=deque)
    distinct: Counter[str] = dataclasses.field(default_factory=Counter)
    newest: float = float("-inf")
    counted: set[str] = dataclasses.field(default_factory=set)  # names already in the tally
    events: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)  # for the recount
    # The sliding window already met the threshold at the previous reverse query.
    hot: bool = False


class DnsArpaScan(Detection[ArpaScanConfig, ArpaScanTally]):
    """A burst of reverse lookups of many IPv4 addresses."""

    id = "arpa_scan"
    channels = ("new_dns",)
    evidence = (DNS_ARPA_SCAN,)
    needs = (DnsFacts,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        flow = msg.flow
        query = flow.query
        # Cheapest test first: most DNS records are not reverse lookups.
        if len(query) < len(SUFFIX) or query.rstrip(".")[-len(SUFFIX):].lower() != SUFFIX:
            return
        query = names.normalize(query)
        state = self.window(msg, ReverseQueries)
        recent, distinct = state.recent, state.distinct
        newest = state.newest = max(state.newest, flow.starttime)
        horizon = newest - self.config.window
        while recent and (recent[0][0] < horizon or len(recent) >= MAX_RECENT):
            _, old, _ = recent.popleft()
            distinct[old] -= 1
            if distinct[old] <= 0:
                del distinct[old]
        if len(state.events) < MAX_EVENTS:
            state.events.append((flow.starttime, query, flow.uid))
        if flow.starttime < horizon:
            return  # older than the sliding window: left to the recount at window close
        recent.append((flow.starttime, query, flow.uid))
        distinct[query] += 1
        if len(distinct) < self.config.threshold:
            state.hot = False
            return
        # Hot: only this reverse query can be new to the count.
        entries = [recent[-1]] if state.hot else sorted(recent)
        state.hot = True
        counted = state.counted
        for ts, name, uid in entries:
            if name in counted:
                continue
            if len(counted) < MAX_COUNTED:
                counted.add(name)
            self.tally(msg, (), self.config.threshold, uid=uid, ts=ts)

    def recount(self, profile: str, twid: int) -> None:
        """Window close: recount over every reverse query of the window in time
        order, and judge again whether the profile is a resolver."""
        state = self.window_of(profile, twid, ReverseQueries)
        events = sorted(state.events) if state is not None else []
        if events:
            marks = burst_members([(ts, name) for ts, name, _ in events], self.config.window, self.config.threshold)
            members = [event for event, member in zip(events, marks) if member]
            if members:
                self.set_tally(profile, twid, (), count=len({name for _, name, _ in members}),
                               uids=[uid for _, _, uid in members], first_ts=members[0][0], last_ts=members[-1][0],
                               threshold=max(1, self.config.threshold))
        tally = self.tallies(profile, twid).get(())
        if tally is not None and tally.reported and tally.resolver != self._is_resolver(profile):
            # Learned to be a resolver (or no longer) since the report: report the final version.
            tally.reported = 0

    def report_tally(self, profile: str, twid: int, key: tuple[()], tally: ArpaScanTally) -> Finding:
        threshold = tally.threshold
        resolver = tally.resolver = self._is_resolver(profile)
        duration = round(tally.last_ts - tally.first_ts, 3)
        return Finding(
            victim=None,
            level=ThreatLevel.INFO if resolver else None,
            details=ArpaScanDetails(names=tally.count, threshold=threshold, window=self.config.window,
                                    duration=duration),
            description=(
                f"DNS ARPA scan: {profile} looked up the reverse names of {tally.count} different IPv4 addresses "
                f"in bursts of at least {threshold} within {self.config.window:g} s"
                + (" (it is a DNS resolver of the network: lookups for its clients)" if resolver else "")
            ),
        )

    def _is_resolver(self, profile: str) -> bool:
        return self.facts_of(ServerRoles).is_dns_server(profile)
