"""Our evidence in Slips's JSON shape: exactly the keys Slips decodes, AS as an
object, UUID4 ids, the type mapping."""

from __future__ import annotations

import re

import pytest

from flowalerts.catalog import load_components
from flowalerts.core.evidence import (
    KINDS,
    NOT_IN_SLIPS,
    AsInfo,
    EvidenceKind,
    ThreatLevel,
    dst_domain,
    dst_ip,
)
from flowalerts.hosts.slips.encode import (
    ENTITY_KEYS,
    SLIPS_EVIDENCE_TYPES,
    evidence_hash,
    slips_payload,
    slips_text,
    slips_type,
    slips_uuid,
    update_fields,
)
from tests.slips_support import evidence

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# What Slips's evidence handler requires, and what it also reads (traffic/README.md).
REQUIRED = {"evidence_type", "description", "attacker", "threat_level", "timewindow", "uid", "timestamp",
            "interface", "id", "confidence", "rel_id", "method"}
OPTIONAL = {"victim", "profile", "proto", "dst_port", "src_port"}

MAPPED = EvidenceKind("FLOWALERTS_TEST_MAPPED_KIND", ThreatLevel.LOW, 0.5, slips="LONG_CONNECTION")
UNSENT = EvidenceKind("FLOWALERTS_TEST_UNSENT_KIND", ThreatLevel.LOW, 0.5, slips=NOT_IN_SLIPS)
UNKNOWN = EvidenceKind("FLOWALERTS_TEST_NOT_A_SLIPS_NAME", ThreatLevel.LOW, 0.5)


def test_payload_has_exactly_the_keys_slips_decodes():
    payload = slips_payload(evidence(), "MULTIPLE_RECONNECTION_ATTEMPTS")
    assert REQUIRED <= set(payload) <= REQUIRED | OPTIONAL
    assert set(payload["attacker"]) == {*ENTITY_KEYS, "profile"}
    assert set(payload["victim"]) == set(ENTITY_KEYS)  # a victim has no profile key
    assert payload["attacker"]["profile"] == {"ip": "10.0.0.5"}
    assert payload["profile"] == {"ip": "10.0.0.5"}
    assert payload["timewindow"] == {"number": 3, "start_time": "", "end_time": ""}
    assert payload["threat_level"] == "MEDIUM"
    assert payload["method"] == "HEURISTIC" and payload["interface"] == "default"
    assert payload["timestamp"] == 1_600_000_000.25  # the flow's epoch, as Slips's modules send it
    assert payload["uid"] == ["C1", "C2"]
    assert payload["proto"] == "tcp" and payload["dst_port"] == 443 and payload["src_port"] is None
    assert payload["rel_id"] is None
    assert "version" not in payload  # added when published, not stored
    assert evidence_hash(payload) == "profile_10.0.0.5_timewindow3_evidence"


def test_as_is_an_object_with_an_as_number_never_a_string():
    victim = dst_ip("93.184.216.34")
    victim.AS = AsInfo(number=15133, org="Edgecast")
    victim.domains = ["example.com"]
    payload = slips_payload(evidence(victim=victim), "MULTIPLE_RECONNECTION_ATTEMPTS")
    assert payload["victim"]["AS"] == {"number": "AS15133", "org": "Edgecast"}
    assert payload["attacker"]["AS"] is None
    # The names an IP was resolved from are Slips's "queries" of that IP.
    assert payload["victim"]["queries"] == ["example.com"] and payload["victim"]["DNS_resolution"] is None


def test_domain_entities_and_protocols_slips_does_not_know():
    payload = slips_payload(evidence(victim=dst_domain("example.com"), proto="gre"), "MULTIPLE_RECONNECTION_ATTEMPTS")
    assert payload["victim"]["ioc_type"] == "DOMAIN" and payload["victim"]["queries"] is None
    assert payload["proto"] is None  # Slips takes tcp/udp/icmp only
    assert slips_payload(evidence(proto="UDP"), "MULTIPLE_RECONNECTION_ATTEMPTS")["proto"] == "udp"


