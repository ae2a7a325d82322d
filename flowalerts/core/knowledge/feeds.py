"""Local threat-intelligence feeds: JA3/JA3S/JA4, SSL SHA1, Tor exit nodes."""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import ThreatLevel


class FeedEntry(msgspec.Struct, kw_only=True, frozen=True):
    description: str
    threat_level: ThreatLevel
    tags: tuple[str, ...] = ()
    source: str = ""


class ThreatFeeds:
    def __init__(
        self,
        ja3: dict[str, FeedEntry] | None = None,
        ssl_sha1: dict[str, FeedEntry] | None = None,
        tor_exits: frozenset[str] = frozenset(),
    ) -> None:
        self.ja3 = ja3 or {}
        self.ssl_sha1 = ssl_sha1 or {}
        self.tor_exits = tor_exits

    @classmethod
    def empty(cls) -> ThreatFeeds:
        return cls()

    @classmethod
    def load(cls, config, notify=print) -> ThreatFeeds:
        return cls()
