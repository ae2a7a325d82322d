"""Shared shape of certificate-validation evidence (spec 2.15, 2.16).

Used by the ssl.log detector (``validation_status``) and the notice.log
detector (``SSL::Invalid_Server_Cert``): a self-signed certificate gives
SELF_SIGNED_CERTIFICATE, any other failed validation INVALID_CERTIFICATE.
Both are paired LOW evidence (client SRC, profile client / server DST, profile
server), confidence 0.5, once per (client profile, window, server, status), so
the same failure reported by both logs is reported once.
"""

from __future__ import annotations

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, link, src_ip
from flowalerts.state import State
from flowalerts.modules.flow_alerts.detector import make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip

CONFIDENCE = 0.5
MAX_STATUS = 300


def classify(status: str) -> EvidenceType | None:
    """The evidence type for a Zeek validation status; None when it is fine."""
    text = status.strip().lower()
    if not text or text == "ok" or text.startswith("ok "):
        return None
    if "self signed" in text or "self-signed" in text:
        return EvidenceType.SELF_SIGNED_CERTIFICATE
    return EvidenceType.INVALID_CERTIFICATE


def validation_evidence(
    state: State,
    *,
    profile: str,
    twid: int,
    client: str,
    server: str,
    status: str,
    server_name: str,
    timestamp: float,
    uids: list[str],
    source: str,
    src_port: int | None = None,
    dst_port: int | None = None,
) -> list[Evidence]:
    evidence_type = classify(status)
    if evidence_type is None or not is_ip(client) or not is_ip(server):
        return []
    status = status.strip()[:MAX_STATUS]
    seen = state.window("certificate_validation", profile, twid)
    key = (server, status.lower())
    if key in seen:
        return []
    seen[key] = True
    what = "Self-signed" if evidence_type is EvidenceType.SELF_SIGNED_CERTIFICATE else "Invalid"
    description = f"{what} TLS certificate on server {server} contacted by {client}: validation status '{status}'"
    if server_name:
        description += f", SNI {server_name}"
    description += f" (from {source})."
    common = dict(description=description, threat_level=ThreatLevel.LOW, confidence=CONFIDENCE, twid=twid,
                  timestamp=timestamp, uids=uids, src_port=src_port, dst_port=dst_port)
    client_ev = make_evidence(evidence_type, attacker=src_ip(client), profile=client, **common)
    server_ev = make_evidence(evidence_type, attacker=dst_ip(server), profile=server, **common)
    return link(client_ev, server_ev)
