"""Login entries (spec 2.37) from login.log (zeek-scripts/login.zeek: telnet,
rlogin, rsh): informational evidence about the server that received the
login, with its outcome (successful, confused, failed), protocol and user.
Attacker the server (DST daddr), victim the client (SRC saddr), profile the
client. INFO, confidence 1.0."""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import LoginRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip


def login_status(flow: LoginRecord) -> str:
    if flow.success:
        return "successful"
    if flow.confused:
        return "confused"
    return "failed"


class Login(Detector):
    """A telnet/rlogin/rsh login attempt and its outcome."""

    channels = ("new_login",)
    evidence_types = (EvidenceType.LOGIN,)
    threat_level = ThreatLevel.INFO
    confidence = 1.0

    def handle(self, msg: Message[LoginRecord]) -> Result:
        flow = msg.flow
        if not is_ip(flow.daddr) or not is_ip(flow.saddr):
            return None
        proto = flow.proto or "login"
        user = f" as user '{flow.user}'" if flow.user else ""
        client_user = f" (client user '{flow.client_user}')" if flow.client_user else ""
        return [
            make_evidence(
                EvidenceType.LOGIN,
                description=(
                    f"{login_status(flow).capitalize()} {proto} login from {flow.saddr} to {flow.daddr}"
                    f"{user}{client_user}"
                ),
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
