"""IDMEFv2 output: built with the idmefv2 package and valid against its schema."""

from __future__ import annotations

import json

import pytest
from idmefv2 import Message

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_domain, dst_ip, link, src_ip
from flowalerts.idmef import idmef_json, to_idmef
from flowalerts.modules.flow_alerts.detector import make_evidence
from flowalerts.sink import EvidenceSink
from tests.harness import CLIENT, SERVER, T0


def build(evidence_type=EvidenceType.LONG_CONNECTION, level=ThreatLevel.LOW, victim=None, confidence=0.5, **kw):
    return make_evidence(
        evidence_type,
        description="a connection that stayed open for a long time",
        attacker=src_ip(kw.pop("attacker", CLIENT)),
        victim=victim,
        threat_level=level,
        confidence=confidence,
        profile=CLIENT,
        twid=3,
        timestamp=T0,
        uids=["CAbc1", "CAbc2"],
        **kw,
    )


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        (ThreatLevel.INFO, "Info"),
        (ThreatLevel.LOW, "Low"),
        (ThreatLevel.MEDIUM, "Medium"),
        (ThreatLevel.HIGH, "High"),
        (ThreatLevel.CRITICAL, "High"),
    ],
)
def test_priority_and_validity(level, priority):
    evidence = build(level=level, victim=dst_ip(SERVER), dst_port=443)
    msg = to_idmef(evidence)
    assert isinstance(msg, Message)
    msg.validate()  # raises jsonschema.ValidationError if invalid
    assert msg["Priority"] == priority
    assert msg["Confidence"] == 0.5
    assert msg["ID"] == evidence.id
    assert msg["Source"][0]["IP"] == CLIENT
    assert msg["Target"][0]["IP"] == SERVER
    assert msg["Target"][0]["Port"] == [443]
    assert msg["Analyzer"]["Name"] == "Flowalerts"
    assert msg["CreateTime"] == "2020-09-13T12:26:40+00:00"


@pytest.mark.parametrize(
    ("victim", "target"),
    [
        (None, None),
        (dst_domain("evil.example"), {"Hostname": "evil.example"}),
        (dst_ip("2001:db8::1"), {"IP": "2001:db8::1"}),
    ],
)
def test_victim_forms_validate(victim, target):
    evidence = build(EvidenceType.HORIZONTAL_PORT_SCAN, victim=victim)
    data = json.loads(idmef_json(evidence, validate=True))
    assert data["Category"] == ["Recon.Network"]
    if target is None:
        assert "Target" not in data
    else:
        assert {k: v for k, v in data["Target"][0].items() if k != "ID"} == target
    attached = data["Attachment"][0]["Content"]
    assert attached["evidence_type"] == "HORIZONTAL_PORT_SCAN"
    assert data["Attachment"][1]["Content"] == "CAbc1 CAbc2"


def test_paired_evidence_keeps_relation_and_hostile_text_is_valid():
    first = build(victim=dst_ip(SERVER))
    second = make_evidence(
        EvidenceType.SELF_SIGNED_CERTIFICATE,
        description='subject "\x1b[31m\nCN=evil\u202e" $(rm -rf /)',
        attacker=dst_ip(SERVER),
        victim=src_ip(CLIENT),
        threat_level=ThreatLevel.LOW,
        confidence=0.5,
        profile=CLIENT,
        twid=1,
        timestamp=T0,
        uids=["Cx"],
    )
    link(first, second)
    for evidence in (first, second):
        msg = to_idmef(evidence)
        msg.validate()
        assert msg["RelID"] == evidence.rel_id


def test_sink_writes_idmef_file_only_when_asked(tmp_path):
    evidence = build(victim=dst_ip(SERVER))
    on = EvidenceSink(None, str(tmp_path / "on"), idmef=True)
    on.add(evidence)
    on.close()
    lines = (tmp_path / "on" / "alerts.idmef.json").read_text().splitlines()
    assert len(lines) == 1
    msg = Message()
    msg.update(json.loads(lines[0]))
    msg.validate()
    assert msg["ID"] == evidence.id
    off = EvidenceSink(None, str(tmp_path / "off"))
    off.add(evidence)
    off.close()
    assert not (tmp_path / "off" / "alerts.idmef.json").exists()


def test_invalid_message_is_rejected_by_schema():
    import jsonschema

    msg = to_idmef(build())
    msg["Priority"] = "Critical"
    with pytest.raises(jsonschema.ValidationError):
        msg.validate()
