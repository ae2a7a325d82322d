"""Connections to multiple ports of one destination (spec 2.18).

Established TCP flows from a profile to one destination on ports with no
known service (Zeek found no ``service`` and the port is not in
services.csv). Evidence once two such ports are seen in a window, and again
each time the port count of *that destination* grows (the reference tracks
the count per profile, suppressing other destinations: spec 4.14 item 4).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

# Bounds per (profile, window, destination).
MAX_PORTS = 4096
MAX_UIDS = 100


class MultiplePorts(Detector):
    """Established TCP to two or more unknown-service ports of one host."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.CONNECTION_TO_MULTIPLE_PORTS,)
    threat_level = ThreatLevel.INFO
    confidence = 0.5

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if flow.proto.lower() != "tcp" or not flow.is_established or flow.appproto:
            return None
        if not flow.daddr or flow.saddr != msg.profile or self.knowledge.ports.is_known(flow.dport, "tcp"):
            return None
        table = self.state.window("multiple_ports", msg.profile, msg.twid)
        entry = table.get(flow.daddr)
        if entry is None:
            entry = table[flow.daddr] = {"ports": {}, "reported": 0}
        ports: dict[int, str] = entry["ports"]
        if flow.dport not in ports and len(ports) >= MAX_PORTS:
            return None
        ports[flow.dport] = flow.uid
        count = len(ports)
        if count < 2 or count <= entry["reported"]:
            return None
        entry["reported"] = count
        port_list = sorted(ports)
        shown = ", ".join(str(p) for p in port_list[:20]) + (" ..." if count > 20 else "")
        uids = list(ports.values())[-MAX_UIDS:]
        return [
            make_evidence(
                EvidenceType.CONNECTION_TO_MULTIPLE_PORTS,
                description=f"{flow.saddr} made established TCP connections to {count} ports with no known "
                f"service on {flow.daddr}: {shown}",
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=uids,
            )
        ]
