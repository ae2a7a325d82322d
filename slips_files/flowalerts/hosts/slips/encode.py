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
* ``timestamp`` is the flow's epoch time, as Slips's own modules send it;
* an aggregated evidence (``occurrences`` > 1) also gets **weight steps**
  (``WeightSteps``): extra Slips evidence that let Slips's alert arithmetic
  see what the aggregate stands for (see that class).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter, OrderedDict
from typing import Any

from flowalerts.core.evidence import KINDS, Direction, Evidence, Ioc, IoCType, ThreatLevel

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
    steps: Counter[str] = dataclasses.field(default_factory=Counter)  # weight steps stored in Slips
    steps_not_stored: Counter[str] = dataclasses.field(default_factory=Counter)  # refused, failed, or aggregate gone


# --- weight steps -------------------------------------------------------------------------

# Most weight steps of one aggregated evidence (at Slips's default alert level
# 15, enough for the lightest kind that can weigh: 0.2 x 0.6 = 0.12 a step).
MAX_STEPS = 128
# Past the alert level by this much (Slips sums floats; ">=" must hold there).
ALERT_MARGIN = 1e-6
# Aggregates and (profile, window) sums remembered (the oldest are forgotten).
MAX_AGGREGATES = 200_000
MAX_WINDOWS = 200_000


def slips_weight(payload: dict[str, Any]) -> float:
    """What Slips's evidence handler adds for this payload to its profile and
    window: threat level x confidence, when the attacker is the source side
    and the level is not info (0 otherwise)."""
    if payload["attacker"]["direction"] != Direction.SRC.value:
        return 0.0
    level = ThreatLevel.from_label(payload["threat_level"])
    return level.weight * float(payload["confidence"])


def step_id(evidence_id: str, step: int) -> str:
    """The Slips id of weight step ``step`` of an evidence (deterministic)."""
    return slips_uuid(f"{evidence_id}\x1fweight-step\x1f{step}")


def step_payload(payload: dict[str, Any], step: int, occurrences: int) -> dict[str, Any]:
    """Weight step ``step`` (1-based) of the aggregate ``payload``: the same
    evidence (type, entities, level, confidence of the aggregate now), standing
    for occurrence ``step + 1`` of ``occurrences``: its own id, the aggregate's
    id in ``rel_id``, the uids of its share of the aggregate's flows."""
    uids = payload["uid"]
    share = max(1, len(uids) // max(1, occurrences))
    block = uids[step * share : (step + 1) * share] or uids[-1:]
    out = dict(payload)
    out["id"] = step_id(payload["id"], step)
    out["rel_id"] = [payload["id"]]
    out["uid"] = list(block)
    out["description"] = (
        f"{payload['description']} [weight step {step}: occurrence {step + 1} of {occurrences} "
        f"of evidence {payload['id']}]"
    )
    return out


class WeightSteps:
    """Extra Slips evidence for our aggregated evidence, so that Slips's alert
    arithmetic sees what an aggregate stands for.

    Slips adds threat level x confidence of each stored evidence once, when
    ``evidence_added`` arrives, and alerts when a (profile, window) reaches
    ``alert_level`` (``evidence_detection_threshold`` x width / 60). One
    evidence of ours stands for ``occurrences`` of Slips's (``Evidence.weight``
    = level x confidence x occurrences), so inside Slips it would weigh as one.
    For each version of an aggregate we deliver (its first report, each
    update), this plans new evidence with deterministic ids (``step_id``),
    each a copy weighing what one occurrence weighs (the aggregate's level and
    confidence then), until, whichever comes first:

    * the aggregate's steps and first version weigh what it stands for
      (``Evidence.weight``; nothing for evidence that adds no alert weight:
      info, or about what others did to the profile);
    * they pass the window's alert level (one aggregate alone can make Slips
      alert once; more would only repeat the alert);
    * everything we delivered to that (profile, window) passes the alert
      level (Slips has alerted on it: more steps only fill its DB);
    * ``MAX_STEPS`` steps, or one step per occurrence beyond the first.

    So Slips's DB holds at most ``MAX_STEPS`` extra evidence per aggregate and
    about the alert level's worth per (profile, window), never more evidence
    than Slips's own module would have stored for the same flows.
    """

    def __init__(self, alert_level: float, max_steps: int = MAX_STEPS) -> None:
        self.alert_level = alert_level
        self.max_steps = max_steps
        # aggregate id -> [weight delivered to Slips, steps delivered]
        self._aggregates: OrderedDict[str, list[float]] = OrderedDict()
        # (profile, window) -> weight delivered to Slips
        self._windows: OrderedDict[tuple[str, int], float] = OrderedDict()

    def plan(self, evidence: Evidence, payload: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        """The steps (index, payload) to deliver after ``payload`` (a version of ``evidence``)."""
        ident = payload["id"]
        weight = slips_weight(payload)
        window = (str(payload["profile"]["ip"]), int(payload["timewindow"]["number"]))
        state = self._aggregates.get(ident)
        if state is None:  # its first version: Slips weighs it once
            state = self._remember(self._aggregates, ident, [weight, 0.0], MAX_AGGREGATES)
            self._add(window, weight)
        occurrences = max(1, evidence.occurrences)
        if weight <= 0.0 or occurrences <= 1:
            return []
        target = min(evidence.weight, self.alert_level + ALERT_MARGIN)
        limit = min(self.max_steps, occurrences - 1)
        out: list[tuple[int, dict[str, Any]]] = []
        while (
            state[0] + 1e-9 < target
            and state[1] < limit
            and self._windows.get(window, 0.0) < self.alert_level + ALERT_MARGIN
        ):
            state[1] += 1
            state[0] += weight
            self._add(window, weight)
            out.append((int(state[1]), step_payload(payload, int(state[1]), occurrences)))
        return out

    def _add(self, window: tuple[str, int], weight: float) -> None:
        total = self._windows.get(window, 0.0) + weight
        self._remember(self._windows, window, total, MAX_WINDOWS)

    @staticmethod
    def _remember(table: OrderedDict[Any, Any], key: Any, value: Any, cap: int) -> Any:
        table[key] = value
        table.move_to_end(key)
        if len(table) > cap:
            table.popitem(last=False)
        return value
