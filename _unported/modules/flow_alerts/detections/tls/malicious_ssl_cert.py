"""Malicious TLS certificates (spec 2.19, INTENT): a certificate whose SHA1 is
in ``knowledge.feeds.ssl_sha1``.

The SHA1 comes from files.log (a file whose source is SSL; the reader makes
``saddr`` the sender, i.e. the server), from x509.log ``fingerprint`` (joined
to its ssl connection by the TLS learner), or from ssl.log ``cert_chain_fps``.
The *server* is the attacker (DST, the feed's threat level, profile the
server); the client gets a linked LOW evidence (SRC, profile the client). The
reference swaps the two roles (spec 5 item 17). Files that are not
certificates (source HTTP ...) are never looked up here. Once per (server,
sha1, window).
"""

from __future__ import annotations

from typing import Any

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, link, src_ip
from flowalerts.knowledge.feeds import FeedEntry
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.records import FilesRecord, SslRecord, X509Record
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.malicious_ja3 import feed_suffix
from flowalerts.modules.flow_alerts.detectors.tls.names import cert_conn_of

SEEN_TTL_WINDOWS = 2


class MaliciousSslCert(Detector):
    """A certificate SHA1 listed in the SSL blacklist feed."""

    channels = ("new_downloaded_file", "new_x509", "new_ssl")
    evidence_types = (EvidenceType.MALICIOUS_SSL_CERT,)
    confidence = 1.0

    def handle(self, msg: Message[Any]) -> Result:
        feed = self.knowledge.feeds.ssl_sha1
        if not feed:
            return None
        flow = msg.flow
        # (sha1, server, client, uids)
        candidates: list[tuple[str, str, str, list[str]]] = []
        if isinstance(flow, FilesRecord):
            if "SSL" in flow.source.upper() and flow.sha1:
                candidates.append((flow.sha1, flow.saddr, flow.daddr, [flow.uid, *flow.conn_uids[:1]]))
        elif isinstance(flow, X509Record):
            joined = cert_conn_of(self.state, flow.uid)
            if flow.fingerprint and joined is not None:
                candidates.append((flow.fingerprint, joined.server, joined.client, [joined.uid, flow.uid]))
        elif isinstance(flow, SslRecord):
            for fp in flow.cert_chain_fps[:10]:
                candidates.append((fp, flow.daddr, flow.saddr, [flow.uid]))
        out: list[Evidence] = []
        for sha1, server, client, uids in candidates:
            sha1 = sha1.lower()
            entry = feed.get(sha1)
            if entry is None or not is_ip(server) or not is_ip(client):
                continue
            if self._first(server, sha1, msg.twid, flow.starttime):
                out.extend(self._evidence(msg, sha1, server, client, uids, entry))
        return out

    def _first(self, server: str, sha1: str, twid: int, ts: float) -> bool:
        seen = self.state.table("malicious_ssl_cert_seen")
        key = (server, sha1, twid)
        if seen.get(key) is not None:
            return False
        width = self.ctx.config.parameters.width
        seen.set(key, True, ts + SEEN_TTL_WINDOWS * min(width, 86400.0))
        return True

    def _evidence(self, msg: Message[Any], sha1: str, server: str, client: str, uids: list[str],
                  entry: FeedEntry) -> list[Evidence]:
        description = (
            f"Malicious TLS certificate (SHA1 {sha1}) presented by server {server} to {client}."
            f"{feed_suffix(entry)}"
        )
        common = dict(description=description, confidence=self.confidence, twid=msg.twid,
                      timestamp=msg.flow.starttime, uids=uids)
        server_ev = make_evidence(EvidenceType.MALICIOUS_SSL_CERT, attacker=dst_ip(server),
                                  threat_level=entry.threat_level, profile=server, **common)
        client_ev = make_evidence(EvidenceType.MALICIOUS_SSL_CERT, attacker=src_ip(client),
                                  threat_level=ThreatLevel.LOW, profile=client, **common)
        return link(server_ev, client_ev)
