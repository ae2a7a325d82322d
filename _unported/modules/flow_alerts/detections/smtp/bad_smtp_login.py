"""Bad SMTP logins (spec 2.22): an smtp.log ``last_reply`` saying the
authentication failed: "bad smtp-auth user" (case-insensitive) or a 535
"authentication failed" reply. HIGH, confidence 1.0, attacker the client,
victim the server. Every bad login is reported (each is a separate attempt).
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import SmtpRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip


def is_bad_login(last_reply: str) -> bool:
    reply = last_reply.lower()
    if "bad smtp-auth user" in reply:
        return True
    return reply.lstrip().startswith("535") and "authentication" in reply


class BadSmtpLogin(Detector):
    """One failed SMTP authentication."""

    channels = ("new_smtp",)
    evidence_types = (EvidenceType.BAD_SMTP_LOGIN,)
    threat_level = ThreatLevel.HIGH
    confidence = 1.0

    def handle(self, msg: Message[SmtpRecord]) -> Result:
        flow = msg.flow
        if not is_bad_login(flow.last_reply) or not is_ip(flow.daddr):
            return None
        return [
            make_evidence(
                EvidenceType.BAD_SMTP_LOGIN,
                description=f"Failed SMTP login from {flow.saddr} to {flow.daddr}: reply '{flow.last_reply[:200]}'",
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
