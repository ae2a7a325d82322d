"""The evidence record and its JSON and text forms.

An evidence is data (DESIGN rule 6): a typed record whose JSON form is the
``alerts.json`` contract. Human text is rendered from it with every string that
came from traffic escaped, so no newline, tab or terminal escape sequence from
a domain, certificate or HTTP field reaches ``alerts.log`` or the terminal.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import ipaddress
import re

import msgspec


class EvidenceType(enum.Enum):
    """Every evidence type Flowalerts emits (names are the wire format)."""

    LONG_CONNECTION = "LONG_CONNECTION"
    SSH_SUCCESSFUL = "SSH_SUCCESSFUL"
    CONNECTION_WITHOUT_DNS = "CONNECTION_WITHOUT_DNS"
    DNS_WITHOUT_CONNECTION = "DNS_WITHOUT_CONNECTION"
    UNKNOWN_PORT = "UNKNOWN_PORT"
    DATA_UPLOAD = "DATA_UPLOAD"
    TOR_EXIT_NODE = "TOR_EXIT_NODE"
    MALICIOUS_JA3 = "MALICIOUS_JA3"
    MALICIOUS_JA3S = "MALICIOUS_JA3S"
    MALICIOUS_JA4 = "MALICIOUS_JA4"
    MALICIOUS_JA4S = "MALICIOUS_JA4S"
    PORT_0_CONNECTION = "PORT_0_CONNECTION"
    MULTIPLE_RECONNECTION_ATTEMPTS = "MULTIPLE_RECONNECTION_ATTEMPTS"
    VERTICAL_PORT_SCAN = "VERTICAL_PORT_SCAN"
    HORIZONTAL_PORT_SCAN = "HORIZONTAL_PORT_SCAN"
    SELF_SIGNED_CERTIFICATE = "SELF_SIGNED_CERTIFICATE"
    INVALID_CERTIFICATE = "INVALID_CERTIFICATE"
    DGA_NXDOMAINS = "DGA_NXDOMAINS"
    CONNECTION_TO_MULTIPLE_PORTS = "CONNECTION_TO_MULTIPLE_PORTS"
    MALICIOUS_SSL_CERT = "MALICIOUS_SSL_CERT"
    PASTEBIN_DOWNLOAD = "PASTEBIN_DOWNLOAD"
    YOUNG_DOMAIN = "YOUNG_DOMAIN"
    BAD_SMTP_LOGIN = "BAD_SMTP_LOGIN"
    SMTP_LOGIN_BRUTEFORCE = "SMTP_LOGIN_BRUTEFORCE"
    DNS_ARPA_SCAN = "DNS_ARPA_SCAN"
    MULTIPLE_SSH_VERSIONS = "MULTIPLE_SSH_VERSIONS"
    INCOMPATIBLE_CN = "INCOMPATIBLE_CN"
    CN_URL_MISMATCH = "CN_URL_MISMATCH"
    WEIRD_HTTP_METHOD = "WEIRD_HTTP_METHOD"
    NON_SSL_PORT_443_CONNECTION = "NON_SSL_PORT_443_CONNECTION"
    CONNECTION_TO_PRIVATE_IP = "CONNECTION_TO_PRIVATE_IP"
    DIFFERENT_LOCALNET = "DIFFERENT_LOCALNET"
    HIGH_ENTROPY_DNS_ANSWER = "HIGH_ENTROPY_DNS_ANSWER"
    DEVICE_CHANGING_IP = "DEVICE_CHANGING_IP"
    GRE_TUNNEL = "GRE_TUNNEL"
    GRE_SCAN = "GRE_SCAN"
    LOGIN = "LOGIN"
    INVALID_DNS_RESOLUTION = "INVALID_DNS_RESOLUTION"
    DNS_OVER_HTTPS = "DNS_OVER_HTTPS"


class ThreatLevel(enum.Enum):
    """Threat levels, serialised by their lower-case name."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def weight(self) -> float:
        """Slips's numeric value of the level, used to accumulate alerts."""
        return _LEVEL_WEIGHTS[self]

    @classmethod
    def from_label(cls, text: str, default: ThreatLevel | None = None) -> ThreatLevel:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            if default is None:
                raise ValueError(f"unknown threat level {text!r}") from None
            return default


_LEVEL_WEIGHTS = {
    ThreatLevel.INFO: 0.0,
    ThreatLevel.LOW: 0.2,
    ThreatLevel.MEDIUM: 0.5,
    ThreatLevel.HIGH: 0.8,
    ThreatLevel.CRITICAL: 1.0,
}


class Direction(enum.Enum):
    SRC = "SRC"
    DST = "DST"


class IoCType(enum.Enum):
    IP = "IP"
    DOMAIN = "DOMAIN"
    URL = "URL"
    MD5 = "MD5"


