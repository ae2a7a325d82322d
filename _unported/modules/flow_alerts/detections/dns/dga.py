"""DGA / domain scanning (spec 2.17 with the 5.2 item 11 fixes): distinct
NXDOMAIN queries per (profile, window), excluding ``.arpa``, ``.local`` and
whitelisted domains. Evidence when the count reaches ``dga_nxdomain_threshold``
(10), then at every ``dga_nxdomain_step`` (15, 20, 25 ...), reporting the real
count. Confidence = min(1, n / (2 x threshold)): 0.5 at 10, 0.75 at 15, 1 from 20.
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, src_ip
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.dns import names

MAX_QUERIES = 10_000  # distinct queries remembered per (profile, window)
MAX_UIDS = 100  # uids carried by one evidence (most recent)


class DgaNxdomains(Detector):
    """Many distinct domains that failed to resolve (NXDOMAIN) from one source."""

    channels = ("new_dns",)
    evidence_types = (EvidenceType.DGA_NXDOMAINS,)
    threat_level = ThreatLevel.HIGH

    def handle(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        if "NXDOMAIN" not in flow.rcode_name:
            return None
        query = names.normalize(flow.query)
        if not query or names.is_arpa(query) or names.is_local(query):
            return None
        if self.knowledge.whitelist.domain_whitelisted(query):
            return None
        state = self.state.window("dga", msg.profile, msg.twid)
        queries: dict[str, str] = state.setdefault("queries", {})
        if query in queries or len(queries) >= MAX_QUERIES:
            return None
        queries[query] = flow.uid
        count = len(queries)
        threshold = max(1, self.config.dga_nxdomain_threshold)
        next_at = state.get("next", threshold)
        if count < next_at:
            return None
        state["next"] = count + max(1, self.config.dga_nxdomain_step)
        uids = list(queries.values())[-MAX_UIDS:]
        return [
            make_evidence(
                EvidenceType.DGA_NXDOMAINS,
                description=(
                    f"Possible DGA or domain scanning: {count} distinct domains queried by {flow.saddr} "
                    f"did not exist (NXDOMAIN) in this time window"
                ),
                attacker=src_ip(flow.saddr),
                threat_level=self.threat_level,
                confidence=round(min(1.0, count / (2 * threshold)), 2),
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=uids,
            )
        ]
