"""Weird HTTP methods (spec 2.28) from weird.log: Zeek's
``unknown_HTTP_method`` and the other HTTP-method weirds (names containing
"HTTP_method", e.g. ``HTTP_method_not_allowed``... and ``bad_HTTP_request``,
whose ``addl`` carries the method). MEDIUM, confidence 0.9, attacker the
client, victim the server. ``addl`` is attacker-controlled: it is kept raw
here (cut to a bounded length) and escaped by the sink at output."""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import WeirdRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip

MAX_ADDL = 200


def is_http_method_weird(name: str) -> bool:
    lowered = name.lower()
    return "http_method" in lowered or lowered.startswith("bad_http_request")


class WeirdHttpMethod(Detector):
    """An HTTP request with a method Zeek does not know."""

    channels = ("new_weird",)
    evidence_types = (EvidenceType.WEIRD_HTTP_METHOD,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.9

    def handle(self, msg: Message[WeirdRecord]) -> Result:
        flow = msg.flow
        if not is_http_method_weird(flow.name) or not is_ip(flow.saddr) or not is_ip(flow.daddr):
            return None
        method = flow.addl[:MAX_ADDL]
        return [
            make_evidence(
                EvidenceType.WEIRD_HTTP_METHOD,
                description=(
                    f"Weird HTTP method '{method}' from {flow.saddr} to {flow.daddr}:{flow.dport} "
                    f"(Zeek weird {flow.name})"
                ),
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                src_port=flow.sport or None,
                dst_port=flow.dport or None,
            )
        ]
