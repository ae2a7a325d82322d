from __future__ import annotations

import json

import pytest

from flowalerts.evidence import (
    Evidence,
    EvidenceType,
    ThreatLevel,
    dst_domain,
    dst_ip,
    escape_text,
    from_json,
    iso_timestamp,
    link,
    render_line,
    src_ip,
    to_json,
)


def make(**overrides) -> Evidence:
    fields = dict(
        evidence_type=EvidenceType.LONG_CONNECTION,
        description="Long connection",
        attacker=src_ip("192.168.1.1"),
        victim=dst_ip("10.0.0.1"),
        threat_level=ThreatLevel.LOW,
        confidence=0.08,
        profile="192.168.1.1",
        timewindow=8,
        uids=["C1", "C1", "", "C2"],
        timestamp=iso_timestamp(1_600_000_000.5),
    )
    fields.update(overrides)
    return Evidence(**fields)


def test_contract_fields_and_json_round_trip():
    evidence = make()
    data = json.loads(to_json(evidence))
    assert set(data) == {
        "id", "evidence_type", "description", "attacker", "victim", "threat_level", "confidence", "profile",
        "timewindow", "uids", "timestamp", "src_port", "dst_port", "rel_id",
    }
    assert data["evidence_type"] == "LONG_CONNECTION"
    assert data["threat_level"] == "low"
    assert data["attacker"] == {"direction": "SRC", "ioc_type": "IP", "value": "192.168.1.1"}
    assert data["uids"] == ["C1", "C2"]
    assert data["timestamp"] == "2020-09-13T12:26:40.500000+00:00"
    assert from_json(to_json(evidence)) == evidence


def test_id_is_deterministic_and_content_derived():
    assert make().id == make().id
    assert make().id != make(description="other").id


def test_confidence_clamped_and_weight():
    assert make(confidence=3).confidence == 1.0
    assert make(confidence=-1).confidence == 0.0
    assert make(threat_level=ThreatLevel.HIGH, confidence=0.5).weight == pytest.approx(0.4)
    assert ThreatLevel.INFO.weight == 0.0


def test_ip_values_are_validated_and_canonical():
    assert src_ip("2001:DB8::0001").value == "2001:db8::1"
    with pytest.raises(ValueError):
        src_ip("not-an-ip")
    assert dst_domain("Evil.example").value == "Evil.example"


def test_link_pairs_evidence():
    first, second = link(make(), make(attacker=dst_ip("10.0.0.1"), profile="10.0.0.1"))
    assert first.rel_id == [second.id] and second.rel_id == [first.id]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("evil\nINJECTED", "evil\\nINJECTED"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("line\u2028sep", "line\\u2028sep"),
        ("rtl\u202eoverride", "rtl\\u202eoverride"),
        ("c1\x9bcsi", "c1\\x9bcsi"),
        ("plain.example.com", "plain.example.com"),
    ],
)
def test_escape_text(raw, escaped):
    assert escape_text(raw) == escaped


def test_render_line_is_one_safe_line():
    evidence = make(description="domain evil\n\x1b[2Jcom", victim=dst_domain("x\r\ny"))
    line = render_line(evidence)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "LONG_CONNECTION" in line and "evil\\n\\x1b[2Jcom" in line


def test_long_strings_are_cut():
    assert len(escape_text("a" * 10_000, limit=100)) < 200


@pytest.mark.parametrize(
    ("ip", "expected"),
    [("192.168.1.5", True), ("8.8.8.8", True), ("0.0.0.0", False), ("255.255.255.255", False),
     ("127.0.0.1", False), ("224.0.0.251", False), ("fe80::1", False), ("nonsense", False)],
)
def test_is_unicast_ipv4(ip, expected):
    from flowalerts.knowledge.ips import is_unicast_ipv4

    assert is_unicast_ipv4(ip) is expected
