"""Incompatible certificate CN (spec 2.26 INTENT, spec 5 item 18).

The certificate subject is parsed into attributes (not searched as a raw
string): its ``O`` names a supported organisation (``orgs.org_of_name``, word
match, so "Pineapple" is not Apple) or its ``CN`` is one of that
organisation's domains (``orgs.org_of_domain``, suffix-aware). When neither
the destination IP nor the SNI belongs to that organisation, the server is
presenting a certificate that claims to be someone else.

Deviation from the reference (which blames the client): the attacker is the
server (DST daddr), the victim the client (SRC saddr); the evidence stays in
the client's profile, where the connection was seen. MEDIUM, confidence 0.9.
Once per (profile, window, server, claimed organisation).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.records import SslRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import normalise_host, parse_dn


class IncompatibleCn(Detector):
    """A certificate claiming a well-known organisation on a server outside it."""

    channels = ("new_ssl",)
    evidence_types = (EvidenceType.INCOMPATIBLE_CN,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.9

    def claimed_org(self, subject: str) -> str | None:
        attrs = parse_dn(subject)
        orgs = self.knowledge.orgs
        for name in attrs.get("O", [])[:4]:
            org = orgs.org_of_name(name)
            if org:
                return org
        for cn in attrs.get("CN", [])[:4]:
            host = normalise_host(cn).removeprefix("*.")
            if host and " " not in host:
                org = orgs.org_of_domain(host)
                if org:
                    return org
        return None

    def handle(self, msg: Message[SslRecord]) -> Result:
        flow = msg.flow
        if not flow.subject or not is_ip(flow.daddr):
            return None
        org = self.claimed_org(flow.subject)
        if org is None:
            return None
        orgs = self.knowledge.orgs
        if orgs.ip_in_org(flow.daddr, org):
            return None
        if flow.server_name and orgs.domain_in_org(normalise_host(flow.server_name), org):
            return None
        seen = self.state.window("incompatible_cn", msg.profile, msg.twid)
        if (flow.daddr, org) in seen:
            return None
        seen[(flow.daddr, org)] = True
        sni = f" (SNI {flow.server_name})" if flow.server_name else " (no SNI)"
        return [
            make_evidence(
                EvidenceType.INCOMPATIBLE_CN,
                description=(
                    f"Server {flow.daddr}{sni} presented a certificate claiming to belong to "
                    f"{org.capitalize()} (subject '{flow.subject}'), but neither its IP nor its name "
                    f"belongs to {org.capitalize()}"
                ),
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
