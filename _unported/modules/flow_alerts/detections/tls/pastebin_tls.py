"""Pastebin downloads over TLS (spec 2.20, INTENT; the reference's TLS path
crashes): the SNI contains "pastebin" and the connection's downloaded bytes
(its conn.log ``dbytes``, joined by uid) are at least
``pastebin_download_threshold``.

The conn record may be logged after the ssl record, so the ssl record waits
(pending table) until its conn record is known or flow time passes
``ts + CONN_WAIT``, and is settled at end of input. INFO, confidence 1.0,
attacker the client. Once per uid.
"""

from __future__ import annotations

import msgspec

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, src_ip
from flowalerts.messages import Message
from flowalerts.records import SslRecord
from flowalerts.modules.flow_alerts.conn_join import ConnJoinDetector
from flowalerts.modules.flow_alerts.detector import Result, make_evidence


class PendingPastebin(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    profile: str
    twid: int
    starttime: float
    saddr: str
    daddr: str
    sport: int
    dport: int
    server_name: str


class PastebinTls(ConnJoinDetector):
    """A download of at least the threshold from a pastebin host over TLS."""

    channels = ("new_ssl",)
    evidence_types = (EvidenceType.PASTEBIN_DOWNLOAD,)
    threat_level = ThreatLevel.INFO
    confidence = 1.0

    table_prefix = "pastebin_tls"

    def handle(self, msg: Message[SslRecord]) -> Result:
        flow = msg.flow
        if "pastebin" not in flow.server_name.lower():
            return None
        entry = PendingPastebin(profile=msg.profile, twid=msg.twid, starttime=flow.starttime, saddr=flow.saddr,
                                daddr=flow.daddr, sport=flow.sport, dport=flow.dport, server_name=flow.server_name)
        return self.wait_for_conn(flow.uid, entry, flow.starttime)

    def decide(self, uid: str, entry: PendingPastebin, conn) -> Evidence | None:
        if conn is None or conn.dbytes < self.config.pastebin_download_threshold:
            return None
        return make_evidence(
            EvidenceType.PASTEBIN_DOWNLOAD,
            description=(
                f"Download from pastebin over TLS: {entry.saddr} received {conn.dbytes / 1e6:g} MB "
                f"from {entry.server_name} ({entry.daddr})"
            ),
            attacker=src_ip(entry.saddr),
            threat_level=self.threat_level,
            confidence=self.confidence,
            profile=entry.profile,
            twid=entry.twid,
            timestamp=entry.starttime,
            uids=[uid],
            src_port=entry.sport,
            dst_port=entry.dport,
        )
