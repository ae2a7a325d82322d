"""Helpers for TLS names and certificates shared by the TLS detections:
certificate subjects, RFC 6125 name matching, registrable domains, DoH host
names, validation statuses, and the certificate an ssl record presented in
either Zeek schema (``certificate_view``).

No detection lives here. Everything is linear-time string handling (no regex
on attacker-controlled text), so hostile subjects or SNIs cannot slow us down.
"""

from __future__ import annotations

import functools
from typing import Protocol

import msgspec

from flowalerts.core.ips import is_ip
from flowalerts.core.records import SslRecord
from flowalerts.knowledge.orgs import registered_domain

MAX_CHAIN = 10
# Longest validation status / subject kept in evidence details.
MAX_TEXT = 300


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


def is_dns_name(name: str) -> bool:
    """A host name, not a product name such as ``Plex Media Server``: a dot,
    no spaces or control characters, at most 253 characters."""
    return 0 < len(name) <= 253 and "." in name and " " not in name and name.isprintable()


def wildcard_match(pattern: str, host: str) -> bool:
    """RFC 6125 6.4.3 matching of a certificate name against a host name.

    Case-insensitive, whole-name. A ``*`` is allowed only as the whole
    leftmost label (``*.example.com``) and matches exactly one label; it never
    matches an IP literal or a bare public-suffix-like two-label pattern.
    """
    return _matches(normalise_host(pattern), normalise_host(host))


def _matches(pattern: str, host: str) -> bool:
    """``wildcard_match`` of names already normalised (``normalise_host``)."""
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    base = pattern[2:]
    # "*." then at least two labels, and no other "*".
    if not pattern.startswith("*.") or "*" in base or "." not in base:
        return False
    label, _, rest = host.partition(".")
    return bool(label) and rest == base and not is_ip(host)


def any_matches(names: list[str], host: str) -> bool:
    """One of the certificate names (normalised, as the ``certificates``
    learner stores them) matches ``host``."""
    host = normalise_host(host)
    return bool(host) and any(_matches(name, host) for name in names)


def registrable_domain(name: str) -> str:
    """``a.b.example.co.uk`` -> ``example.co.uk``; "" for IPs or bare suffixes.

    A certificate wildcard (``*.example.com``) counts as its base name.
    """
    name = normalise_host(name).lstrip("*.")
    if len(name) > 253:
        return ""
    return registered_domain(name)


# --- DNS over HTTPS ------------------------------------------------------------------

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


def is_doh(flow: SslRecord) -> bool:
    """ssl.log marks it as DoH, or the SNI is a well-known DoH resolver."""
    return bool(flow.is_DoH) or normalise_host(flow.server_name) in DOH_HOSTNAMES


# --- validation statuses ------------------------------------------------------------


def is_failed_status(status: str) -> bool:
    text = status.strip().lower()
    return bool(text) and text != "ok" and not text.startswith("ok ")


def is_self_signed_status(status: str) -> bool:
    text = status.lower()
    return "self signed" in text or "self-signed" in text


# OpenSSL's results that only say the validator could not build the chain up
# to a root it trusts: it lacked an issuer (its root store is not the
# client's: Zeek's bundled Mozilla store, possibly years newer or older than
# the capture; an enterprise CA; a server that relies on the client to fetch
# an intermediate) or a CRL. They say nothing about the server.
MISSING_CHAIN_STATUSES = (
    "unable to get local issuer certificate",
    "unable to get issuer certificate",
    "unable to verify the first certificate",
    "unable to get certificate crl",
)


def is_missing_chain_status(status: str) -> bool:
    """The validator lacked an issuer (or a CRL) to build the chain: not a
    verdict on the certificate (``MISSING_CHAIN_STATUSES``)."""
    return status.strip().lower() in MISSING_CHAIN_STATUSES


def is_time_status(status: str) -> bool:
    """A failure that depends only on the clock (OpenSSL's expired / not yet
    valid, for the certificate or a CRL): wrong when the capture's clock is."""
    text = status.lower()
    return "expired" in text or "not yet valid" in text


