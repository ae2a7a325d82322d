"""Multiple reconnection attempts (spec 2.12, 2.13, seed).

Counts TCP flows that never got established (``ConnRecord.is_established`` is
False: S0, REJ, RSTOS0, RSTRH, SH, SHR, and RSTR/RST/FIN with <= 3 packets)
from a profile to the same destination IP and port in one window. Evidence
at ``reconnection_attempts_threshold`` (5) attempts and again at each further
multiple (10, 15 ...), carrying the uids of the attempts since the last one.

Telnet (TCP 23 and 2323) uses ``telnet_reconnection_attempts_threshold`` (4)
and a counter per destination; a telnet flow counts only there, so one burst
is not reported twice. UDP is not counted: it has no handshake, and Zeek marks
every unanswered datagram (broadcasts, retries) S0.
"""

from __future__ import annotations

from flowalerts.core.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.core.knowledge.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence

TELNET_PORTS = frozenset({23, 2323})


class ReconnectionAttempts(Detector):
    """Repeated not-established TCP flows to one destination and port."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.MULTIPLE_RECONNECTION_ATTEMPTS,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.5

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if flow.proto.lower() != "tcp" or flow.is_established or not flow.daddr:
            return None
        telnet = flow.dport in TELNET_PORTS
        if telnet:
            key: tuple[str, object] = (flow.daddr, "telnet")
            threshold = self.config.telnet_reconnection_attempts_threshold
        else:
            key = (flow.daddr, flow.dport)
            threshold = self.config.reconnection_attempts_threshold
        threshold = max(1, threshold)
        counters = self.state.window("reconnection_attempts", msg.profile, msg.twid)
        entry = counters.get(key)
        if entry is None:
            entry = counters[key] = [0, []]
        entry[0] += 1
        uids = entry[1]
        if flow.uid:
            uids.append(flow.uid)
            del uids[:-threshold]
        if entry[0] % threshold:
            return None
        count = entry[0]
        entry[1] = []
        what = "telnet connection attempts" if telnet else "connection attempts"
        return [
            make_evidence(
                EvidenceType.MULTIPLE_RECONNECTION_ATTEMPTS,
                description=f"{count} failed {what} from {flow.saddr} to {flow.daddr} port {flow.dport}/tcp "
                f"in this time window",
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