def test_ids_are_uuid4_shaped_deterministic_and_links_follow():
    first = evidence()
    second = evidence(uids=["C3"])
    first.rel_id, second.rel_id = [second.id], [first.id]
    payload = slips_payload(first, "MULTIPLE_RECONNECTION_ATTEMPTS")
    assert UUID4.match(payload["id"])
    assert payload["id"] == slips_uuid(first.id) == slips_payload(first, "MULTIPLE_RECONNECTION_ATTEMPTS")["id"]
    assert payload["rel_id"] == [slips_uuid(second.id)]
    assert UUID4.match(slips_uuid("not even hex"))
    assert slips_uuid("a") != slips_uuid("b")


def test_type_mapping():
    assert slips_type("MULTIPLE_RECONNECTION_ATTEMPTS") == "MULTIPLE_RECONNECTION_ATTEMPTS"
    assert slips_type(MAPPED.name) == "LONG_CONNECTION"
    assert slips_type(UNSENT.name) is None
    assert slips_type(UNKNOWN.name) is None  # Slips would drop it ("Problem converting")
    payload = slips_payload(evidence(evidence_type=MAPPED.name), "LONG_CONNECTION")
    assert payload["evidence_type"] == "LONG_CONNECTION"
    assert payload["description"] == f"[{MAPPED.name}] 5 failed connection attempts"
    named = evidence(evidence_type=MAPPED.name, description=f"{MAPPED.name}: it says so itself")
    assert slips_payload(named, "LONG_CONNECTION")["description"] == f"{MAPPED.name}: it says so itself"


def test_every_declared_kind_reaches_slips_or_says_it_does_not():
    """A kind is delivered under a Slips 1.1.21 type, or declares slips=NOT_IN_SLIPS.
    Slips drops an unknown type silently: declare the nearest type with
    ``slips="..."`` (README: "Running inside Slips", type mapping)."""
    detections, _ = load_components()
    problems = [
        f"{ident}: {kind.name}"
        for ident, cls in detections.items()
        for kind in cls.evidence
        if kind.slips != NOT_IN_SLIPS and slips_type(kind.name) is None
    ]
    assert not problems, problems
    assert len(SLIPS_EVIDENCE_TYPES) == 65


def test_descriptions_cannot_break_slips_log_lines():
    text = slips_text("a\nb\x1b[31m\u2028c")
    assert "\n" not in text and "\x1b" not in text and "\u2028" not in text
    assert slips_text(text) == text  # idempotent
    assert slips_text("x" * 5000).endswith("[1000 more chars]")


def test_an_update_changes_only_the_count_dependent_fields():
    payload = slips_payload(evidence(), "MULTIPLE_RECONNECTION_ATTEMPTS")
    assert set(update_fields(payload)) == {"description", "uid", "threat_level", "confidence"}


@pytest.mark.parametrize("level", list(ThreatLevel))
def test_threat_levels_are_slips_names(level):
    assert slips_payload(evidence(threat_level=level), "MULTIPLE_RECONNECTION_ATTEMPTS")["threat_level"] == level.name


def test_the_detection_table_says_how_each_kind_reaches_slips():
    from flowalerts.cli.config import inside_slips

    class NeedsX509:
        @staticmethod
        def required_logs():
            return ("ssl", "x509")

    class NeedsConn:
        @staticmethod
        def required_logs():
            return ("conn",)

    assert inside_slips(NeedsX509, MAPPED) == "lost: needs x509.log (Slips publishes none)"
    assert inside_slips(NeedsConn, MAPPED) == "as LONG_CONNECTION (ours named in the description)"
    assert inside_slips(NeedsConn, UNSENT) == "not sent (no Slips type; counted)"
    assert inside_slips(NeedsConn, KINDS["MULTIPLE_RECONNECTION_ATTEMPTS"]) == "MULTIPLE_RECONNECTION_ATTEMPTS"
