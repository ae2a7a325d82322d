"""Evidence: typed findings, the kinds detections declare, and their text forms.

An evidence is data (DESIGN rule 6). Each detection declares the evidence
*kinds* it can emit (``EvidenceKind``: name, threat level, confidence, the
typed ``Details`` it carries, how Slips should receive it), so nothing here
names a detection. ``Evidence`` is the record every host receives; its JSON
form is the ``alerts.json`` contract and its ``details`` hold the numbers the
detection decided on (counts, bytes, thresholds, ports, names), so tests and
analysts read those instead of parsing text.

Human text is rendered from the record with every string that came from
traffic escaped (``escape_text``), so no newline, tab or terminal escape
sequence from a domain, certificate or HTTP field reaches a log raw.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import math
import re
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import msgspec

from flowalerts.core.ips import canonical_ip


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

    def raised(self, steps: int) -> ThreatLevel:
        """This level moved up ``steps`` places (capped at CRITICAL)."""
        order = list(ThreatLevel)
        return order[min(len(order) - 1, order.index(self) + max(0, steps))]

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
_LEVEL_ORDER = list(ThreatLevel)


class Direction(enum.Enum):
    SRC = "SRC"
    DST = "DST"


class IoCType(enum.Enum):
    IP = "IP"
    DOMAIN = "DOMAIN"
    URL = "URL"
    MD5 = "MD5"


class AsInfo(msgspec.Struct, frozen=True):
    """An autonomous system: number and organisation (from the offline ASN data)."""

    number: int
    org: str = ""


class Ioc(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One side of an evidence: the attacker or the victim.

    Detections set ``direction``, ``ioc_type`` and ``value``; the module's
    enrichment (at the moment the evidence is reported) adds what the traffic
    taught about an IP: ``AS``, ``SNI``, ``rDNS`` and the ``domains`` it was
    resolved from.
    """

    direction: Direction
    ioc_type: IoCType
    value: str
    AS: AsInfo | None = None
    SNI: str | None = None
    rDNS: str | None = None
    domains: list[str] | None = None

    def __post_init__(self) -> None:
        if self.ioc_type is IoCType.IP:
            # Canonical text form, so equal IPs compare equal (and ::ffff:a.b.c.d is a.b.c.d).
            canonical = canonical_ip(self.value)
            if canonical is None:
                raise ValueError(f"not an IP address: {self.value!r}")
            self.value = canonical


def src_ip(value: str) -> Ioc:
    return Ioc(direction=Direction.SRC, ioc_type=IoCType.IP, value=value)


def dst_ip(value: str) -> Ioc:
    return Ioc(direction=Direction.DST, ioc_type=IoCType.IP, value=value)


def dst_domain(value: str) -> Ioc:
    return Ioc(direction=Direction.DST, ioc_type=IoCType.DOMAIN, value=value)


# --- typed details -----------------------------------------------------------

DETAILS_TYPES: dict[str, type[Details]] = {}


