"""Connections to Tor exit nodes (spec 2.8).

The destination is in the Tor exit list loaded from the local feed file
(``threatintelligence.tor_exit_nodes``). Only the destination is checked:
traffic arriving *from* Tor is not flagged. One evidence per
(profile, window, exit node).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord


class TorExitNode(Detector):
    """A connection whose destination is a known Tor exit node."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.TOR_EXIT_NODE,)
    threat_level = ThreatLevel.INFO
    confidence = 1.0

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if not flow.daddr or flow.daddr not in self.knowledge.feeds.tor_exits:
            return None
        seen = self.state.window("tor_exit_node", msg.profile, msg.twid)
        if flow.daddr in seen:
            return None
        seen[flow.daddr] = True
        return [
            make_evidence(
                EvidenceType.TOR_EXIT_NODE,
                description=f"Connection from {flow.saddr} to the Tor exit node {flow.daddr} "
                f"(port {flow.dport}/{flow.proto})",
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
