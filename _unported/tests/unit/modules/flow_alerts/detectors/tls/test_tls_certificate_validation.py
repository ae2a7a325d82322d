"""SELF_SIGNED_CERTIFICATE (spec 2.15, 4.12) and INVALID_CERTIFICATE (2.16) from ssl.log."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, ssl
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("self signed certificate", "SELF_SIGNED_CERTIFICATE"),
        ("self signed certificate in certificate chain", "SELF_SIGNED_CERTIFICATE"),
        ("certificate has expired", "INVALID_CERTIFICATE"),
        ("certificate is not yet valid", "INVALID_CERTIFICATE"),
        ("unable to get local issuer certificate", "INVALID_CERTIFICATE"),
        ("ok", None),
        ("", None),
    ],
)
def test_validation_status_table(status, expected):
    pipe = OwnPipeline()
    new = pipe.feed(ssl(validation_status=status, server_name="bad.example"))
    if expected is None:
        assert new == []
        return
    first, second = new
    assert first.evidence_type.value == second.evidence_type.value == expected
    assert (first.attacker, first.profile) == (src_ip(CLIENT), CLIENT)
    assert (second.attacker, second.profile) == (dst_ip(SERVER), SERVER)
    for ev in (first, second):
        assert ev.threat_level is ThreatLevel.LOW and ev.confidence == 0.5 and ev.victim is None
        assert (ev.timewindow, ev.uids, ev.src_port, ev.dst_port) == (1, ["Cssl1"], 50001, 443)
        assert status in ev.description and "bad.example" in ev.description
    assert first.rel_id == [second.id] and second.rel_id == [first.id]


def test_dedup_per_server_status_window():
    pipe = OwnPipeline()
    pipe.feed(ssl(validation_status="certificate has expired"),
              ssl(validation_status="certificate has expired", uid="C2"),
              ssl(validation_status="self signed certificate", uid="C3"),
              ssl(validation_status="certificate has expired", uid="C4", daddr="1.2.3.4"))
    assert pipe.types() == ["INVALID_CERTIFICATE"] * 2 + ["SELF_SIGNED_CERTIFICATE"] * 2 + ["INVALID_CERTIFICATE"] * 2
