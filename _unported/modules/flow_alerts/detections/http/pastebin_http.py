"""Pastebin downloads over HTTP (spec 2.20, HTTP path): a GET to a host whose
name contains "pastebin" with a response body of at least
``pastebin_download_threshold`` bytes. INFO, confidence 1.0, attacker the
client. Once per uid."""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, src_ip
from flowalerts.messages import Message
from flowalerts.records import HttpRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence


class PastebinHttp(Detector):
    """A download of at least the threshold from a pastebin host over HTTP."""

    channels = ("new_http",)
    evidence_types = (EvidenceType.PASTEBIN_DOWNLOAD,)
    threat_level = ThreatLevel.INFO
    confidence = 1.0

    def handle(self, msg: Message[HttpRecord]) -> Result:
        flow = msg.flow
        if flow.method.upper() != "GET" or "pastebin" not in flow.host.lower():
            return None
        size = flow.response_body_len
        if size < self.config.pastebin_download_threshold:
            return None
        seen = self.state.window("pastebin_http", msg.profile, msg.twid)
        if flow.uid in seen:
            return None
        seen[flow.uid] = True
        return [
            make_evidence(
                EvidenceType.PASTEBIN_DOWNLOAD,
                description=(
                    f"Download from pastebin over HTTP: {flow.saddr} received {size / 1e6:g} MB "
                    f"from {flow.host} ({flow.daddr})"
                ),
                attacker=src_ip(flow.saddr),
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
