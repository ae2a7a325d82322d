"""IDMEFv2 form of evidence and alerts (``--format idmef`` / ``output.idmef: true``).

Each evidence becomes an IDMEFv2 message (plain JSON, no extra dependency;
the tests validate it against the IDMEFv2 schema): the analyzer (Flowalerts),
the attacker as a Source and the victim as a Target (IP, or a hostname for
domain IoCs), the description, a priority from the threat level, the
confidence, the category its evidence kind declares, the flow uids and the
full evidence JSON as an attachment. Each alert becomes an Incident message
whose ``RelID`` lists its evidence; an updated alert is written again with the
same ID. IDs derive from the evidence and alert ids, so replays are stable.
"""

from __future__ import annotations

import ipaddress
import json

from flowalerts import __version__
from flowalerts.core.evidence import KINDS, Evidence, Ioc, IoCType, ThreatLevel, to_json, uuid_shaped
from flowalerts.io.alerts import Alert

IDMEF_VERSION = "2.D.V08"

# IDMEFv2 has no "Critical" priority: critical maps to its highest, High.
PRIORITY = {
    ThreatLevel.INFO: "Info",
    ThreatLevel.LOW: "Low",
    ThreatLevel.MEDIUM: "Medium",
    ThreatLevel.HIGH: "High",
    ThreatLevel.CRITICAL: "High",
}

ANALYZER = {
    "Name": "Flowalerts",
    "Model": f"Flowalerts {__version__} flow_alerts",
    "Category": ["NET.NDR"],
    "Data": ["Flow", "Network"],
    "Method": ["Heuristic"],
}


def category_of(evidence_type: str) -> str:
    kind = KINDS.get(evidence_type)
    return kind.category if kind is not None else "Other.Undetermined"

def _endpoint(evidence: Evidence, ioc: Ioc, role: str, port: int | None) -> dict[str, object]:
    entry: dict[str, object] = {"ID": uuid_shaped(evidence.id, role)}
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


def to_idmef(evidence: Evidence) -> dict[str, object]:
    """The IDMEFv2 message (an Event) for one evidence."""
    msg: dict[str, object] = {}
    msg["Version"] = IDMEF_VERSION
    msg["ID"] = evidence.id
    msg["CreateTime"] = evidence.timestamp
    msg["StartTime"] = evidence.timestamp
    msg["Category"] = [category_of(evidence.evidence_type)]
    msg["Description"] = f"{evidence.evidence_type}: {evidence.description}"
    msg["Priority"] = PRIORITY[evidence.threat_level]
    msg["Confidence"] = evidence.confidence
    msg["Note"] = f"profile {evidence.profile} timewindow {evidence.timewindow}"
    msg["Analyzer"] = dict(ANALYZER)
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


def to_idmef_incident(alert: Alert) -> dict[str, object]:
    """The IDMEFv2 message (an Incident) for one alert, at its current version."""
    return {
        "Version": IDMEF_VERSION,
        "ID": alert.id,
        "CreateTime": alert.timestamp,
        "StartTime": alert.timestamp,
        "Category": ["Other.Undetermined"],
        "Description": (
            f"alert for profile {alert.profile} in time window {alert.timewindow}: accumulated threat "
            f"{alert.accumulated_threat:g} >= {alert.threshold:g} from {len(alert.evidence_ids)} evidence"
        ),
        "Status": "Incident",
        "Priority": "High",
        "Note": f"version {alert.version}",
        "Analyzer": dict(ANALYZER),
        "Source": [{"ID": uuid_shaped(alert.id, "source"), "IP": alert.profile}],
        "RelID": list(alert.evidence_ids),
    }


def _dump(message: dict[str, object]) -> bytes:
    return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode()


def idmef_event_json(evidence: Evidence) -> bytes:
    """One IDMEFv2 Event (JSON, without the newline)."""
    message = to_idmef(evidence)
    message["Status"] = "Event"
    return _dump(message)


def idmef_incident_json(alert: Alert) -> bytes:
    """One IDMEFv2 Incident (JSON, without the newline)."""
    return _dump(to_idmef_incident(alert))
