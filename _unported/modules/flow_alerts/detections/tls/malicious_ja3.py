"""Malicious TLS fingerprints (spec 2.9, 2.10, and JA4/JA4S from FoxIO's Zeek
package): ssl.log ``ja3``/``ja4`` (client) or ``ja3s``/``ja4s`` (server) found
in ``knowledge.feeds.ja3``.

Client fingerprints blame the client (SRC, the feed's threat level, victim the
server). Server fingerprints give paired evidence: the server (DST, the feed's
level, profile the server) and the client talking to it (SRC, LOW, profile
the client). Once per (profile, window, fingerprint, server) to avoid floods.
"""

from __future__ import annotations

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, link, src_ip
from flowalerts.knowledge.feeds import FeedEntry
from flowalerts.messages import Message
from flowalerts.records import SslRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence


def feed_suffix(entry: FeedEntry) -> str:
    """The feed's description and tags, for evidence descriptions."""
    text = ""
    if entry.description and entry.description != "None":
        text += f" Feed description: {entry.description}."
    if entry.tags:
        text += f" Tags: {', '.join(entry.tags)}."
    if entry.source:
        text += f" Source: {entry.source}."
    return text


class MaliciousJa3(Detector):
    """JA3/JA4 client and JA3S/JA4S server fingerprints listed in the feed."""

    channels = ("new_ssl",)
    evidence_types = (
        EvidenceType.MALICIOUS_JA3,
        EvidenceType.MALICIOUS_JA3S,
        EvidenceType.MALICIOUS_JA4,
        EvidenceType.MALICIOUS_JA4S,
    )
    confidence = 1.0

    def handle(self, msg: Message[SslRecord]) -> Result:
        flow = msg.flow
        feed = self.knowledge.feeds.ja3
        if not feed:
            return None
        out: list[Evidence] = []
        for kind, value in (("JA3", flow.ja3), ("JA4", flow.ja4)):
            entry = (feed.get(value) or feed.get(value.lower())) if value else None
            if entry is not None and self._first(msg, kind, value):
                out.append(self._client(msg, kind, value, entry))
        for kind, value in (("JA3S", flow.ja3s), ("JA4S", flow.ja4s)):
            entry = (feed.get(value) or feed.get(value.lower())) if value else None
            if entry is not None and self._first(msg, kind, value):
                out.extend(self._server(msg, kind, value, entry))
        return out

    def _first(self, msg: Message[SslRecord], kind: str, value: str) -> bool:
        seen = self.state.window("malicious_tls_fingerprint", msg.profile, msg.twid)
        key = (kind, value.lower(), msg.flow.daddr)
        if key in seen:
            return False
        seen[key] = True
        return True

    def _client(self, msg: Message[SslRecord], kind: str, value: str, entry: FeedEntry) -> Evidence:
        flow = msg.flow
        return make_evidence(
            EvidenceType[f"MALICIOUS_{kind}"],
            description=(
                f"Client TLS fingerprint {kind} {value} listed as malicious, used from {flow.saddr} "
                f"to {flow.daddr}:{flow.dport}.{feed_suffix(entry)}"
            ),
            attacker=src_ip(flow.saddr),
            victim=dst_ip(flow.daddr),
            threat_level=entry.threat_level,
            confidence=self.confidence,
            profile=msg.profile,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=[flow.uid],
            src_port=flow.sport,
            dst_port=flow.dport,
        )

    def _server(self, msg: Message[SslRecord], kind: str, value: str, entry: FeedEntry) -> list[Evidence]:
        flow = msg.flow
        description = (
            f"Server TLS fingerprint {kind} {value} listed as malicious (possible C&C server) "
            f"on {flow.daddr}:{flow.dport}, contacted by {flow.saddr}.{feed_suffix(entry)}"
        )
        common = dict(
            confidence=self.confidence,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=[flow.uid],
            src_port=flow.sport,
            dst_port=flow.dport,
        )
        evidence_type = EvidenceType[f"MALICIOUS_{kind}"]
        server = make_evidence(evidence_type, description=description, attacker=dst_ip(flow.daddr),
                               threat_level=entry.threat_level, profile=flow.daddr, **common)
        client = make_evidence(evidence_type, description=description, attacker=src_ip(flow.saddr),
                               threat_level=ThreatLevel.LOW, profile=msg.profile, **common)
        return link(server, client)
