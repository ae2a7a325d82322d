"""Malicious TLS fingerprints (seed; spec 2.9, 2.10; JA4/JA4S from FoxIO's
Zeek package).

A TLS client or server whose handshake fingerprint is listed in the JA3 feed
(``knowledge.feeds.ja3``, abuse.ch's by default): client fingerprints (ssl.log
``ja3``, ``ja4``) identify malware families' TLS stacks, server fingerprints
(``ja3s``, ``ja4s``) their C&C servers.

* JA3/JA4 (client): attacker the client (SRC, the feed's threat level),
  victim the server, profile the client.
* JA3S/JA4S (server): a linked pair, the server (DST, the feed's level,
  profile the server) and the client talking to it (SRC, LOW, profile the
  client).

Exceptions: none; an empty feed detects nothing. Fingerprints compare without
case.

Slips has no JA4 types: inside Slips MALICIOUS_JA4 is delivered as
MALICIOUS_JA3 and MALICIOUS_JA4S as MALICIOUS_JA3S (the same technique on a
newer fingerprint).

One evidence (or pair) per (client profile, window, fingerprint, server),
with the count and every uid; the threat level and confidence grow from the
feed's level (a paired client's from LOW) with the count, by the kind's growth
(threshold 1).
"""

from __future__ import annotations

from flowalerts.core.evidence import (
    Details,
    EvidenceKind,
    ThreatLevel,
    dst_ip,
    escape_text,
    src_ip,
)
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.knowledge.feeds import FeedEntry


class MaliciousFingerprintDetails(Details):
    fingerprint: str  # lower case
    method: str  # "JA3", "JA3S", "JA4" or "JA4S"
    server: str
    feed_description: str
    feed_source: str
    feed_tags: list[str]


def _kind(name: str, slips: str | None, server: bool) -> EvidenceKind:
    return EvidenceKind(
        name,
        ThreatLevel.HIGH,  # the feed entry's level replaces it
        confidence=1.0,
        details=MaliciousFingerprintDetails,
        slips=slips,
        category="Malware.C2" if server else "Malware.Infected",
        summary=(f"the server's {name.removeprefix('MALICIOUS_')} fingerprint is in the JA3 feed (paired server/client)"
                 if server else f"the client's {name.removeprefix('MALICIOUS_')} fingerprint is in the JA3 feed"),
    )


MALICIOUS_JA3 = _kind("MALICIOUS_JA3", None, server=False)
MALICIOUS_JA3S = _kind("MALICIOUS_JA3S", None, server=True)
MALICIOUS_JA4 = _kind("MALICIOUS_JA4", "MALICIOUS_JA3", server=False)
MALICIOUS_JA4S = _kind("MALICIOUS_JA4S", "MALICIOUS_JA3S", server=True)
KINDS = {"JA3": MALICIOUS_JA3, "JA3S": MALICIOUS_JA3S, "JA4": MALICIOUS_JA4, "JA4S": MALICIOUS_JA4S}
SERVER_METHODS = frozenset({"JA3S", "JA4S"})


class FingerprintTally(Tally):
    entry: FeedEntry | None = None  # the feed's entry for the fingerprint
    dport: int = 0  # the server port of the first connection


class MaliciousJa3(Detection[NoConfig, FingerprintTally]):
    """JA3/JA4 client and JA3S/JA4S server fingerprints listed in the feed."""

    id = "malicious_ja3"
    channels = ("new_ssl",)
    evidence = (MALICIOUS_JA3, MALICIOUS_JA3S, MALICIOUS_JA4, MALICIOUS_JA4S)

    def handle(self, msg: Message[SslRecord]) -> None:
        flow = msg.flow
        feeds = self.knowledge.feeds
        if not feeds.ja3 or not is_ip(flow.saddr) or not is_ip(flow.daddr):
            return
        for method, value in (("JA3", flow.ja3), ("JA3S", flow.ja3s), ("JA4", flow.ja4), ("JA4S", flow.ja4s)):
            if not value:
                continue
            entry = feeds.ja3_entry(value)
            if entry is None:
                continue
            fingerprint = value.strip().lower()

            self.tally(msg, (method, fingerprint, flow.daddr), 1, update=lambda tally, e=entry: _note(tally, e, flow))

    def report_tally(
        self, profile: str, twid: int, key: tuple[str, str, str], tally: FingerprintTally
    ) -> Finding | list[Finding] | None:
        method, fingerprint, server = key
        kind = KINDS[method]
        entry = tally.entry
        if entry is None:  # pragma: no cover - _note sets it with the first occurrence
            return None
        details = MaliciousFingerprintDetails(fingerprint=fingerprint, method=method, server=server,
                                              feed_description=entry.description, feed_source=entry.source,
                                              feed_tags=list(entry.tags))
        dst_port = tally.dport or None
        if method not in SERVER_METHODS:
            return Finding(
                kind=kind,
                attacker=src_ip(profile),
                victim=dst_ip(server),
                level=entry.threat_level,
                description=(
                    f"client TLS fingerprint {method} {escape_text(fingerprint, 100)} listed as malicious, used from "
                    f"{profile} to {server}: {tally.count} connection(s) in this time window.{entry.describe()}"
                ),
                details=details,
                dst_port=dst_port,
                proto="tcp",
            )
        description = (
            f"server TLS fingerprint {method} {escape_text(fingerprint, 100)} listed as malicious (possible C&C "
            f"server) on {server}, contacted by {profile}: {tally.count} connection(s) in this time window."
            f"{entry.describe()}"
        )
        server_side = Finding(kind=kind, profile=server, attacker=dst_ip(server), victim=None, level=entry.threat_level,
                              description=description, details=details, dst_port=dst_port, proto="tcp",
                              id_key=(*key, "server"))
        client = Finding(kind=kind, attacker=src_ip(profile), victim=None, level=ThreatLevel.LOW,
                         description=description, details=details, dst_port=dst_port, proto="tcp")
        return [server_side, client]


def _note(tally: FingerprintTally, entry: FeedEntry, flow: SslRecord) -> None:
    if tally.entry is None:
        tally.entry = entry
        tally.dport = flow.dport
