"""Connections between private addresses (spec 2.30, seed).

"Private" means RFC 1918 or IPv6 unique-local (not Python's broad
``is_private``, which also covers 0.0.0.0, broadcast, loopback, link-local and
TEST-NETs: spec 5.3 item 24), so DHCP discovery 0.0.0.0 -> 255.255.255.255 is
never flagged. Exempt, as the seed says: DNS on port 53 (which covers DNS to
the gateway and to learned DNS servers), DHCP on 67/68 UDP to the gateway (we
do not learn a gateway, so to any learned DHCP server), and DHCPv6 on
546/547. One evidence per (profile, window, destination, port).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_rfc1918_or_ula
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

DNS_PORT = 53
DHCP_PORTS = frozenset({67, 68})
DHCPV6_PORTS = frozenset({546, 547})


class ConnectionToPrivateIp(Detector):
    """A private source connecting to a private destination."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.CONNECTION_TO_PRIVATE_IP,)
    threat_level = ThreatLevel.INFO
    confidence = 1.0

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_rfc1918_or_ula(flow.saddr) and is_rfc1918_or_ula(flow.daddr)):
            return None
        proto = flow.proto.lower()
        dport = flow.dport
        if proto in ("tcp", "udp"):
            if dport == DNS_PORT or dport in DHCPV6_PORTS:
                return None
            if proto == "udp" and dport in DHCP_PORTS and self.facts.is_dhcp_server(flow.daddr):
                return None
        seen = self.state.window("private_ip", msg.profile, msg.twid)
        key = (flow.daddr, dport)
        if key in seen:
            return None
        seen[key] = True
        if proto.startswith("icmp"):
            where = "using ICMP"
        elif proto in ("tcp", "udp"):
            where = f"on port {dport}/{proto}"
        else:
            where = f"using {proto or 'an unknown transport'}"
        return [
            make_evidence(
                EvidenceType.CONNECTION_TO_PRIVATE_IP,
                description=f"Private address {flow.saddr} connected to private address {flow.daddr} {where}",
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
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
