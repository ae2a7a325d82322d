"""DEVICE_CHANGING_IP (spec 2.34, 4.27)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, conn

MAC = "00:11:22:33:44:55"


@pytest.mark.parametrize(
    ("saddr", "smac", "fires"),
    [
        ("192.168.1.3", MAC, True),
        ("192.168.1.3", MAC.upper(), True),  # MACs compare case-insensitively
        ("192.168.1.2", MAC, False),  # the original IP
        ("8.8.8.8", MAC, False),  # public source
        ("fd00::3", MAC, False),  # IPv6 source
        ("192.168.1.3", "", False),  # no MAC logged
        ("192.168.1.3", "00:11:22:33:44:66", False),  # another device
    ],
)
def test_device_changing_ip(saddr, smac, fires):
    pipe = Pipeline()
    pipe.feed(conn(uid="C1", saddr="192.168.1.2", smac=MAC))
    out = pipe.of_type("DEVICE_CHANGING_IP", pipe.feed(conn(uid="C2", saddr=saddr, smac=smac, starttime=T0 + 1)))
    if not fires:
        assert out == []
        return
    (ev,) = out
    assert (ev.attacker.direction, ev.attacker.value, ev.victim) == (Direction.SRC, saddr, None)
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
        ThreatLevel.MEDIUM, 0.8, saddr, 1, ["C2"])
    assert "192.168.1.2" in ev.description


def test_original_is_first_private_ipv4_and_reported_once():
    pipe = Pipeline()
    pipe.feed(conn(uid="C0", saddr="fd00::2", smac=MAC),
              conn(uid="C1", saddr="192.168.1.2", smac=MAC, starttime=T0 + 1),
              conn(uid="C2", saddr="192.168.1.3", smac=MAC, starttime=T0 + 2),
              conn(uid="C3", saddr="192.168.1.3", smac=MAC, starttime=T0 + 3),
              conn(uid="C4", saddr="192.168.1.4", smac=MAC, starttime=T0 + 4))
    assert [(e.attacker.value, e.uids) for e in pipe.of_type("DEVICE_CHANGING_IP")] == [
        ("192.168.1.3", ["C2"]), ("192.168.1.4", ["C4"])]
