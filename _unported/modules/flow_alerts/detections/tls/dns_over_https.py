"""DNS over HTTPS (spec 2.39, under its own evidence type instead of the
reference's mislabelled DIFFERENT_LOCALNET): an ssl connection whose
``is_DoH`` is true (zeek-scripts/detect_doh.zeek) or whose SNI is a
well-known DoH resolver (``learn_tls.DOH_HOSTNAMES``). The TLS learner marks
the server as a DoH server, which connection-without-DNS skips.

INFO, confidence 0.9, attacker the DoH server (DST), victim the client,
profile the client. Once per (profile, window, server).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.records import SslRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.learn_tls import is_doh


class DnsOverHttps(Detector):
    """A client resolving names over HTTPS."""

    channels = ("new_ssl",)
    evidence_types = (EvidenceType.DNS_OVER_HTTPS,)
    threat_level = ThreatLevel.INFO
    confidence = 0.9

    def handle(self, msg: Message[SslRecord]) -> Result:
        flow = msg.flow
        if not is_doh(flow) or not is_ip(flow.daddr):
            return None
        seen = self.state.window("dns_over_https", msg.profile, msg.twid)
        if flow.daddr in seen:
            return None
        seen[flow.daddr] = True
        how = "is_DoH" if flow.is_DoH else f"known DoH server name {flow.server_name}"
        return [
            make_evidence(
                EvidenceType.DNS_OVER_HTTPS,
                description=f"DNS over HTTPS from {flow.saddr} to resolver {flow.daddr} ({how})",
                attacker=dst_ip(flow.daddr),
                victim=src_ip(flow.saddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                src_port=flow.sport,
                dst_port=flow.dport,
            )
        ]
