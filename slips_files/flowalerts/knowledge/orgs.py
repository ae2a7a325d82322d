"""Well-known organisations (google, microsoft, apple, facebook, twitter).

An IP belongs to an organisation when it is inside one of its ranges or its
ASN (from the offline IP-to-ASN database) is one of the organisation's ASNs; a
domain belongs when it equals or is a subdomain of one of the organisation's
domains (suffix-aware).

API used by detectors (keep it stable):
* ``org_of_ip(ip) -> str | None``            supported org owning the IP
* ``ip_in_org(ip, org) -> bool``
* ``org_of_domain(domain) -> str | None``    supported org owning the domain
* ``domain_in_org(domain, org) -> bool``
* ``asn_of(ip) -> tuple[int, str] | None``   (AS number, AS name), offline
* ``org_of_name(text) -> str | None``        a supported org named as a word in text
                                             (e.g. a certificate's O= or CN=)

Data: ``slips_files/flowalerts/data/organizations_info/<org>_{asn,domains,ip_ranges}``,
written by ``scripts/build_org_data.py``. Ranges are kept per organisation and
IP version as sorted, merged integer intervals searched with ``bisect``.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import pathlib
import re
import sys
from collections.abc import Iterable

from flowalerts.core.ips import parse_ip
from flowalerts.data import DATA_DIR as PACKAGE_DATA

SUPPORTED_ORGS = ("google", "microsoft", "apple", "facebook", "twitter")

DATA_DIR = PACKAGE_DATA / "organizations_info"

# Names under which an organisation appears in free text (certificate O=/CN=,
# AS names). Matched as whole words, case-insensitively; the alternation is a
# fixed list of literals, so matching is linear in the text.
_ORG_NAMES: dict[str, str] = {
    "google": "google",
    "youtube": "google",
    "microsoft": "microsoft",
    "apple": "apple",
    "facebook": "facebook",
    "meta platforms": "facebook",
    "instagram": "facebook",
    "whatsapp": "facebook",
    "twitter": "twitter",
    "x corp": "twitter",
}
_ORG_NAME_RE = re.compile(
    r"\b(" + "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in _ORG_NAMES) + r")\b",
    re.IGNORECASE,
)
_MAX_NAME_TEXT = 4096


class _Ranges:
    """Sorted, merged, non-overlapping [start, end] integer intervals."""

    __slots__ = ("ends", "starts")

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def __contains__(self, value: int) -> bool:
        i = bisect.bisect_right(self.starts, value) - 1
        return i >= 0 and value <= self.ends[i]

    def __len__(self) -> int:
        return len(self.starts)


# Entries per lookup cache (cleared when full: memory stays bounded).
_CACHE_SIZE = 65536


class _AsnDatabase:
    """The offline IP-to-ASN database (plevin), with bounded memory.

    plevin keeps up to 16,384 blocks per section in memory, each with the
    LZMA decompressor that is still decoding it (a 1 MiB window each): a few
    thousand distinct addresses then cost hundreds of megabytes. We tame
    every cache of the reader (``_tame_caches``): at most ``BLOCK_CACHE``
    entries, and a block is decoded to its end as soon as it is read, so its
    decompressor can go. Measured on the 5,541 distinct destinations of the
    1M benchmark: 109 MB -> 53 MB above the bare process, 0.3 s slower (a cap
    of 64 is eight times slower and saves little more).
    Answers are also kept in a small cache of our own.
    """

    BLOCK_CACHE = 256

    def __init__(self) -> None:
        self._reader = None
        self._answers: dict[str, tuple[int, str] | None] = {}

    def lookup(self, ip: str) -> tuple[int, str] | None:
        answers = self._answers
        if ip in answers:
            return answers[ip]
        answer = self._lookup(ip)
        if len(answers) >= _CACHE_SIZE:
            answers.clear()
        answers[ip] = answer
        return answer

    def _open(self):
        import plevin

        reader = plevin.Plevin()
        _tame_caches(reader, self.BLOCK_CACHE)
        return reader

    def _lookup(self, ip: str) -> tuple[int, str] | None:
        address = parse_ip(ip)
        if address is None or not address.is_global:
            return None
        try:
            if self._reader is None:
                self._reader = self._open()
            network = self._reader.lookup(str(address)).network
        except Exception:  # the database is optional; any failure is "unknown"
            return None
        if network is None or not network.asn:
            return None
        operator = network.operator
        name = (operator.company if operator is not None and operator.company else None) or network.handle or ""
        return int(network.asn), str(name)


class _DecodedToEnd:
    """Stands in for the LZMA decompressor of a block decoded to its end."""

    eof = True
    needs_input = False


_DECODED = _DecodedToEnd()


def _decode_to_end(value: object, stream_type: type) -> object:
    """Decode every plevin stream (``stream_type``) in a freshly built cache
    value to its end and drop its decompressor (the decoded bytes are all that
    is read later)."""
    for part in value if isinstance(value, tuple) else (value,):
        if isinstance(part, stream_type) and part.decoder is not _DECODED:
            part.until(sys.maxsize)
            part.decoder = _DECODED
            part.packed = b""
    return value


def _tame_caches(reader: object, limit: int) -> int:
    """Cap every plevin cache reachable from ``reader`` at ``limit`` entries and
    make the blocks it builds release their decompressors; returns how many
    caches were found.

    This reaches into plevin's internals (its ``Cache`` dict type, ``Stream``
    blocks); if they change, nothing is changed and lookups still work.
    """
    try:
        from plevin.reader import Cache, Stream
    except ImportError:
        return 0
    found = 0
    seen: set[int] = set()
    todo: list[object] = [reader]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Cache):
            if isinstance(getattr(obj, "limit", None), int):
                obj.limit = min(obj.limit, limit)
            build = getattr(obj, "build", None)
            if callable(build) and not getattr(build, "_decodes_to_end", False):
                obj.build = _building_to_end(build, Stream)
            found += 1
            continue
        children: list[object] = []
        if isinstance(obj, dict):
            children.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            children.extend(obj)
        children.extend(getattr(obj, "__dict__", {}).values())
        # Slots of every class in the hierarchy (a subclass's __slots__ lists only its own).
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                children.append(getattr(obj, slot, None))
        for child in children:
            if child is not None and not isinstance(child, (int, float, str, bytes, memoryview)):
                todo.append(child)
    return found


def _building_to_end(build, stream_type: type):
    def building(key: object) -> object:
        return _decode_to_end(build(key), stream_type)

    building._decodes_to_end = True  # type: ignore[attr-defined]
    return building


_ASN_DB = _AsnDatabase()


def _db_network(ip: str) -> tuple[int, str] | None:
    """(ASN, name) of a global IP from the offline database, or None."""
    return _ASN_DB.lookup(ip)


@functools.lru_cache(maxsize=1)
def _extractor():
    """tldextract with its bundled suffix list; never touches the network."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _normalise_domain(domain: str) -> str:
    if not isinstance(domain, str):
        return ""
    return domain.strip().lower().rstrip(".")