def chain_trusted(status: str) -> bool:
    """Nothing says the chain is not a CA's: Zeek did not validate (no
    status), the chain validated up to a trusted root and failed at most on
    time, or Zeek only lacked an issuer to build it (``is_missing_chain_status``:
    its root store, not the server)."""
    if not is_failed_status(status) or is_missing_chain_status(status):
        return True
    return is_time_status(status) and not is_self_signed_status(status)


# --- the certificate of an ssl record, in either Zeek schema --------------------------

# Seconds of flow time an ssl record waits for the x509 record of its leaf
# certificate. Zeek stamps the x509 record when the certificate crossed the
# wire, during the handshake, so within seconds of the connection's start;
# the watermark (``flowalerts.core.clock``) guarantees it has arrived once flow
# time passes this.
CERT_WAIT = 60.0


class CertView(msgspec.Struct, frozen=True, gc=False):
    """What we know of the leaf certificate an ssl record presented.

    ``subject``/``issuer`` come from ssl.log (Zeek < 5) or from x509.log
    (Zeek 5+, joined by fingerprint); ``san_dns`` (normalised names) and the
    validity only from x509.log (``from_x509``).
    """

    subject: str
    issuer: str
    san_dns: list[str]
    not_valid_before: float | None
    not_valid_after: float | None
    from_x509: bool

    @property
    def cn(self) -> str:
        return normalise_host(first_attr(self.subject, "CN"))

    def covers(self, host: str) -> bool:
        """The certificate is valid for ``host`` (its CN or a SAN matches)."""
        return wildcard_match(self.cn, host) or any_matches(self.san_dns, host)


def leaf_reference(flow: SslRecord) -> tuple[str, str] | None:
    """How the record names its leaf certificate: ("fp", fingerprint) in Zeek
    5+, ("fuid", file id) in older Zeek, None when it names none (a resumed
    session, or no certificate seen)."""
    if flow.cert_chain_fps and flow.cert_chain_fps[0]:
        return ("fp", flow.cert_chain_fps[0].strip().lower())
    if flow.cert_chain_fuids and flow.cert_chain_fuids[0]:
        return ("fuid", flow.cert_chain_fuids[0])
    return None


class RememberedCertificate(Protocol):
    """What a remembered x509 record gives (``flowalerts.learners.tls.Certificate``)."""

    subject: str
    issuer: str
    san_dns: list[str]
    not_valid_before: float
    not_valid_after: float


class CertificateSource(Protocol):
    """Where remembered certificates are looked up (``flowalerts.learners.tls.Certificates``)."""

    def certificate(self, fingerprint: str = "", fuid: str = "") -> RememberedCertificate | None: ...


def certificate_view(certificates: CertificateSource, flow: SslRecord) -> CertView | None:
    """The leaf certificate of ``flow`` from ssl.log and the remembered x509
    records; None when we know nothing about it (yet)."""
    reference = leaf_reference(flow)
    cert = None
    if reference is not None:
        kind, value = reference
        cert = certificates.certificate(fingerprint=value) if kind == "fp" else certificates.certificate(fuid=value)
    if cert is None:
        if not flow.subject:
            return None
        return CertView(subject=flow.subject, issuer=flow.issuer, san_dns=[], not_valid_before=None,
                        not_valid_after=None, from_x509=False)
    return CertView(
        subject=flow.subject or cert.subject,
        issuer=flow.issuer or cert.issuer,
        san_dns=cert.san_dns,
        not_valid_before=cert.not_valid_before,
        not_valid_after=cert.not_valid_after,
        from_x509=True,
    )


def awaiting_certificate(flow: SslRecord, view: CertView | None) -> bool:
    """The record names a leaf certificate whose x509 record we have not seen (yet)."""
    return leaf_reference(flow) is not None and (view is None or not view.from_x509)
