"""Helpers for TLS names: certificate subjects, wildcard matching, registrable
domains, and the ssl-connection joins the TLS learner records.

No Detector lives here. Everything is linear-time string handling (no regex
on attacker-controlled text), so hostile subjects or SNIs cannot slow us down.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import msgspec

from flowalerts.knowledge.ips import is_ip
from flowalerts.knowledge.orgs import registered_domain
from flowalerts.records import SslRecord

if TYPE_CHECKING:
    from flowalerts.state import State

# Certificate-to-connection joins live this long in flow time: x509/files
# records are logged while the TLS handshake is still going.
CERT_JOIN_TTL = 3600.0
CERT_CONN_TABLE = "tls_cert_conn"  # fuid or fingerprint -> CertConn
X509_FP_TABLE = "tls_x509_fp"  # fuid -> sha1 fingerprint
X509_SAN_TABLE = "tls_x509_san"  # fuid -> list of SAN dns names
MAX_SAN = 200


class CertConn(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    """The ssl connection a certificate was seen on."""

    client: str
    server: str
    uid: str
    server_name: str
    starttime: float


@functools.lru_cache(maxsize=4096)
def parse_dn(subject: str, limit: int = 64) -> dict[str, list[str]]:
    """Split an RFC 4514-ish distinguished name into attribute -> values.

    Handles backslash-escaped characters (``O=Foo\\, Inc.``); attribute names
    are upper-cased, values stripped. At most ``limit`` attributes are read.
    The result is cached (servers repeat their certificates): do not mutate it.
    """
    out: dict[str, list[str]] = {}
    if not subject:
        return out
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in subject:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
            if len(parts) >= limit:
                break
        else:
            current.append(char)
    else:
        parts.append("".join(current))
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep:
            continue
        out.setdefault(name.strip().upper(), []).append(value.strip())
    return out


def first_attr(subject: str, attr: str) -> str:
    values = parse_dn(subject).get(attr.upper())
    return values[0] if values else ""


def normalise_host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def wildcard_match(pattern: str, host: str) -> bool:
    """RFC 6125 6.4.3 matching of a certificate name against a host name.

    Case-insensitive, whole-name. A ``*`` is allowed only as the whole
    leftmost label (``*.example.com``) and matches exactly one label; it never
    matches an IP literal or a bare public-suffix-like two-label pattern.
    """
    pattern = normalise_host(pattern)
    host = normalise_host(host)
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    p_labels = pattern.split(".")
    h_labels = host.split(".")
    if p_labels[0] != "*" or any("*" in label for label in p_labels[1:]):
        return False
    if len(p_labels) < 3 or len(p_labels) != len(h_labels) or is_ip(host):
        return False
    return bool(h_labels[0]) and p_labels[1:] == h_labels[1:]


def registrable_domain(name: str) -> str:
    """``a.b.example.co.uk`` -> ``example.co.uk``; "" for IPs or bare suffixes.

    A certificate wildcard (``*.example.com``) counts as its base name.
    """
    name = normalise_host(name).lstrip("*.")
    if len(name) > 253:
        return ""
    return registered_domain(name)


def cert_conn_of(state: State, key: str) -> CertConn | None:
    if not key:
        return None
    return state.table(CERT_CONN_TABLE).get(key)


# Well-known public DoH resolvers, by host name (exact match, lower case).
DOH_HOSTNAMES = frozenset(
    {
        "dns.google",
        "dns.google.com",
        "cloudflare-dns.com",
        "mozilla.cloudflare-dns.com",
        "chrome.cloudflare-dns.com",
        "one.one.one.one",
        "1dot1dot1dot1.cloudflare-dns.com",
        "dns.quad9.net",
        "dns9.quad9.net",
        "dns10.quad9.net",
        "dns11.quad9.net",
        "doh.opendns.com",
        "dns.nextdns.io",
        "doh.cleanbrowsing.org",
        "dns.adguard.com",
        "dns.adguard-dns.com",
        "doh.mullvad.net",
    }
)

MAX_CHAIN = 10


def is_doh(flow: SslRecord) -> bool:
    """ssl.log marks it as DoH, or the SNI is a well-known DoH resolver."""
    return bool(flow.is_DoH) or normalise_host(flow.server_name) in DOH_HOSTNAMES
