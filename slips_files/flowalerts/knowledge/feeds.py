"""Local threat-intelligence feeds: JA3/JA3S/JA4, SSL SHA1, Tor exit nodes.

Files are named in ``config.threatintelligence`` (relative to
``config.base_dir``):

* JA3 fingerprints, abuse.ch CSV layout ``# ja3_md5,Firstseen,Lastseen,Listingreason``.
  The key is the first column holding a 32-hex value (JA3/JA3S) or a
  JA4/JA4S-shaped token; the description is the ``Listingreason`` column when
  the header names it, else the last column.
* SSL certificate SHA1 blacklist, ``# Listingdate,SHA1,Listingreason``: the key is
  the first 40-hex column.
* Tor exit list: one IP per line, ``#`` comments; invalid, private,
  multicast and other non-global addresses are dropped.

Keys are lower-case. A missing or unreadable file gives an empty feed and a
note through ``notify``, never an exception.

``refresh_feeds`` downloads the ``*_url`` feeds (online mode only), each
within ``threatintelligence.download_timeout`` seconds in total (not per read:
a server dripping a byte a second is cut off) and
``threatintelligence.download_max_bytes``, and replaces a local file only with
content that parses: on any failure the last good copy stays.
"""

from __future__ import annotations

import csv
import os
import pathlib
import re
import tempfile
from collections.abc import Callable

import msgspec

from flowalerts.core.evidence import ThreatLevel
from flowalerts.core.ips import parse_ip
from flowalerts.core.urls import redact_url
from flowalerts.knowledge.fetch import FetchError, fetch

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX40 = re.compile(r"[0-9a-f]{40}")
# JA4 ``t13d1516h2_8daaf6152771_e5627efa2ab1``; JA4S ``t130200_1301_234ea6891581``.
_JA4 = re.compile(r"[tqd][0-9a-z]{5,9}_[0-9a-f]{4,12}_[0-9a-f]{12}")
_MAX_LINE = 4096


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
        ti = config.threatintelligence
        ja3 = _load(config.path(ti.ja3_feed), "JA3", notify,
                    lambda text, source: parse_ja3_feed(text, source, ti.ja3_feed_threat_level, ti.ja3_feed_tags))
        ssl = _load(config.path(ti.ssl_feed), "SSL", notify,
                    lambda text, source: parse_ssl_feed(text, source, ti.ssl_feed_threat_level, ti.ssl_feed_tags))
        tor = _load(config.path(ti.tor_exit_nodes), "Tor exit", notify, lambda text, _source: parse_tor_exits(text))
        return cls(ja3=ja3 or {}, ssl_sha1=ssl or {}, tor_exits=tor or frozenset())

    def ja3_entry(self, fingerprint: str) -> FeedEntry | None:
        """The feed entry of a JA3/JA3S/JA4 fingerprint (any case), or None."""
        return self.ja3.get(fingerprint.strip().lower()) if isinstance(fingerprint, str) else None

    def ssl_entry(self, sha1: str) -> FeedEntry | None:
        return self.ssl_sha1.get(sha1.strip().lower()) if isinstance(sha1, str) else None

    def is_tor_exit(self, ip: str) -> bool:
        address = parse_ip(ip) if isinstance(ip, str) else None
        return address is not None and str(address) in self.tor_exits


def _load(path: pathlib.Path, label: str, notify, parse):
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        if notify is not None:
            notify(f"{label} feed {path} not loaded: {exc.strerror or exc}; the feed is empty")
        return None
    return parse(text, path.name)


def _level(label: str) -> ThreatLevel:
    return ThreatLevel.from_label(label, default=ThreatLevel.HIGH)


def _rows(text: str):
    """CSV rows and the last commented header seen before them."""
    header: list[str] = []
    data_lines = []
    for line in text.splitlines():
        if len(line) > _MAX_LINE:
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            cells = [c.strip().lower() for c in stripped.lstrip("#").split(",")]
            if len(cells) > 1:
                header = cells
            continue
        data_lines.append(stripped)
    return header, csv.reader(data_lines)


