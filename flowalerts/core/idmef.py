"""IDMEFv2 form of an evidence (``--format idmef`` / ``output.idmef: true``).

Each evidence becomes one IDMEFv2 message built with the ``idmefv2`` package:
the analyzer (Flowalerts), the attacker as a Source and the victim as a Target
(IP, or a hostname for domain IoCs), the description, a priority derived from
the threat level, the confidence, the flow uids and the full evidence JSON as
an attachment. Ids are derived from the evidence id, so replays are stable.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from idmefv2 import Message

from flowalerts import __version__
from flowalerts.core.evidence import Evidence, EvidenceType, Ioc, IoCType, ThreatLevel, to_json

IDMEF_VERSION = "2.D.V08"

# IDMEFv2 has no "Critical" priority: critical maps to its highest, High.
PRIORITY = {
    ThreatLevel.INFO: "Info",
    ThreatLevel.LOW: "Low",
    ThreatLevel.MEDIUM: "Medium",
    ThreatLevel.HIGH: "High",
    ThreatLevel.CRITICAL: "High",
}

_RECON = {
    EvidenceType.VERTICAL_PORT_SCAN,
    EvidenceType.HORIZONTAL_PORT_SCAN,
    EvidenceType.GRE_SCAN,
    EvidenceType.DNS_ARPA_SCAN,
    EvidenceType.CONNECTION_TO_MULTIPLE_PORTS,
}
_MALWARE = {
    EvidenceType.MALICIOUS_JA3,
    EvidenceType.MALICIOUS_JA3S,
    EvidenceType.MALICIOUS_JA4,
    EvidenceType.MALICIOUS_JA4S,
    EvidenceType.MALICIOUS_SSL_CERT,
    EvidenceType.DGA_NXDOMAINS,
}


def category_of(evidence_type: EvidenceType) -> str:
    if evidence_type in _RECON:
        return "Recon.Network"
    if evidence_type in _MALWARE:
        return "Malware.Other"
    return "Other.Undetermined"


def _derived_uuid(*parts: str) -> str:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def _endpoint(evidence: Evidence, ioc: Ioc, role: str, port: int | None) -> dict[str, object]:
    entry: dict[str, object] = {"ID": _derived_uuid(evidence.id, role)}
    if ioc.ioc_type is IoCType.IP:
        try:
            entry["IP"] = str(ipaddress.ip_address(ioc.value))
        except ValueError:
            entry["Note"] = f"{ioc.ioc_type.value}: {ioc.value}"
    elif ioc.ioc_type is IoCType.DOMAIN:
        entry["Hostname"] = ioc.value
    else:
        entry["Note"] = f"{ioc.ioc_type.value}: {ioc.value}"
    if port:
        entry["Port"] = [port]
    return entry


def to_idmef(evidence: Evidence) -> Message:
    """The IDMEFv2 message for one evidence (not yet validated)."""
    msg = Message()
    msg["Version"] = IDMEF_VERSION
    msg["ID"] = evidence.id
    msg["CreateTime"] = evidence.timestamp
    msg["StartTime"] = evidence.timestamp
    msg["Category"] = [category_of(evidence.evidence_type)]
    msg["Description"] = f"{evidence.evidence_type.value}: {evidence.description}"
    msg["Priority"] = PRIORITY[evidence.threat_level]
    msg["Confidence"] = evidence.confidence
    msg["Note"] = f"profile {evidence.profile} timewindow {evidence.timewindow}"
    msg["Analyzer"] = {
        "Name": "Flowalerts",
        "Model": f"Flowalerts {__version__} flow_alerts",
        "Category": ["NET.NDR"],
        "Data": ["Flow", "Network"],
        "Method": ["Heuristic"],
    }
    if evidence.rel_id:
        msg["RelID"] = list(evidence.rel_id)
    msg["Source"] = [_endpoint(evidence, evidence.attacker, "source", evidence.src_port)]
    if evidence.victim is not None:
        msg["Target"] = [_endpoint(evidence, evidence.victim, "target", evidence.dst_port)]
    msg["Attachment"] = [
        {
            "Name": "evidence",
            "ContentType": "application/json",
            "Content": json.loads(to_json(evidence)),
        },
        {
            "Name": "uids",
            "ContentType": "text/plain",
            "Note": "Zeek uids of the flows behind this evidence",
            "Content": " ".join(evidence.uids),
        },
    ]
    return msg


def idmef_json(evidence: Evidence, validate: bool = False) -> bytes:
    """One IDMEFv2 JSON object (without the newline).

    Schema validation (``idmefv2``'s ``Message.validate``) re-reads the schema
    on every call, so it is off on the hot path and exercised by the tests.
    """
    msg = to_idmef(evidence)
    if validate:
        return bytes(msg.serialize("application/json"))
    return json.dumps(msg, ensure_ascii=True, separators=(",", ":")).encode()
