"""GRE_TUNNEL and GRE_SCAN (spec 2.35, 2.36, 4.28)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, tunnel
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


@pytest.mark.parametrize(
    ("tunnel_type", "action", "expected"),
    [
        ("Tunnel::GRE", "Tunnel::CLOSE", "GRE_TUNNEL"),
        ("Tunnel::GRE", "Tunnel::EXPIRE", "GRE_TUNNEL"),
        ("Tunnel::GRE", "TUNNEL", "GRE_TUNNEL"),
        ("Tunnel::IP", "TUNNEL", None),
        ("Invalid", "TUNNEL", None),
        ("Tunnel::GRE", "Tunnel::DISCOVER", "GRE_SCAN"),
        ("Tunnel::IP", "Tunnel::DISCOVER", None),
    ],
)
def test_gre_table(tunnel_type, action, expected):
    pipe = OwnPipeline()
    new = pipe.feed(tunnel(tunnel_type=tunnel_type, action=action, daddr="10.0.0.1"))
    if expected is None:
        assert new == []
        return
    [ev] = new
    assert ev.evidence_type.value == expected
    assert ev.attacker == src_ip(CLIENT) and ev.victim == dst_ip("10.0.0.1")
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
        ThreatLevel.LOW, 1.0, CLIENT, 1, ["Ctun1"])
    assert action in ev.description
