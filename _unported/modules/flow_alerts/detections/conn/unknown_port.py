"""Connections to unknown destination ports (spec 2.5, seed).

A port is known when services.csv lists it for the protocol, or when
ports_used_by_specific_orgs.csv lists it for an organisation the destination
belongs to: inside the row's network, or (row without network) the
destination IP, its TLS SNI, rDNS or resolved domains belong to that
organisation. (No MAC-vendor source is available, so the vendor rule is not
applied.)

Not reported: ICMP and port 0; sources flagged as port scanners in this
window (the scan evidence covers them); peer-to-peer traffic, by the
reference's heuristic but counted per profile and window (UDP to ports above
30000, once 5 distinct such destinations were seen, or 6+ flows to one).
At most one evidence per (destination, port, proto) per profile and window.
HIGH when the connection was established, MEDIUM otherwise.
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ip, parse_ip
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

P2P_MIN_PORT = 30000
P2P_DISTINCT_DESTINATIONS = 5
P2P_FLOWS_TO_ONE = 6
MAX_P2P_TRACKED = 256


class UnknownPort(Detector):
    """A connection to a destination port no known service or org uses."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.UNKNOWN_PORT,)
    confidence = 1.0

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        proto = flow.proto.lower()
        if not flow.dport or not proto or "icmp" in proto or not flow.daddr:
            return None
        scanner = self.state.peek_window("port_scanner", msg.profile, msg.twid)
        if scanner and scanner.get("flag"):
            return None
        if self.knowledge.ports.is_known(flow.dport, proto) or self._org_port(flow.daddr, flow.dport, proto):
            return None
        if self._p2p(msg, proto):
            return None
        seen = self.state.window("unknown_port", msg.profile, msg.twid)
        key = (flow.daddr, flow.dport, proto)
        if key in seen:
            return None
        seen[key] = True
        established = flow.is_established
        return [
            make_evidence(
                EvidenceType.UNKNOWN_PORT,
                description=f"Connection to unknown destination port {flow.dport}/{proto} on {flow.daddr} "
                f"from {flow.saddr} ({flow.interpreted_state.lower()})",
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=ThreatLevel.HIGH if established else ThreatLevel.MEDIUM,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                src_port=flow.sport,
                dst_port=flow.dport,
            )
        ]

    def _org_port(self, daddr: str, dport: int, proto: str) -> bool:
        rows = self.knowledge.ports.org_ports(dport, proto)
        if not rows:
            return False
        ip = parse_ip(daddr)
        orgs = self.knowledge.orgs
        names: list[str] | None = None
        for row in rows:
            if row.network is not None:
                if ip is not None and ip.version == row.network.version and ip in row.network:
                    return True
                continue
            if orgs.ip_in_org(daddr, row.org):
                return True
            if names is None:
                names = [n for n in (self.facts.sni_of(daddr), self.facts.rdns_of(daddr)) if n]
                names += self.facts.domains_of_ip(daddr)
            if any(orgs.domain_in_org(name, row.org) for name in names):
                return True
        return False

    def _p2p(self, msg: Message[ConnRecord], proto: str) -> bool:
        flow = msg.flow
        if proto != "udp" or flow.dport <= P2P_MIN_PORT:
            return False
        counts = self.state.window("p2p", msg.profile, msg.twid)
        count = counts.get(flow.daddr, 0)
        if count >= P2P_FLOWS_TO_ONE:
            return True
        if count or len(counts) < MAX_P2P_TRACKED:
            counts[flow.daddr] = count + 1
        return len(counts) >= P2P_DISTINCT_DESTINATIONS
