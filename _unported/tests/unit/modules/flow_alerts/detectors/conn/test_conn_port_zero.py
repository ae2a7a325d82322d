"""PORT_0_CONNECTION (spec 2.11, 4.9)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import Pipeline, conn


@pytest.mark.parametrize(
    ("sport", "dport", "proto", "daddr", "expected"),
    [
        (0, 80, "tcp", "10.0.0.1", ("192.168.0.1", Direction.SRC, "10.0.0.1", "192.168.0.1")),
        (80, 0, "tcp", "10.0.0.1", ("10.0.0.1", Direction.DST, "192.168.0.1", "192.168.0.1")),
        (5353, 0, "udp", "10.0.0.1", ("10.0.0.1", Direction.DST, "192.168.0.1", "192.168.0.1")),
        (80, 80, "tcp", "10.0.0.1", None),
        (0, 0, "igmp", "10.0.0.1", None),
        (0, 0, "icmp", "10.0.0.1", None),
        (0, 0, "", "10.0.0.1", None),  # unknown_transport (ESP ...) has no ports
        (0, 80, "udp", "224.0.0.251", None),  # multicast destination
    ],
)
def test_port_zero(sport, dport, proto, daddr, expected):
    pipe = Pipeline()
    out = pipe.of_type("PORT_0_CONNECTION", pipe.feed(conn(saddr="192.168.0.1", sport=sport, daddr=daddr, dport=dport,
                                                           proto=proto, uid="Cp0")))
    if expected is None:
        assert out == []
        return
    attacker, attacker_dir, victim, profile = expected
    (ev,) = out
    assert (ev.attacker.value, ev.attacker.direction, ev.victim.value) == (attacker, attacker_dir, victim)
    assert ev.victim.direction is (Direction.DST if attacker_dir is Direction.SRC else Direction.SRC)
    assert (ev.profile, ev.timewindow, ev.uids) == (profile, 1, ["Cp0"])
    assert (ev.threat_level, ev.confidence) == (ThreatLevel.HIGH, 0.8)


def test_port_zero_profile_of_destination_side():
    # The profile is the destination's (reverse direction), so the attacker (sport 0 side) is
    # the profile's peer: DST attacker, profile = victim.
    pipe = Pipeline()
    out = pipe.feed(conn(saddr="192.168.0.1", sport=0, daddr="10.0.0.1", dport=80), profile="10.0.0.1")
    (ev,) = pipe.of_type("PORT_0_CONNECTION", out)
    assert (ev.attacker.direction, ev.attacker.value, ev.profile) == (Direction.DST, "192.168.0.1", "10.0.0.1")
