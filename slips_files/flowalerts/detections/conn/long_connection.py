"""Long connections (seed; spec 2.1).

A connection lasting longer than ``threshold`` seconds (default 1500, i.e. 25
minutes; strictly longer) is reported: long sessions carry exfiltration, C2
and tunnels.

Exceptions, and why:

* either end multicast: streaming and discovery protocols keep multicast
  "connections" open for hours by design (seed).

Threat level: LOW (the seed's) when Zeek recognised no application protocol
on the connection (``service`` empty): a long session of something unknown
is what raw tunnels and custom C2 channels look like. **INFO** when Zeek
recognised one (``ssl``, ``http``, ``ssh`` ...): today's applications keep
TLS and HTTP sessions open for hours by design (HTTP/2, WebSockets, push
channels), so the length of a session of a standard protocol says nothing
by itself (issue 21: on CTU-Normal-44 day 2, 37 of the 45 benign flows this
detection hit were TLS sessions to GitHub, Twitter, Google and AWS-hosted
services, 26 minutes to 6.5 hours). Every long connection is still
reported, with the service in its details; what a long TLS session carries
is judged by the detections of volume (DATA_UPLOAD) and content.

Zeek writes a conn record when the connection ends, so these records are the
latest to arrive; the lateness policy of ``flowalerts.core.clock`` keeps their
window open for them, and one arriving after its window closed is still
reported (each connection is its own evidence).
"""

from __future__ import annotations

import math

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, src_ip
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
    service: str = ""  # the application protocol Zeek recognised ("" when none)


LONG_CONNECTION = EvidenceKind(
    "LONG_CONNECTION",
    ThreatLevel.LOW,
    confidence=0.0,  # grows with the duration, see below
    details=LongConnectionDetails,
    summary="a connection longer than the threshold (1500 s), not multicast; confidence grows to 1 at 24 h; info "
    "when Zeek recognised its application protocol (a long TLS/HTTP session is ordinary)",
)


class LongConnection(Detection[LongConnectionConfig]):
    """A connection whose duration exceeds the threshold."""

    id = "long_connection"
    channels = ("new_flow",)
    # Late records too: a per-record rule, and long connections are the records
    # that arrive last (Zeek writes them when they end), even after their window closed.
    late_records = True
    evidence = (LONG_CONNECTION,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        duration = flow.dur
        if not duration > self.config.threshold or not math.isfinite(duration):
            return
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)) or is_multicast(flow.saddr) or is_multicast(flow.daddr):
            return
        service = flow.appproto.strip().lower()[:64]
        self.report(
            LONG_CONNECTION,
            msg=msg,
            attacker=src_ip(flow.saddr),
            victim=dst_ip(flow.daddr),
            threat_level=ThreatLevel.INFO if service else ThreatLevel.LOW,
            # Confidence grows with the duration and reaches 1 at a full day.
            confidence=round(min(1.0, duration / SECONDS_PER_DAY), 2),
            details=LongConnectionDetails(duration=duration, threshold=self.config.threshold,
                                          dport=flow.dport, proto=flow.proto, service=service),
            description=(
                f"long connection from {flow.saddr} to {flow.daddr}:{flow.dport}/{flow.proto} "
                f"lasting {int(duration // 60)} minutes (threshold {self.config.threshold:g} s)"
                + (f", a session of {escape_text(service, 64)}" if service else ", no application protocol recognised")
            ),
            src_port=flow.sport,
            dst_port=flow.dport,
            proto=flow.proto or None,
        )