@functools.lru_cache(maxsize=65536)
def registered_domain(domain: str) -> str:
    """The registrable domain (``www.google.co.uk`` -> ``google.co.uk``).

    Empty when the name has no known public suffix (``localhost``, an IP).
    """
    domain = _normalise_domain(domain)
    if not domain or parse_ip(domain) is not None:
        return ""
    try:
        parts = _extractor()(domain)
    except Exception:
        return ""
    if not parts.suffix or not parts.domain:
        return ""
    return f"{parts.domain}.{parts.suffix}"


class Organizations:
    def __init__(
        self,
        asns: dict[str, Iterable[int]] | None = None,
        domains: dict[str, Iterable[str]] | None = None,
        ranges: dict[str, Iterable[str]] | None = None,
        use_asn_db: bool = False,
        asn_membership: bool | None = None,
    ) -> None:
        self.use_asn_db = use_asn_db
        # Whether an IP outside the ranges still belongs to an org by its ASN
        # (a database lookup, ~1 ms per new address, then cached). The
        # shipped ranges do not cover every prefix of every ASN (cloud ranges
        # such as AS396982 are missing), so the shipped data uses it.
        self.asn_membership = use_asn_db if asn_membership is None else asn_membership
        self._org_of_ip_cache: dict[str, str | None] = {}
        self._org_of_domain_cache: dict[str, str | None] = {}
        self.asns: dict[str, frozenset[int]] = {org: frozenset(v) for org, v in (asns or {}).items()}
        self._asn_to_org: dict[int, str] = {}
        for org in reversed(SUPPORTED_ORGS):
            for asn in self.asns.get(org, ()):
                self._asn_to_org[asn] = org
        self.domains: dict[str, frozenset[str]] = {
            org: frozenset(d for d in map(_normalise_domain, v) if d) for org, v in (domains or {}).items()
        }
        self._domain_to_org: dict[str, str] = {}
        for org in reversed(SUPPORTED_ORGS):
            for domain in self.domains.get(org, ()):
                self._domain_to_org[domain] = org
        self._ranges: dict[tuple[str, int], _Ranges] = {}
        for org, cidrs in (ranges or {}).items():
            by_version: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
            for cidr in cidrs:
                try:
                    net = ipaddress.ip_network(cidr.strip(), strict=False)
                except (ValueError, AttributeError):
                    continue
                by_version[net.version].append((int(net.network_address), int(net.broadcast_address)))
            for version, intervals in by_version.items():
                if intervals:
                    self._ranges[(org, version)] = _Ranges(intervals)
        self._orgs = tuple(o for o in SUPPORTED_ORGS if o in self.asns or o in self.domains or (o, 4) in self._ranges or (o, 6) in self._ranges)

    @classmethod
    def empty(cls) -> Organizations:
        return cls()

    @classmethod
    def load_default(cls) -> Organizations:
        return cls.load_dir(DATA_DIR)

    @classmethod
    def load_dir(cls, folder: str | pathlib.Path, use_asn_db: bool = True) -> Organizations:
        """Read ``<org>_asn``, ``<org>_domains``, ``<org>_ip_ranges`` from a folder.

        Missing files count as empty; unparseable lines are skipped.
        """
        folder = pathlib.Path(folder)
        asns: dict[str, list[int]] = {}
        domains: dict[str, list[str]] = {}
        ranges: dict[str, list[str]] = {}
        for org in SUPPORTED_ORGS:
            asns[org] = [a for a in map(_parse_asn, _lines(folder / f"{org}_asn")) if a is not None]
            domains[org] = list(_lines(folder / f"{org}_domains"))
            ranges[org] = list(_lines(folder / f"{org}_ip_ranges"))
        return cls(asns=asns, domains=domains, ranges=ranges, use_asn_db=use_asn_db)

    # IPs ---------------------------------------------------------------

    def _in_ranges(self, ip: str, org: str) -> bool:
        address = parse_ip(ip) if isinstance(ip, str) else None
        if address is None:
            return False
        ranges = self._ranges.get((org, address.version))
        return ranges is not None and int(address) in ranges

    def org_of_ip(self, ip: str) -> str | None:
        # The same addresses recur constantly; remember the answers (bounded).
        cache = self._org_of_ip_cache
        if ip in cache:
            return cache[ip]
        org = self._org_of_ip(ip)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[ip] = org
        return org

    def _org_of_ip(self, ip: str) -> str | None:
        address = parse_ip(ip) if isinstance(ip, str) else None
        if address is None:
            return None
        value = int(address)
        for org in self._orgs:
            ranges = self._ranges.get((org, address.version))
            if ranges is not None and value in ranges:
                return org
        if self.asn_membership and self._asn_to_org:
            found = _db_network(ip)
            if found is not None:
                return self._asn_to_org.get(found[0])
        return None

    def ip_in_org(self, ip: str, org: str) -> bool:
        org = org.lower() if isinstance(org, str) else ""
        if self._in_ranges(ip, org):
            return True
        if self.asn_membership and self.asns.get(org) and isinstance(ip, str):
            found = _db_network(ip)
            return found is not None and found[0] in self.asns[org]
        return False

    def asn_of(self, ip: str) -> tuple[int, str] | None:
        if not self.use_asn_db or not isinstance(ip, str):
            return None
        return _db_network(ip)

    # Domains -----------------------------------------------------------

    def org_of_domain(self, domain: str) -> str | None:
        """Exact match, or a subdomain of an org domain within the same registrable domain."""
        cache = self._org_of_domain_cache
        if domain in cache:
            return cache[domain]
        org = self._org_of_domain(domain)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        if isinstance(domain, str):
            cache[domain] = org
        return org

    def _org_of_domain(self, domain: str) -> str | None:
        domain = _normalise_domain(domain)
        if not domain or not self._domain_to_org:
            return None
        org = self._domain_to_org.get(domain)
        if org is not None:
            return org
        # Walk the parents, but never above the registrable domain: an org
        # domain that is itself a public suffix does not own its subdomains.
        base = registered_domain(domain)
        if not base or not domain.endswith("." + base):
            return self._domain_to_org.get(base) if base == domain else None
        rest = domain
        while rest != base:
            _, _, rest = rest.partition(".")
            org = self._domain_to_org.get(rest)
            if org is not None:
                return org
        return None

    def domain_in_org(self, domain: str, org: str) -> bool:
        return self.org_of_domain(domain) == org

    # Names -------------------------------------------------------------

    def org_of_name(self, text: str) -> str | None:
        """A supported organisation named as a whole word (``Pineapple`` is not Apple)."""
        if not isinstance(text, str) or not text:
            return None
        match = _ORG_NAME_RE.search(text[:_MAX_NAME_TEXT])
        if match is None:
            return None
        return _ORG_NAMES[" ".join(match.group(1).lower().split())]


def _lines(path: pathlib.Path) -> Iterable[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def _parse_asn(text: str) -> int | None:
    text = text.strip().upper()
    if text.startswith("AS"):
        text = text[2:]
    return int(text) if text.isdigit() else None
