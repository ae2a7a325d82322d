"""Private addresses outside the local network, dns.log path (spec 2.32 INTENT).

On DNS to port 53: a private (RFC 1918) IPv4 endpoint outside the learned
local network that is not a DNS server learned from traffic (the DNS learner
runs first, so a private resolver that answers is exempt from its first
answered query on). IPv6 endpoints are never checked: no IPv6 local network
is learned, and ULA / link-local resolvers are normal. Loopback, 0.0.0.0,
broadcast and multicast are skipped. Evidence as on the conn path: a private
source outside the network is LOW (profile = source), a private destination
outside it is HIGH (profile = destination). Once per (profile, window, side,
address).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_rfc1918_or_ula, is_unicast_ipv4
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence

DNS_PORT = 53


class DnsDifferentLocalnet(Detector):
    """DNS traffic with a private IPv4 endpoint outside the local network."""

    channels = ("new_dns",)
    evidence_types = (EvidenceType.DIFFERENT_LOCALNET,)
    confidence = 1.0

    def handle(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        if flow.dport != DNS_PORT:
            return None
        localnet = self.facts.local_network
        if localnet is None or localnet.version != 4:
            return None
        out = []
        for side, ip in (("src", flow.saddr), ("dst", flow.daddr)):
            if not (is_unicast_ipv4(ip) and is_rfc1918_or_ula(ip)) or self.facts.in_local_network(ip) or self.facts.is_dns_server(ip):
                continue
            seen = self.state.window("dns_different_localnet", msg.profile, msg.twid)
            if (side, ip) in seen:
                continue
            seen[(side, ip)] = True
            out.append(self._evidence(msg, side, str(localnet)))
        return out or None

    def _evidence(self, msg: Message[DnsRecord], side: str, localnet: str):
        flow = msg.flow
        port = f"{flow.dport}/{flow.proto or 'udp'}"
        if side == "src":
            attacker, victim, level, profile = src_ip(flow.saddr), dst_ip(flow.daddr), ThreatLevel.LOW, flow.saddr
            description = (
                f"DNS query from private address {flow.saddr}, which is outside the local network {localnet}, "
                f"to {flow.daddr} port {port}"
            )
        else:
            attacker, victim, level, profile = dst_ip(flow.daddr), src_ip(flow.saddr), ThreatLevel.HIGH, flow.daddr
            description = (
                f"DNS query from {flow.saddr} to private address {flow.daddr}, which is outside the local network "
                f"{localnet}, port {port}"
            )
        return make_evidence(
            EvidenceType.DIFFERENT_LOCALNET,
            description=description,
            attacker=attacker,
            victim=victim,
            threat_level=level,
            confidence=self.confidence,
            profile=profile,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=[flow.uid],
            src_port=flow.sport,
            dst_port=flow.dport,
        )
