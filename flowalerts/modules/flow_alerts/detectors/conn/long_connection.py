"""Long connections (spec 2.1): a connection lasting longer than
``flow_alerts.long_connection_threshold`` seconds (default 1500), except when
either end is a multicast address."""

from __future__ import annotations

import math

from flowalerts.core.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.core.knowledge.ips import is_ip, is_multicast
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence

SECONDS_PER_DAY = 86400.0


class LongConnection(Detector):
    """A connection whose duration exceeds the threshold (strictly)."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.LONG_CONNECTION,)
    threat_level = ThreatLevel.LOW

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        duration = flow.dur
        if not duration > self.config.long_connection_threshold or not math.isfinite(duration):
            return None
        if is_multicast(flow.saddr) or is_multicast(flow.daddr):
            return None
        # Confidence grows with the duration and reaches 1 at a full day.
        confidence = round(min(1.0, duration / SECONDS_PER_DAY), 2)
        return [
            make_evidence(
                EvidenceType.LONG_CONNECTION,
                description=(
                    f"Long connection from {flow.saddr} to {flow.daddr}:{flow.dport}/{flow.proto} "
                    f"lasting {int(duration // 60)} minutes"
                ),
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=self.threat_level,
                confidence=confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                src_port=flow.sport,
                dst_port=flow.dport,
            )
        ]
