"""Our evidence in the shape Slips stores, publishes and decodes.

Slips's evidence handler decodes each evidence strictly (facts in
``../shared/slips/traffic/README.md``): a type name it does not know, an
unknown key inside ``attacker``/``victim``, a protocol other than tcp/udp/icmp
or an ``AS`` that is not ``{"number": "AS<n>", "org": ...}`` makes it drop the
evidence ("Problem converting") or fail in its whitelist. So:

* the type is ``EvidenceKind.slips_type``: the same name, the nearest Slips
  type (our name then opens the description, ``[OUR_TYPE] ...``, unless the
  detection's description already starts with it), or nothing
  for kinds declared ``slips=NOT_IN_SLIPS`` (not sent, counted); a name that
  is not one of Slips 1.1.21's types is not sent either (counted): Slips
  would drop it;
* entities carry exactly Slips's keys; ``AS`` is an object or null; the
  domains an IP was resolved from go to ``queries`` (Slips's meaning);
* ids are UUID4-shaped (Slips and IDMEF expect UUID4): our content-derived id
  with the version and variant bits set, so an update keeps its id;
* ``timestamp`` is the flow's epoch time, as Slips's own modules send it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from typing import Any

from flowalerts.core.evidence import KINDS, Evidence, Ioc, IoCType

# The evidence types Slips 1.1.21 accepts (names of its evidence type enum).
SLIPS_EVIDENCE_TYPES = frozenset(
    (
        "ARP_SCAN", "ARP_OUTSIDE_LOCALNET", "UNSOLICITED_ARP", "MITM_ARP_ATTACK", "YOUNG_DOMAIN",
        "MULTIPLE_SSH_VERSIONS", "DIFFERENT_LOCALNET", "DEVICE_CHANGING_IP", "NON_HTTP_PORT_80_CONNECTION",
        "NON_SSL_PORT_443_CONNECTION", "WEIRD_HTTP_METHOD", "INCOMPATIBLE_CN", "CN_URL_MISMATCH",
        "DGA_NXDOMAINS", "DNS_WITHOUT_CONNECTION", "PASTEBIN_DOWNLOAD", "CONNECTION_WITHOUT_DNS",
        "DNS_ARPA_SCAN", "UNKNOWN_PORT", "PASSWORD_GUESSING", "HORIZONTAL_PORT_SCAN",
        "CONNECTION_TO_PRIVATE_IP", "GRE_TUNNEL", "GRE_SCAN", "VERTICAL_PORT_SCAN", "SSH_SUCCESSFUL",
        "LONG_CONNECTION", "SELF_SIGNED_CERTIFICATE", "MULTIPLE_RECONNECTION_ATTEMPTS",
        "CONNECTION_TO_MULTIPLE_PORTS", "HIGH_ENTROPY_DNS_ANSWER", "INVALID_DNS_RESOLUTION",
        "PORT_0_CONNECTION", "MALICIOUS_JA3", "MALICIOUS_JA3S", "DATA_UPLOAD", "BAD_SMTP_LOGIN",
        "SMTP_LOGIN_BRUTEFORCE", "MALICIOUS_SSL_CERT", "MALICIOUS_FLOW", "SUSPICIOUS_USER_AGENT",
        "EMPTY_CONNECTIONS", "INCOMPATIBLE_USER_AGENT", "EXECUTABLE_MIME_TYPE", "MULTIPLE_USER_AGENT",
        "HTTP_TRAFFIC", "MALICIOUS_JARM", "NETWORK_GPS_LOCATION_LEAKED", "ICMP_TIMESTAMP_SCAN",
        "ICMP_ADDRESS_SCAN", "ICMP_ADDRESS_MASK_SCAN", "DHCP_SCAN", "MALICIOUS_IP_FROM_P2P_NETWORK",
        "P2P_REPORT", "COMMAND_AND_CONTROL_CHANNEL", "THREAT_INTELLIGENCE_BLACKLISTED_ASN",
        "THREAT_INTELLIGENCE_FROM_BLACKLISTED_IP", "THREAT_INTELLIGENCE_TO_BLACKLISTED_IP",
        "THREAT_INTELLIGENCE_BLACKLISTED_DNS_ANSWER", "THREAT_INTELLIGENCE_BLACKLISTED_DOMAIN",
        "THREAT_INTELLIGENCE_ANSWER_OF_BLACKLISTED_QUERY", "MALICIOUS_DOWNLOADED_FILE",
        "THREAT_INTELLIGENCE_MALICIOUS_URL", "LOGIN", "TOR_EXIT_NODE",
    )
)
# Protocols Slips's evidence accepts (any case).
SLIPS_PROTOCOLS = frozenset({"tcp", "udp", "icmp"})
# The keys of an entity, as Slips decodes them (attacker also has "profile").
ENTITY_KEYS = ("direction", "ioc_type", "value", "TI", "AS", "rDNS", "SNI", "DNS_resolution", "queries", "CNAME")
# Slips's hash names (DB 0).
FLOWS_CAUSING_EVIDENCE = "flows_causing_evidence"
NUMBER_OF_EVIDENCE = "number_of_evidence"
WHITELISTED_EVIDENCE = "whitelisted_evidence"
EVIDENCE_ADDED = "evidence_added"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def slips_text(text: str, limit: int = 4000) -> str:
    """A description safe for Slips's one-line logs: control characters and
    line separators shown as escapes (idempotent on text already escaped)."""
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} more chars]"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256 else f"\\u{ord(m.group(0)):04x}", text)


def slips_uuid(evidence_id: str) -> str:
    """A UUID4-shaped id derived from ours (deterministic: an update keeps it)."""
    digits = evidence_id.replace("-", "").lower()
    if len(digits) != 32 or any(c not in "0123456789abcdef" for c in digits):
        digits = hashlib.blake2b(evidence_id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    variant = "89ab"[int(digits[16], 16) & 3]
    digits = digits[:12] + "4" + digits[13:16] + variant + digits[17:]
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def slips_type(evidence_type: str) -> str | None:
    """The Slips type an evidence of ours is delivered as, or None (not sent)."""
    kind = KINDS.get(evidence_type)
    name = kind.slips_type if kind is not None else evidence_type
    if name is None or name not in SLIPS_EVIDENCE_TYPES:
        return None
    return name


def _entity(ioc: Ioc, attacker: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"direction": ioc.direction.value, "ioc_type": ioc.ioc_type.value, "value": ioc.value}
    if attacker and ioc.ioc_type is IoCType.IP:
        out["profile"] = {"ip": ioc.value}
    is_ip = ioc.ioc_type is IoCType.IP
    out.update(
        {
            "TI": None,
            "AS": {"number": f"AS{ioc.AS.number}", "org": ioc.AS.org} if ioc.AS is not None else None,
            "rDNS": ioc.rDNS or None,
            "SNI": ioc.SNI or None,
            # Slips: an IP's "queries" are the names that resolved to it; a
            # domain's "DNS_resolution" are its answers.
            "DNS_resolution": None,
            "queries": list(ioc.domains) if is_ip and ioc.domains else None,
            "CNAME": None,
        }
    )
    return out


def slips_payload(evidence: Evidence, slips_name: str) -> dict[str, Any]:
    """The evidence as Slips stores it in ``profile_<ip>_timewindow<n>_evidence``
    (publish it with ``"version"`` added)."""
    description = slips_text(evidence.description)
    if slips_name != evidence.evidence_type and not description.startswith(evidence.evidence_type):
        description = f"[{evidence.evidence_type}] {description}"
    proto = (evidence.proto or "").lower()
    return {
        "evidence_type": slips_name,
        "description": description,
        "attacker": _entity(evidence.attacker, attacker=True),
        "victim": _entity(evidence.victim, attacker=False) if evidence.victim is not None else None,
        "threat_level": evidence.threat_level.name,
        "profile": {"ip": evidence.profile},
        "timewindow": {"number": evidence.timewindow, "start_time": "", "end_time": ""},
        "uid": list(evidence.uids),
        "timestamp": evidence.ts,
        "interface": "default",
        "proto": proto if proto in SLIPS_PROTOCOLS else None,
        "dst_port": evidence.dst_port,
        "src_port": evidence.src_port,
        "method": "HEURISTIC",
        "id": slips_uuid(evidence.id),
        "confidence": evidence.confidence,
        "rel_id": [slips_uuid(other) for other in evidence.rel_id] if evidence.rel_id else None,
    }


def evidence_hash(payload: dict[str, Any]) -> str:
    """Slips's key of the hash of one profile and window's evidence."""
    return f"profile_{payload['profile']['ip']}_timewindow{payload['timewindow']['number']}_evidence"


def update_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """What an update of an aggregated evidence changes in the stored object
    (the rest, e.g. Slips's own enrichment, stays as stored)."""
    return {key: payload[key] for key in ("description", "uid", "threat_level", "confidence")}


@dataclasses.dataclass
class DeliveryStats:
    """Per our evidence type: what reached Slips and what did not, and why."""

    delivered: Counter[str] = dataclasses.field(default_factory=Counter)  # first versions handed to Slips
    updated: Counter[str] = dataclasses.field(default_factory=Counter)  # same id, stored object updated
    update_not_stored: Counter[str] = dataclasses.field(default_factory=Counter)  # Slips dropped the first (whitelist)
    refused: Counter[str] = dataclasses.field(default_factory=Counter)  # Slips refused it (disabled, known id)
    not_in_slips: Counter[str] = dataclasses.field(default_factory=Counter)  # declared NOT_IN_SLIPS / unknown to Slips
    mapped: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)  # (ours, Slips's) when they differ
    failed: Counter[str] = dataclasses.field(default_factory=Counter)  # Slips raised, or its Redis was gone
    pending: int = 0  # waiting for Slips's Redis to come back
