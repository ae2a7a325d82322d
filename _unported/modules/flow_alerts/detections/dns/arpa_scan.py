"""DNS ARPA scan (spec 2.24 with the 5.2 item 12 fix): ``arpa_scan_threshold``
(10) or more distinct ``.in-addr.arpa`` queries from one source within any
``arpa_scan_window`` (2 s) sliding window, per (profile, window).

Once per burst: after an evidence the detector is disarmed for that profile
and window, and re-armed when the sliding window empties (no reverse query
for more than 2 s), so a long sweep gives one evidence per burst, not one per
query.
"""

from __future__ import annotations

from collections import Counter, deque

from flowalerts.evidence import EvidenceType, ThreatLevel, src_ip
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.dns import names

MAX_IN_WINDOW = 5_000  # queries kept inside one sliding window


class DnsArpaScan(Detector):
    """A burst of reverse (PTR) lookups of many IPv4 addresses."""

    channels = ("new_dns",)
    evidence_types = (EvidenceType.DNS_ARPA_SCAN,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.7

    def handle(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        query = names.normalize(flow.query)
        if not names.is_reverse_v4(query):
            return None
        state = self.state.window("arpa_scan", msg.profile, msg.twid)
        recent: deque[tuple[float, str, str]] = state.setdefault("recent", deque())
        distinct: Counter[str] = state.setdefault("distinct", Counter())
        newest = max(flow.starttime, state.get("newest", flow.starttime))
        state["newest"] = newest
        horizon = newest - self.config.arpa_scan_window
        while recent and (recent[0][0] < horizon or len(recent) >= MAX_IN_WINDOW):
            _, old_query, _ = recent.popleft()
            distinct[old_query] -= 1
            if distinct[old_query] <= 0:
                del distinct[old_query]
        if not recent:
            state["armed"] = True
        if flow.starttime < horizon:
            return None  # a late record outside the window
        recent.append((flow.starttime, query, flow.uid))
        distinct[query] += 1
        count = len(distinct)
        if count < self.config.arpa_scan_threshold or not state.get("armed", True):
            return None
        state["armed"] = False
        first = min(ts for ts, _, _ in recent)
        return [
            make_evidence(
                EvidenceType.DNS_ARPA_SCAN,
                description=(
                    f"DNS ARPA scan: {flow.saddr} made reverse lookups of {count} different IPv4 addresses "
                    f"within {newest - first:.2f} seconds"
                ),
                attacker=src_ip(flow.saddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[uid for _, _, uid in recent],
            )
        ]
