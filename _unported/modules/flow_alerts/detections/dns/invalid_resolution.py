"""Invalid DNS resolution (spec 2.38, 5.3 item 24 fixed): an answer that is a
blocking address - 0.0.0.0, 127.0.0.0/8, :: or ::1 (ad-blocking or
sinkholing resolvers) - for a query that is not ``localhost``, ``.local`` or
``.arpa``. Split-horizon private answers (10.x, 192.168.x) are normal. The
DNS learner does not store such answers as resolutions. Once per
(profile, window, query, answer).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_domain, src_ip
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.dns import names


class InvalidDnsResolution(Detector):
    """A domain resolved to 0.0.0.0 or a loopback address."""

    channels = ("new_dns",)
    evidence_types = (EvidenceType.INVALID_DNS_RESOLUTION,)
    threat_level = ThreatLevel.INFO
    confidence = 0.8

    def handle(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        if not flow.answers:
            return None
        query = names.normalize(flow.query)
        if not query or names.is_localhost(query) or names.is_local(query) or names.is_arpa(query):
            return None
        out = []
        for answer in names.answer_ips(flow.answers):
            if not names.is_blocking_answer(answer):
                continue
            seen = self.state.window("invalid_dns_resolution", msg.profile, msg.twid)
            if (query, answer) in seen:
                continue
            seen[(query, answer)] = True
            out.append(
                make_evidence(
                    EvidenceType.INVALID_DNS_RESOLUTION,
                    description=f"Invalid DNS answer: {query} was resolved to the blocking address {answer}",
                    attacker=src_ip(flow.saddr),
                    victim=dst_domain(query),
                    threat_level=self.threat_level,
                    confidence=self.confidence,
                    profile=msg.profile,
                    twid=msg.twid,
                    timestamp=flow.starttime,
                    uids=[flow.uid],
                )
            )
        return out or None