class Details(msgspec.Struct, kw_only=True, tag=True, tag_field="kind"):
    """Base of the typed details of an evidence: the numbers it was decided on.

    Each detection defines its own subclass in its file; the class name is the
    ``kind`` tag in JSON, so ``alerts.json`` can be decoded back into the
    exact types (``decode_evidence``).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        DETAILS_TYPES[cls.__name__] = cls


class NoDetails(Details):
    """For evidence whose record says everything."""


# --- kinds ---------------------------------------------------------------------

# ``EvidenceKind.slips`` value for kinds Slips has no type for and that are
# not sent to Slips (counted and reported instead).
NOT_IN_SLIPS = ""

KINDS: dict[str, EvidenceKind] = {}


@dataclasses.dataclass(frozen=True)
class Growth:
    """How the evidence of a repeated finding (one evidence standing for
    ``count`` occurrences, ``n = count / threshold``) grows and weighs:

    * ``level``: the threat level rises one step for every factor 4 of ``n``
      (x4: +1, x16: +2), never more steps than the kind's own level can rise
      before critical, and an INFO evidence stays INFO (context, never alert
      weight: volume alone must not turn it into an alert);
    * ``confidence``: +0.1 for every doubling of ``n``, capped at 1;
    * ``weighs``: what it weighs as for alerts (``occurrences``): ``"each"``
      occurrence, or one per ``"threshold"`` crossed.
    """

    level: bool = True
    confidence: bool = True
    weighs: Literal["each", "threshold"] = "each"


# The default growth of a kind: level and confidence grow, it weighs as each occurrence.
GROWS = Growth()
# A kind whose evidence keeps its level and confidence (it still weighs as each occurrence).
FIXED = Growth(level=False, confidence=False)


@dataclasses.dataclass(frozen=True)
class EvidenceKind:
    """An evidence type a detection declares, with its policy.

    ``threat_level`` and ``confidence`` are the defaults of each evidence of
    this kind; ``grows`` how an evidence standing for many occurrences grows
    from them (``Growth``; ``grown``). ``slips`` is the Slips evidence type it
    is delivered as: the same name by default, the nearest Slips type, or
    ``NOT_IN_SLIPS``. ``category`` is its IDMEFv2 category. ``summary`` is the
    one-line description of the README's detection table.
    """

    name: str
    threat_level: ThreatLevel
    confidence: float
    details: type[Details] = NoDetails
    slips: str | None = None
    category: str = "Other.Undetermined"
    summary: str = ""
    grows: Growth = GROWS

    def grown(
        self, count: int, threshold: int = 1, level: ThreatLevel | None = None, confidence: float | None = None
    ) -> tuple[ThreatLevel, float, int]:
        """Threat level, confidence and occurrences of an evidence standing for
        ``count`` occurrences (reported at ``threshold``), starting from
        ``level`` and ``confidence`` (default: the kind's), by ``grows``."""
        growth = self.grows
        start = self.threat_level if level is None else level
        start_confidence = self.confidence if confidence is None else confidence
        ratio = max(1.0, count / max(1, threshold))
        if growth.level and start is not ThreatLevel.INFO:
            headroom = _LEVEL_ORDER.index(ThreatLevel.CRITICAL) - _LEVEL_ORDER.index(self.threat_level)
            start = start.raised(min(headroom, math.floor(math.log(ratio, 4) + 1e-9)))
        if growth.confidence:
            start_confidence = min(1.0, round(start_confidence + 0.1 * math.floor(math.log2(ratio) + 1e-9), 4))
        occurrences = count if growth.weighs == "each" else max(1, count // max(1, threshold))
        return start, start_confidence, occurrences

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", self.name):
            raise ValueError(f"evidence kind name must be UPPER_SNAKE_CASE: {self.name!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"{self.name}: confidence must be within 0..1")
        known = KINDS.get(self.name)
        if known is not None and known != self:
            raise ValueError(f"evidence kind {self.name} declared twice with different policies")
        KINDS[self.name] = self

    @property
    def slips_type(self) -> str | None:
        """The Slips type name, or None when this kind is not sent to Slips."""
        if self.slips is None:
            return self.name
        return self.slips or None


def scale_with_count(
    kind: EvidenceKind,
    count: int,
    threshold: int,
    base: ThreatLevel | None = None,
    confidence: float | None = None,
) -> tuple[ThreatLevel, float]:
    """The documented growth rule for evidence that stands for many occurrences.

    ``n = count / threshold`` (at least 1). The threat level rises one step for
    every factor 4 of ``n`` (x4: +1, x16: +2, capped at critical) and the
    confidence rises by 0.1 for every doubling of ``n`` (capped at 1). ``base``
    and ``confidence`` replace the kind's defaults as the starting point (e.g.
    a level taken from a threat feed).
    """
    ratio = max(1.0, count / max(1, threshold))
    steps = math.floor(math.log(ratio, 4) + 1e-9)
    boosts = math.floor(math.log2(ratio) + 1e-9)
    start_level = kind.threat_level if base is None else base
    start_confidence = kind.confidence if confidence is None else confidence
    return start_level.raised(steps), min(1.0, round(start_confidence + 0.1 * boosts, 4))


# --- the evidence record -----------------------------------------------------------


class Evidence(msgspec.Struct, kw_only=True):
    """One evidence, in the ``alerts.json`` shape.

    ``profile`` is the IP that owns the evidence (not always the attacker),
    ``timewindow`` the window number of that profile, ``ts`` the flow time
    (epoch) and ``timestamp`` the same in ISO 8601 UTC. ``count`` is how many
    occurrences the evidence stands for (1 unless the detection aggregates
    repeated events in a window) and ``occurrences`` how many un-aggregated
    evidence it replaces, for alert accumulation. ``id`` is derived from the
    content (or from the aggregation key), so a replay or a redelivery gives
    the same id.
    """

    evidence_type: str
    description: str
    attacker: Ioc
    victim: Ioc | None = None
    threat_level: ThreatLevel
    confidence: float
    profile: str
    timewindow: int
    uids: list[str]
    ts: float
    timestamp: str = ""
    proto: str | None = None
    src_port: int | None = None
    dst_port: int | None = None
    count: int = 1
    occurrences: int = 1
    details: Details = msgspec.field(default_factory=NoDetails)
    id: str = ""
    rel_id: list[str] | None = None

    # Most uids kept on one evidence: every contributing flow, so an analyst
    # (and ``flowalerts score``) can follow each one; the cap only bounds a
    # pathological window. ``count`` still says how many there were.
    MAX_UIDS: ClassVar[int] = 100_000

    def __post_init__(self) -> None:
        self.confidence = round(min(1.0, max(0.0, float(self.confidence))), 4)
        # Sorted (the order records arrived in must not change an evidence),
        # no repeats, no empty uids.
        self.uids = sorted({u for u in self.uids if u})[: self.MAX_UIDS]
        if not self.timestamp:
            self.timestamp = iso_timestamp(self.ts)
        if not self.id:
            self.id = content_id(self)

    @property
    def kind(self) -> EvidenceKind:
        return KINDS[self.evidence_type]

    @property
    def profile_acted(self) -> bool:
        """The evidence is about what its profile did (``profile_acted``)."""
        return profile_acted(self)

    @property
    def weight(self) -> float:
        """What this evidence adds towards its profile's alert: threat level x
        confidence for each occurrence it stands for (Slips's rule,
        count-aware) when the profile acted; nothing when the evidence is
        about what others did to the profile or with it (``profile_acted``)."""
        if not profile_acted(self):
            return 0.0
        return self.threat_level.weight * self.confidence * max(1, self.occurrences)


def profile_acted(evidence: Evidence) -> bool:
    """Whether the evidence says what its profile *did*, so that it may count
    towards an alert on that profile.

    The profile acted when the attacker is on the source side of the flows
    behind the evidence (``Direction.SRC``: the profile opened them) and the
    profile is not the evidence's victim. It did not act when the attacker
    is on the destination side: the profile (or a name it serves) answered
    flows that others opened - a server whose certificate failed validation,
    an address receiving an upload, a destination outside the local network,
    a TLS server whose certificate claims an organisation - nor when the
    profile is the victim. Such evidence is reported (an analyst reads it
    with the flows behind it) but adds nothing to the profile's alert: being
    scanned, visited or lied to does not make a host an attacker, and the
    number of connections others made to it measures what they did, not what
    it did. This is Slips's rule too (its evidence handler leaves out
    evidence whose attacker is not on the source side), so a profile alerts
    standalone as it would inside Slips.
    """
    if evidence.attacker.direction is not Direction.SRC:
        return False
    victim = evidence.victim
    return not (victim is not None and victim.ioc_type is IoCType.IP and victim.value == evidence.profile)


def iso_timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with the timezone, from a flow's epoch ``ts``."""
    try:
        return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return dt.datetime.fromtimestamp(0, tz=dt.timezone.utc).isoformat()


def uuid_shaped(*parts: str) -> str:
    """A deterministic id shaped like a UUID (consumers that expect one keep working)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def content_id(evidence: Evidence) -> str:
    """A hash of what the detection decided (not of enrichment, ids or links)."""
    body = (
        evidence.evidence_type,
        evidence.profile,
        evidence.timewindow,
        (evidence.attacker.direction.value, evidence.attacker.ioc_type.value, evidence.attacker.value),
        (evidence.victim.direction.value, evidence.victim.ioc_type.value, evidence.victim.value) if evidence.victim else None,
        evidence.ts,
        evidence.uids,
        evidence.details,
        evidence.description,
    )
    return uuid_shaped(_json_encoder.encode(body).decode("utf-8", "surrogatepass"))


def link(*evidences: Evidence) -> list[Evidence]:
    """Pair evidence about one event: each lists the others' ids in rel_id."""
    for evidence in evidences:
        evidence.rel_id = [other.id for other in evidences if other is not evidence]
    return list(evidences)


# --- JSON ------------------------------------------------------------------------

_json_encoder = msgspec.json.Encoder()


def to_json(evidence: Evidence) -> bytes:
    """The alerts.json line (without the newline). JSON escapes control chars."""
    return _json_encoder.encode(evidence)


class _LooseEvidence(Evidence, kw_only=True):
    details: Any = None  # type: ignore[assignment]


_loose_decoder = msgspec.json.Decoder(_LooseEvidence)


def decode_evidence(data: bytes | str) -> Evidence:
    """An alerts.json line back into an Evidence with its typed details."""
    loose = _loose_decoder.decode(data)
    fields = {f: getattr(loose, f) for f in Evidence.__struct_fields__}
    raw = fields["details"] or {"kind": "NoDetails"}
    details_type = DETAILS_TYPES.get(raw.get("kind", "")) if isinstance(raw, dict) else None
    if details_type is None:
        raise ValueError(f"unknown evidence details kind {raw.get('kind') if isinstance(raw, dict) else raw!r}")
    fields["details"] = msgspec.convert(raw, details_type)
    return Evidence(**fields)


def decode_evidence_lines(lines: Iterable[bytes | str]) -> list[Evidence]:
    return [decode_evidence(line) for line in lines if line and line.strip()]


# --- text ------------------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\\|]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    if char == "\\":
        return "\\\\"
    if char == "|":
        return "\\|"
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}"


def escape_text(text: str, limit: int = 2000) -> str:
    """Make a string from traffic safe for a terminal or a one-line log.

    Control characters (C0, DEL, C1 - which includes the ESC of ANSI
    sequences), Unicode line separators and bidi overrides become visible
    escapes; a backslash is doubled and ``|`` (the field separator of
    alerts.log) is escaped, so traffic cannot fake fields or escapes; very
    long strings are cut with a marker.
    """
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} more chars]"
    return _UNSAFE.sub(_escape_char, text)