class Ioc(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One side of an evidence: the attacker or the victim.

    ``AS``, ``SNI``, ``rDNS`` and ``domains`` are filled by enrichment in the
    evidence sink (issue 4); detectors only set the first three fields.
    """

    direction: Direction
    ioc_type: IoCType
    value: str
    AS: str | None = None
    SNI: str | None = None
    rDNS: str | None = None
    domains: list[str] | None = None

    def __post_init__(self) -> None:
        if self.ioc_type is IoCType.IP:
            # Canonical text form, so equal IPs compare equal.
            self.value = str(ipaddress.ip_address(self.value))


def src_ip(value: str) -> Ioc:
    return Ioc(direction=Direction.SRC, ioc_type=IoCType.IP, value=value)


def dst_ip(value: str) -> Ioc:
    return Ioc(direction=Direction.DST, ioc_type=IoCType.IP, value=value)


def dst_domain(value: str) -> Ioc:
    return Ioc(direction=Direction.DST, ioc_type=IoCType.DOMAIN, value=value)


def src_domain(value: str) -> Ioc:
    return Ioc(direction=Direction.SRC, ioc_type=IoCType.DOMAIN, value=value)


def iso_timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with the timezone, from a flow's epoch ``ts``."""
    try:
        return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return dt.datetime.fromtimestamp(0, tz=dt.UTC).isoformat()


class Evidence(msgspec.Struct, kw_only=True):
    """One evidence, in the ``alerts.json`` shape.

    ``profile`` is the IP that owns the evidence (not always the attacker),
    ``timewindow`` the window number of that profile, ``timestamp`` the flow's
    time in ISO 8601. ``id`` is derived from the content, so replaying the
    same input gives the same ids (see ``finalize``).
    """

    evidence_type: EvidenceType
    description: str
    attacker: Ioc
    victim: Ioc | None = None
    threat_level: ThreatLevel
    confidence: float
    profile: str
    timewindow: int
    uids: list[str]
    timestamp: str
    src_port: int | None = None
    dst_port: int | None = None
    id: str = ""
    rel_id: list[str] | None = None

    def __post_init__(self) -> None:
        # Clamp like Slips's DB does; keep two decimals for stable output.
        self.confidence = round(min(1.0, max(0.0, float(self.confidence))), 4)
        # Keep the order of first appearance, drop repeats and empty uids.
        self.uids = list(dict.fromkeys(u for u in self.uids if u))
        if not self.id:
            self.id = content_id(self)

    @property
    def weight(self) -> float:
        """What this evidence adds towards an alert (threat level x confidence)."""
        return self.threat_level.weight * self.confidence


def content_id(evidence: Evidence) -> str:
    """A deterministic id: a hash of everything but ``id`` and ``rel_id``."""
    body = msgspec.structs.replace(evidence, id="-", rel_id=None)
    digest = hashlib.blake2b(msgspec.json.encode(body), digest_size=16).hexdigest()
    # Shaped like a UUID so consumers that expect one keep working.
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def link(*evidences: Evidence) -> list[Evidence]:
    """Pair evidences about one event: each lists the others' ids in rel_id."""
    for evidence in evidences:
        evidence.rel_id = [other.id for other in evidences if other is not evidence]
    return list(evidences)


# --- rendering -------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")


def escape_text(text: str, limit: int = 2000) -> str:
    """Make a string from traffic safe for a terminal or a one-line log.

    Control characters (C0, DEL, C1 - which includes ESC of ANSI sequences),
    Unicode line separators and bidi overrides become visible escapes; very
    long strings are cut with a marker.
    """
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} more chars]"
    return _UNSAFE.sub(_escape_char, text)


def render_line(evidence: Evidence) -> str:
    """One human-readable alerts.log line for an evidence."""
    parts = [
        evidence.timestamp,
        f"profile {evidence.profile} timewindow {evidence.timewindow}",
        f"{evidence.evidence_type.value}",
        f"threat level: {evidence.threat_level.value} confidence: {evidence.confidence:g}",
        f"{_render_ioc('attacker', evidence.attacker)}",
    ]
    if evidence.victim is not None:
        parts.append(_render_ioc("victim", evidence.victim))
    parts.append(evidence.description)
    return escape_text(" | ".join(parts), limit=20000)


def _render_ioc(role: str, ioc: Ioc) -> str:
    text = f"{role} {ioc.direction.value} {ioc.ioc_type.value} {ioc.value}"
    extras = []
    if ioc.AS:
        extras.append(f"AS: {ioc.AS}")
    if ioc.SNI:
        extras.append(f"SNI: {ioc.SNI}")
    if ioc.rDNS:
        extras.append(f"rDNS: {ioc.rDNS}")
    if ioc.domains:
        extras.append("domains: " + ", ".join(ioc.domains[:5]))
    if extras:
        text += " (" + ", ".join(extras) + ")"
    return text


_json_encoder = msgspec.json.Encoder()


def to_json(evidence: Evidence) -> bytes:
    """The alerts.json line (without the newline). JSON escapes control chars."""
    return _json_encoder.encode(evidence)


def from_json(data: bytes | str) -> Evidence:
    return msgspec.json.decode(data, type=Evidence)
