"""DNS resolution without a connection (spec 2.4 INTENT).

An answered A/AAAA query whose answers (directly, or through the CNAMEs in
the same answer list, or other IPs learned for the query) the asking profile
- or the same host's other IP version - never contacts within
``dns_without_connection_wait`` seconds (30 min) of flow time.

Pending queries sit in a heap ordered by their next check time. They are
re-checked at 10 and 20 minutes (dropped as soon as a contact is seen) and
decided at 30, as the flow-time watermark of all logs advances
(``on_watermark``); at end of input every pending query is decided with what
is known (``finish``). Besides the shared contact facts (conn learner), the
detector also watches conn flows itself for the (profile, IP) pairs of its
pending queries, so a contact is never lost when the shared facts expire
before the decision (e.g. a folder whose logs come from different captures
and make the flow clock jump). Exempt: any ``.arpa``, ``.local``, names with ``*``,
``cymru.com`` and its subdomains, WPAD in any case, names without a TLD,
non-NOERROR, non A/AAAA, and answers that hold no usable IP or CNAME.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import msgspec

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_domain, src_ip
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.dns import names

ADDRESS_TYPES = frozenset({"A", "AAAA"})
# A connection logged this many seconds before the query still counts
# (Zeek timestamps of a query and its connection can interleave).
CONTACT_SLACK = 5.0
# Re-check points, as fractions of the wait (10, 20 and 30 of 30 minutes).
CHECKPOINTS = (1 / 3, 2 / 3, 1.0)
MAX_PENDING = 200_000
MAX_WATCHED_IPS = 32  # per pending query


class PendingQuery(msgspec.Struct, gc=False):
    profile: str
    twid: int
    saddr: str
    query: str
    ts: float
    uid: str
    ips: list[str]
    cnames: list[str]
    checkpoint: int = 0
    watched: list[str] = []
    contacted: bool = False


def is_exempt(query: str) -> bool:
    return (
        not query
        or names.is_arpa(query)
        or names.is_local(query)
        or "*" in query
        or names.is_cymru(query)
        or names.is_wpad(query)
        or not names.has_tld(query)
    )


class DnsWithoutConnection(Detector):
    """An answered A/AAAA resolution never followed by a connection within 30 minutes."""

    channels = ("new_dns", "new_flow")
    evidence_types = (EvidenceType.DNS_WITHOUT_CONNECTION,)
    threat_level = ThreatLevel.INFO
    confidence = 0.8

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._pending: list[tuple[float, int, PendingQuery]] = []
        self._seq = itertools.count()
        # (profile, ip) -> pending queries waiting for a connection to it.
        self._watch: dict[tuple[str, str], list[PendingQuery]] = {}
        self._started_wall = ctx.wall_clock() if ctx.live else 0.0
        self.dropped_early = 0

    # -- intake ---------------------------------------------------------------
    def handle(self, msg: Message[Any]) -> Result:
        if msg.flow.channel == "new_flow":
            self._saw_connection(msg.profile, msg.flow.daddr, msg.flow.starttime)
            return None
        return self._handle_dns(msg)

    def _saw_connection(self, profile: str, daddr: str, ts: float) -> None:
        waiting = self._watch.get((profile, daddr))
        if waiting:
            for entry in waiting:
                if ts >= entry.ts - CONTACT_SLACK:
                    entry.contacted = True

    def _handle_dns(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        if flow.rcode_name != "NOERROR" or flow.qtype_name not in ADDRESS_TYPES or not flow.answers:
            return None
        query = names.normalize(flow.query)
        if is_exempt(query):
            return None
        if self.ctx.live and self.ctx.wall_clock() - self._started_wall < self.config.live_warmup_minutes * 60:
            return None
        ips = [ip for ip in names.answer_ips(flow.answers) if not names.is_blocking_answer(ip)]
        cnames = [name for name in names.answer_names(flow.answers) if name != query]
        if not ips and not cnames:
            return None
        seen = self.state.window("dns_without_connection", msg.profile, msg.twid)
        if query in seen:
            return None
        seen[query] = flow.starttime
        entry = PendingQuery(
            profile=msg.profile, twid=msg.twid, saddr=flow.saddr, query=query,
            ts=flow.starttime, uid=flow.uid, ips=ips, cnames=cnames,
        )
        out = []
        if len(self._pending) >= MAX_PENDING:
            # Bounded: settle the query closest to its deadline now.
            _, _, oldest = heapq.heappop(self._pending)
            self._unwatch(oldest)
            self.dropped_early += 1
            if not self._contacted(oldest):
                out.append(self._evidence(oldest))
        self._watch_entry(entry)
        self._push(entry)
        return out or None

    def _watch_entry(self, entry: PendingQuery) -> None:
        ips = dict.fromkeys(entry.ips)
        ips.update(dict.fromkeys(self.facts.ips_of_domain(entry.query)))
        for cname in entry.cnames:
            ips.update(dict.fromkeys(self.facts.ips_of_domain(cname)))
        entry.watched = list(ips)[:MAX_WATCHED_IPS]
        for ip in entry.watched:
            self._watch.setdefault((entry.profile, ip), []).append(entry)

    def _unwatch(self, entry: PendingQuery) -> None:
        for ip in entry.watched:
            key = (entry.profile, ip)
            waiting = self._watch.get(key)
            if waiting is None:
                continue
            waiting[:] = [other for other in waiting if other is not entry]
            if not waiting:
                del self._watch[key]

    def _push(self, entry: PendingQuery) -> None:
        due = entry.ts + self.config.dns_without_connection_wait * CHECKPOINTS[entry.checkpoint]
        heapq.heappush(self._pending, (due, next(self._seq), entry))

    # -- settling ---------------------------------------------------------------
    def on_watermark(self, watermark: float) -> Result:
        out = []
        pending = self._pending
        while pending and pending[0][0] <= watermark:
            _, _, entry = heapq.heappop(pending)
            if self._contacted(entry):
                self._unwatch(entry)
                continue
            if entry.checkpoint + 1 < len(CHECKPOINTS):
                entry.checkpoint += 1
                self._push(entry)
            else:
                self._unwatch(entry)
                out.append(self._evidence(entry))
        return out or None

    def finish(self) -> Result:
        out = [self._evidence(entry) for _, _, entry in sorted(self._pending) if not self._contacted(entry)]
        self._pending.clear()
        self._watch.clear()
        return out or None

    def pending_count(self) -> int:
        return len(self._pending)

    def _contacted(self, entry: PendingQuery) -> bool:
        if entry.contacted:
            return True
        candidates = set(entry.ips)
        candidates.update(self.facts.ips_of_domain(entry.query))
        for cname in entry.cnames:
            candidates.update(self.facts.ips_of_domain(cname))
        if not candidates:
            return False
        profiles = [entry.profile, *self.facts.other_ip_versions(entry.saddr)]
        earliest = entry.ts - CONTACT_SLACK
        for profile in profiles:
            for ip in candidates:
                last = self.facts.last_contact(profile, ip)
                if last is not None and last >= earliest:
                    return True
        return False

    def _evidence(self, entry: PendingQuery):
        minutes = int(self.config.dns_without_connection_wait // 60)
        return make_evidence(
            EvidenceType.DNS_WITHOUT_CONNECTION,
            description=(
                f"{entry.saddr} resolved {entry.query} but made no connection to its answers "
                f"within {minutes} minutes"
            ),
            attacker=src_ip(entry.saddr),
            victim=dst_domain(entry.query),
            threat_level=self.threat_level,
            confidence=self.confidence,
            profile=entry.profile,
            twid=entry.twid,
            timestamp=entry.ts,
            uids=[entry.uid],
        )
