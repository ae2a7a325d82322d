"""Zeek notices (spec 2.14, 2.15, 2.16).

* ``Scan::Port_Scan`` -> VERTICAL_PORT_SCAN: attacker the scanner (notice
  ``src``); the victim is read from the message ("... ports of host X in
  ...") with plain string search and kept only when it is an IP, else None.
* ``Scan::Address_Scan`` -> HORIZONTAL_PORT_SCAN, no victim.
  Both HIGH, confidence 1.0, profile the scanner, and both mark the scanner
  as a port scanner for the window (``state.window("port_scanner", ip,
  twid)["flag"]``), which the unknown-port detection reads.
* ``SSL::Invalid_Server_Cert`` -> SELF_SIGNED_CERTIFICATE or
  INVALID_CERTIFICATE with the status in parentheses of the message
  ("SSL certificate validation failed with (certificate has expired)"),
  de-duplicated with the ssl.log path.
"""

from __future__ import annotations

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import NoticeRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip
from flowalerts.modules.flow_alerts.detectors.tls.validation import validation_evidence

VICTIM_MARK = "ports of host "


def victim_of_port_scan(text: str) -> str | None:
    """The host after "ports of host " up to the next space, if it is an IP."""
    start = text.find(VICTIM_MARK)
    if start < 0:
        return None
    rest = text[start + len(VICTIM_MARK) : start + len(VICTIM_MARK) + 64]
    candidate = rest.split(" ", 1)[0]
    return candidate if is_ip(candidate) else None


def status_of_cert_notice(text: str) -> str:
    """The text inside the first '(' and the last ')' of the message."""
    start = text.find("(")
    end = text.rfind(")")
    if start < 0 or end <= start:
        return text.strip()
    return text[start + 1 : end].strip()


class ZeekNotices(Detector):
    """Port scans, address scans and certificate failures reported by Zeek."""

    channels = ("new_notice",)
    evidence_types = (
        EvidenceType.VERTICAL_PORT_SCAN,
        EvidenceType.HORIZONTAL_PORT_SCAN,
        EvidenceType.SELF_SIGNED_CERTIFICATE,
        EvidenceType.INVALID_CERTIFICATE,
    )
    threat_level = ThreatLevel.HIGH
    confidence = 1.0

    def handle(self, msg: Message[NoticeRecord]) -> Result:
        flow = msg.flow
        note = flow.note
        if "Port_Scan" in note:
            return self._scan(msg, vertical=True)
        if "Address_Scan" in note:
            return self._scan(msg, vertical=False)
        if note == "SSL::Invalid_Server_Cert":
            return validation_evidence(
                self.state,
                profile=msg.profile,
                twid=msg.twid,
                client=flow.saddr,
                server=flow.daddr,
                status=status_of_cert_notice(flow.msg),
                server_name=self.facts.sni_of(flow.daddr) or "",
                timestamp=flow.starttime,
                uids=[flow.uid],
                source="notice.log",
                src_port=flow.sport or None,
                dst_port=flow.dport or None,
            )
        return None

    def _scan(self, msg: Message[NoticeRecord], vertical: bool) -> list[Evidence]:
        flow = msg.flow
        scanner = flow.scanning_ip or flow.saddr
        if not is_ip(scanner):
            return []
        self.state.window("port_scanner", scanner, msg.twid)["flag"] = True
        if vertical:
            victim_ip = victim_of_port_scan(flow.msg)
            evidence_type = EvidenceType.VERTICAL_PORT_SCAN
            description = f"Vertical port scan reported by Zeek: {flow.msg}"
        else:
            victim_ip = None
            evidence_type = EvidenceType.HORIZONTAL_PORT_SCAN
            description = f"Horizontal port scan (address scan) reported by Zeek: {flow.msg}"
        return [
            make_evidence(
                evidence_type,
                description=description,
                attacker=src_ip(scanner),
                victim=dst_ip(victim_ip) if victim_ip else None,
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=scanner,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
                dst_port=flow.scanned_port or None,
            )
        ]