def _description(row: list[str], header: list[str], key_index: int) -> str:
    if "listingreason" in header:
        index = header.index("listingreason")
        if index < len(row) and index != key_index:
            return row[index].strip()
    return row[-1].strip() if len(row) > 1 and len(row) - 1 != key_index else ""


def _parse_keyed(text: str, source: str, threat_level: str, tags, is_key: Callable[[str], bool]) -> dict[str, FeedEntry]:
    header, rows = _rows(text)
    level = _level(threat_level)
    tags = tuple(tags or ())
    entries: dict[str, FeedEntry] = {}
    for row in rows:
        for index, cell in enumerate(row):
            key = cell.strip().lower()
            if is_key(key):
                entries[key] = FeedEntry(
                    description=_description(row, header, index), threat_level=level, tags=tags, source=source
                )
                break
    return entries


def _is_fingerprint(token: str) -> bool:
    return bool(_HEX32.fullmatch(token) or _JA4.fullmatch(token))


def parse_ja3_feed(text: str, source: str = "", threat_level: str = "high", tags=()) -> dict[str, FeedEntry]:
    """JA3/JA3S (32 hex) or JA4/JA4S fingerprints -> entry; bad lines are skipped."""
    return _parse_keyed(text, source, threat_level, tags, _is_fingerprint)


def parse_ssl_feed(text: str, source: str = "", threat_level: str = "high", tags=()) -> dict[str, FeedEntry]:
    """SHA1 (40 hex) -> entry; bad lines are skipped."""
    return _parse_keyed(text, source, threat_level, tags, lambda token: bool(_HEX40.fullmatch(token)))


def parse_tor_exits(text: str) -> frozenset[str]:
    """Global unicast IPs, one per line (first token), in canonical text form."""
    exits = set()
    for line in text.splitlines():
        token = line.partition("#")[0].strip().split(maxsplit=1)
        if not token or len(token[0]) > 64:
            continue
        address = parse_ip(token[0])
        if address is None or not address.is_global or address.is_multicast:
            continue
        exits.add(str(address))
    return frozenset(exits)


# Online refresh ---------------------------------------------------------------


def _feed_specs(config):
    ti = config.threatintelligence
    return (
        ("JA3", ti.ja3_feed, ti.ja3_feed_url, lambda text: parse_ja3_feed(text)),
        ("SSL", ti.ssl_feed, ti.ssl_feed_url, lambda text: parse_ssl_feed(text)),
        ("Tor exit", ti.tor_exit_nodes, ti.tor_exit_nodes_url, parse_tor_exits),
    )


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    """The feed's bytes, within ``timeout`` seconds in total and ``max_bytes``."""
    return fetch(url, timeout=timeout, max_bytes=max_bytes)


def _write_atomically(path: pathlib.Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def refresh_feeds(config, notify=print) -> dict[str, bool]:
    """Download every feed that has a URL; keep the last good copy on any failure.

    Returns ``{label: updated}``. Does nothing when network lookups are
    disabled (``lookups.enabled`` false, e.g. ``--offline``). Never raises for
    a network or content problem.
    """
    results: dict[str, bool] = {}
    if not config.lookups.enabled:
        return results
    timeout = float(config.threatintelligence.download_timeout)
    max_bytes = int(config.threatintelligence.download_max_bytes)
    for label, relative, url, parse in _feed_specs(config):
        if not url or not relative:
            continue
        path = config.path(relative)
        shown = redact_url(url)
        try:
            data = _download(url, timeout, max_bytes)
            count = len(parse(data.decode("utf-8", errors="replace")))
            if count == 0:
                raise ValueError("no valid entry in the download")
            _write_atomically(path, data)
        except (FetchError, OSError, ValueError) as exc:
            results[label] = False
            if notify is not None:
                notify(f"{label} feed not refreshed from {shown}: {redact_url(str(exc))}; keeping {path}")
            continue
        results[label] = True
        if notify is not None:
            notify(f"{label} feed refreshed from {shown}: {count} entries")
    return results
