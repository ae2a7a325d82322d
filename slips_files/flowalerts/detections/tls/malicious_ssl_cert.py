"""Malicious TLS certificates (seed; spec 2.19 INTENT).

A server presents a certificate whose SHA1 is in the SSL blacklist feed
(``knowledge.feeds.ssl_sha1``, abuse.ch's SSLBL by default): a known C&C
server's certificate.

Where the SHA1 comes from, per Zeek version:

* files.log, a file whose ``source`` is SSL (older Zeek; Zeek 5+ only with
  ``X509::log_x509_in_files_log``, which ``zeek-scripts/scan-and-certs.zeek``
  turns on). The reader makes ``saddr`` the sender of the file, the server.
* ssl.log ``cert_chain_fps`` (Zeek 5+), when Zeek's certificate fingerprints
  are SHA1 (``X509::hash_function``); with the default SHA256 they cannot
  match a SHA1 feed, and x509.log's ``fingerprint`` is the same value, so
  x509.log adds nothing here.

Files that are not certificates (source HTTP ...) are never looked up here
(the threat-intelligence module owns downloaded files). A connection reported
by both logs (files.log ``conn_uids`` and ssl.log ``uid``) counts once.

The *server* is the attacker (DST, the feed's threat level, profile the
server); the client gets a linked LOW evidence (SRC, profile the client). The
reference swaps the two roles (spec 5 item 17). One pair per (client
profile, window, server, SHA1), with the count and every uid; the threat
level and confidence grow from the feed's level (the client's from LOW) with
the count, by the kind's growth (threshold 1).
"""

from __future__ import annotations

from typing import Any

import msgspec

from flowalerts.core.evidence import (
    Details,
    Evidence,
    EvidenceKind,
    ThreatLevel,
    dst_ip,
    escape_text,
    src_ip,
)
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import FilesRecord, SslRecord
from flowalerts.engine.detection import CountedOnce, Detection, Finding, NoConfig, Tally
from flowalerts.knowledge.feeds import FeedEntry
from flowalerts.traffic.tls_names import MAX_CHAIN


class MaliciousSslCertDetails(Details):
    sha1: str
    server: str
    sources: list[str]  # "files.log", "ssl.log"
    feed_description: str
    feed_source: str
    feed_tags: list[str]


MALICIOUS_SSL_CERT = EvidenceKind(
    "MALICIOUS_SSL_CERT",
    ThreatLevel.HIGH,  # the feed entry's level replaces it
    confidence=1.0,
    details=MaliciousSslCertDetails,
    category="Malware.C2",
    summary="the server's certificate SHA1 is in the SSL blacklist feed (files.log, or ssl.log SHA1 "
    "fingerprints); paired server/client",
)


class MaliciousSslCertTally(Tally):
    entry: FeedEntry | None = None  # the feed's entry for the SHA1
    sources: list[str] = msgspec.field(default_factory=list)  # the logs that showed it

    def note(self, entry: FeedEntry, source: str, conn_uid: str, uid: str) -> None:
        if self.entry is None:
            self.entry = entry
        if source not in self.sources:
            self.sources.append(source)
        # files.log names the certificate file; the connection's uid is what an analyst looks up.
        if conn_uid and conn_uid != uid and conn_uid not in self.uids and len(self.uids) < Evidence.MAX_UIDS:
            self.uids.append(conn_uid)


class MaliciousSslCert(Detection[NoConfig, MaliciousSslCertTally]):
    """A certificate SHA1 listed in the SSL blacklist feed."""

    id = "malicious_ssl_cert"
    channels = ("new_downloaded_file", "new_ssl")
    logs = ()  # files.log or ssl.log
    evidence = (MALICIOUS_SSL_CERT,)

    def handle(self, msg: Message[Any]) -> None:
        feeds = self.knowledge.feeds
        if not feeds.ssl_sha1:
            return
        flow = msg.flow
        if isinstance(flow, FilesRecord):
            if "SSL" in flow.source.upper() and flow.sha1:
                conn_uid = flow.conn_uids[0] if flow.conn_uids else ""
                self._candidate(msg, flow.sha1, server=flow.saddr, client=flow.daddr, conn_uid=conn_uid,
                                uid=flow.uid, source="files.log")
        elif isinstance(flow, SslRecord):
            for fingerprint in flow.cert_chain_fps[:MAX_CHAIN]:
                self._candidate(msg, fingerprint, server=flow.daddr, client=flow.saddr, conn_uid=flow.uid,
                                uid=flow.uid, source="ssl.log")

    def _candidate(self, msg: Message[Any], sha1: str, *, server: str, client: str, conn_uid: str, uid: str,
                   source: str) -> None:
        entry = self.knowledge.feeds.ssl_entry(sha1)
        if entry is None or not is_ip(server) or not is_ip(client):
            return
        sha1 = sha1.strip().lower()
        # Counted in the client's window (files.log records are the server's).
        client_msg = Message(profile=client, twid=msg.twid, flow=msg.flow, late=msg.late)
        key = (server, sha1)
        if conn_uid and not self.window(client_msg, CountedOnce).first(key, conn_uid):
            return

        self.tally(client_msg, key, 1, uid=uid, update=lambda tally: tally.note(entry, source, conn_uid, uid))

    def report_tally(
        self, profile: str, twid: int, key: tuple[str, str], tally: MaliciousSslCertTally
    ) -> list[Finding] | None:
        server, sha1 = key
        entry = tally.entry
        if entry is None:  # pragma: no cover - note() sets it with the first occurrence
            return None
        details = MaliciousSslCertDetails(sha1=sha1, server=server, sources=sorted(tally.sources),
                                          feed_description=entry.description, feed_source=entry.source,
                                          feed_tags=list(entry.tags))
        description = (
            f"malicious TLS certificate (SHA1 {escape_text(sha1, 64)}) presented by server {server} to {profile}: "
            f"{tally.count} connection(s) in this time window.{entry.describe()}"
        )
        server_side = Finding(victim=None, details=details, description=description, profile=server,
                              attacker=dst_ip(server), level=entry.threat_level, id_key=(*key, "server"))
        client = Finding(victim=None, details=details, description=description, attacker=src_ip(profile),
                         level=ThreatLevel.LOW)
        return [server_side, client]
