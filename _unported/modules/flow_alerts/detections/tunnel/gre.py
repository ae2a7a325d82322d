"""GRE tunnels and GRE scans from tunnel.log (spec 2.35, 2.36).

Zeek logs a GRE tunnel with action ``Tunnel::DISCOVER`` when it first sees it
(a probe or the start of a tunnel: GRE_SCAN) and again when it closes or
expires (a tunnel that was actually used: GRE_TUNNEL).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import TunnelRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence

GRE = "Tunnel::GRE"
DISCOVER = "Tunnel::DISCOVER"


class GreTunnel(Detector):
    """A GRE tunnel that closed or expired, and a GRE tunnel being discovered."""

    channels = ("new_tunnel",)
    evidence_types = (EvidenceType.GRE_TUNNEL, EvidenceType.GRE_SCAN)
    threat_level = ThreatLevel.LOW
    confidence = 1.0

    def handle(self, msg: Message[TunnelRecord]) -> Result:
        flow = msg.flow
        if flow.tunnel_type != GRE:
            return None
        if flow.action == DISCOVER:
            evidence_type, what = EvidenceType.GRE_SCAN, "GRE scan"
        else:
            evidence_type, what = EvidenceType.GRE_TUNNEL, "GRE tunnel"
        return [
            make_evidence(
                evidence_type,
                description=f"{what} from {flow.saddr} to {flow.daddr}, tunnel action: {flow.action}",
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
            )
        ]