def render_line(evidence: Evidence) -> str:
    """One human-readable alerts.log line for an evidence.

    Every part is escaped on its own, then joined with `` | ``: a ``|`` from
    traffic is shown as ``\\|`` and cannot start a field.
    """
    parts = [
        evidence.timestamp,
        f"profile {evidence.profile} timewindow {evidence.timewindow}",
        evidence.evidence_type,
        f"threat level: {evidence.threat_level.value} confidence: {evidence.confidence:g}"
        + (f" count: {evidence.count}" if evidence.count > 1 else ""),
        _render_ioc("attacker", evidence.attacker),
    ]
    if evidence.victim is not None:
        parts.append(_render_ioc("victim", evidence.victim))
    parts.append(evidence.description)
    return " | ".join(escape_text(part, limit=4000) for part in parts)


def _render_ioc(role: str, ioc: Ioc) -> str:
    text = f"{role} {ioc.direction.value} {ioc.ioc_type.value} {ioc.value}"
    extras = []
    if ioc.AS:
        extras.append(f"AS: AS{ioc.AS.number} {ioc.AS.org}".rstrip())
    if ioc.SNI:
        extras.append(f"SNI: {ioc.SNI}")
    if ioc.rDNS:
        extras.append(f"rDNS: {ioc.rDNS}")
    if ioc.domains:
        extras.append("domains: " + ", ".join(ioc.domains[:5]))
    if extras:
        text += " (" + ", ".join(extras) + ")"
    return text
