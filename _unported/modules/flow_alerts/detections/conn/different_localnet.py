"""Private addresses outside the local network, conn.log path (spec 2.31).

The local network is learned once by the conn learner: the first private CIDR
in ``parameters.client_ips``, else the /24 of the first RFC 1918 IPv4 source
seen (our documented choice; the reference uses the whole RFC 1918 block).

Only IPv4 flows between two private addresses, or from a public source to a
private destination, are checked. A private source outside the network is
LOW (unlikely, likely forged); a private destination outside it is HIGH.
DNS over 53/udp belongs to the dns.log path; learned DNS servers on port 53
never alert. One evidence per (profile, window, side, address, port).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_rfc1918_or_ula, is_unicast_ipv4
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

DNS_PORT = 53


class DifferentLocalnet(Detector):
    """A private IPv4 endpoint that is not in the learned local network."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.DIFFERENT_LOCALNET,)
    confidence = 1.0

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        proto = flow.proto.lower()
        if flow.dport == DNS_PORT and proto == "udp":
            return None
        # Cheapest tests first: most flows go to public destinations.
        dst_private = is_rfc1918_or_ula(flow.daddr)
        if not dst_private:
            return None
        localnet = self.facts.local_network
        if localnet is None:
            return None
        if not (is_unicast_ipv4(flow.saddr) and is_unicast_ipv4(flow.daddr)):
            return None
        src_private = is_rfc1918_or_ula(flow.saddr)
        out = []
        seen = None
        for side, ip, private in (("src", flow.saddr, src_private), ("dst", flow.daddr, dst_private)):
            if not private or self.facts.in_local_network(ip):
                continue
            if flow.dport == DNS_PORT and self.facts.is_dns_server(ip):
                continue
            if seen is None:
                seen = self.state.window("different_localnet", msg.profile, msg.twid)
            key = (side, ip, flow.dport)
            if key in seen:
                continue
            seen[key] = True
            out.append(self._evidence(msg, side, localnet))
        return out

    def _evidence(self, msg: Message[ConnRecord], side: str, localnet: object):
        flow = msg.flow
        port = f"{flow.dport}/{flow.proto}"
        if side == "src":
            return make_evidence(
                EvidenceType.DIFFERENT_LOCALNET,
                description=f"Traffic from private address {flow.saddr}, which is outside the local network "
                f"{localnet}, to {flow.daddr} port {port}",
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=ThreatLevel.LOW,
                confidence=self.confidence,
                profile=flow.saddr,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                src_port=flow.sport,
                dst_port=flow.dport,
            )
        return make_evidence(
            EvidenceType.DIFFERENT_LOCALNET,
            description=f"Traffic from {flow.saddr} to private address {flow.daddr}, which is outside the local "
            f"network {localnet}, port {port}",
            attacker=dst_ip(flow.daddr),
            victim=src_ip(flow.saddr),
            threat_level=ThreatLevel.HIGH,
            confidence=self.confidence,
            profile=flow.daddr,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=[flow.uid],
            src_port=flow.sport,
            dst_port=flow.dport,
        )
