"""Long connections (seed; spec 2.1).

A connection lasting longer than ``threshold`` seconds (default 1500, i.e. 25
minutes; strictly longer) is reported: long sessions carry exfiltration, C2
and tunnels.

Exceptions, and why:

* either end multicast: streaming and discovery protocols keep multicast
  "connections" open for hours by design (seed).

Zeek writes a conn record when the connection ends, so these records are the
latest to arrive; the lateness policy of ``flowalerts.core.clock`` keeps their
window open for them.
"""

from __future__ import annotations

import math

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.ips import is_ip, is_multicast
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection

SECONDS_PER_DAY = 86400.0


class LongConnectionConfig(SectionConfig):
    threshold: float = 1500.0  # seconds

    slips_keys = {"long_connection_threshold": "threshold"}


class LongConnectionDetails(Details):
    duration: float
    threshold: float
    dport: int
    proto: str


LONG_CONNECTION = EvidenceKind(
    "LONG_CONNECTION",
    ThreatLevel.LOW,
    confidence=0.0,  # grows with the duration, see below
    details=LongConnectionDetails,
    summary="a connection longer than the threshold (1500 s), not multicast; confidence grows to 1 at 24 h",
)


class LongConnection(Detection):
    """A connection whose duration exceeds the threshold."""

    id = "long_connection"
    channels = ("new_flow",)
    Config = LongConnectionConfig
    evidence = (LONG_CONNECTION,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        duration = flow.dur
        if not duration > self.config.threshold or not math.isfinite(duration):
            return
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)) or is_multicast(flow.saddr) or is_multicast(flow.daddr):
            return
        self.report(
            LONG_CONNECTION,
            msg=msg,
            attacker=src_ip(flow.saddr),
            victim=dst_ip(flow.daddr),
            # Confidence grows with the duration and reaches 1 at a full day.
            confidence=round(min(1.0, duration / SECONDS_PER_DAY), 2),
            details=LongConnectionDetails(duration=duration, threshold=self.config.threshold,
                                          dport=flow.dport, proto=flow.proto),
            description=(
                f"long connection from {flow.saddr} to {flow.daddr}:{flow.dport}/{flow.proto} "
                f"lasting {int(duration // 60)} minutes (threshold {self.config.threshold:g} s)"
            ),
            src_port=flow.sport,
            dst_port=flow.dport,
            proto=flow.proto or None,
        )
