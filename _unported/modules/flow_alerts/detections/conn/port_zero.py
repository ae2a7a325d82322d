"""Connections to or from port 0 (spec 2.11).

Port 0 is reserved; TCP or UDP traffic using it is crafted. Other transports
(ICMP, IGMP, ARP, Zeek's ``unknown_transport`` such as ESP) have no ports and
log 0, so only TCP and UDP are checked (spec 5.3 item 26).
"""

from __future__ import annotations

from flowalerts.evidence import Direction, EvidenceType, Ioc, IoCType, ThreatLevel
from flowalerts.knowledge.ips import is_ip, is_multicast
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

PORTED_PROTOCOLS = frozenset({"tcp", "udp"})


class PortZero(Detector):
    """A TCP/UDP flow whose source or destination port is 0."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.PORT_0_CONNECTION,)
    threat_level = ThreatLevel.HIGH
    confidence = 0.8

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if flow.sport != 0 and flow.dport != 0:
            return None
        if flow.proto.lower() not in PORTED_PROTOCOLS or is_multicast(flow.daddr):
            return None
        # The side using port 0 is the one crafting packets.
        attacker, victim = (flow.saddr, flow.daddr) if flow.sport == 0 else (flow.daddr, flow.saddr)
        if attacker == msg.profile:
            attacker_dir, victim_dir, owner = Direction.SRC, Direction.DST, attacker
        else:
            attacker_dir, victim_dir, owner = Direction.DST, Direction.SRC, victim
        return [
            make_evidence(
                EvidenceType.PORT_0_CONNECTION,
                description=(
                    f"Connection on port 0 from {flow.saddr}:{flow.sport} to "
                    f"{flow.daddr}:{flow.dport}/{flow.proto}"
                ),
                attacker=Ioc(direction=attacker_dir, ioc_type=IoCType.IP, value=attacker),
                victim=Ioc(direction=victim_dir, ioc_type=IoCType.IP, value=victim),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=owner,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                src_port=flow.sport,
                dst_port=flow.dport,
            )
        ]
