"""LONG_CONNECTION (spec 2.1, 4.1)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, EvidenceType, ThreatLevel
from tests.harness import T0, Pipeline, config, conn


@pytest.mark.parametrize(
    ("dur", "saddr", "daddr", "threshold", "expected_confidence"),
    [
        (2000.0, "192.168.1.1", "192.168.1.2", 1500, 0.02),
        (1000.0, "192.168.1.1", "192.168.1.2", 1500, None),
        (1500.0, "192.168.1.1", "192.168.1.2", 1500, None),  # strict: equal does not fire
        (1500.5, "192.168.1.1", "192.168.1.2", 1500, 0.02),
        (7200.0, "192.168.0.1", "10.0.0.1", 1500, 0.08),
        (86400.0 * 3, "192.168.0.1", "10.0.0.1", 1500, 1.0),
        (2000.0, "192.168.1.1", "224.0.0.1", 1500, None),  # multicast destination
        (2000.0, "224.0.0.1", "192.168.1.2", 1500, None),  # multicast source
        (float("nan"), "192.168.1.1", "192.168.1.2", 1500, None),
        (100.0, "192.168.1.1", "192.168.1.2", 50, 0.0),
    ],
)
def test_long_connection(dur, saddr, daddr, threshold, expected_confidence):
    pipe = Pipeline(cfg=config(flow_alerts={"long_connection_threshold": threshold}))
    out = pipe.of_type("LONG_CONNECTION", pipe.feed(conn(uid="Clong", saddr=saddr, daddr=daddr, dur=dur)))
    if expected_confidence is None:
        assert out == []
        return
    (ev,) = out
    assert ev.evidence_type is EvidenceType.LONG_CONNECTION
    assert ev.threat_level is ThreatLevel.LOW
    assert ev.confidence == expected_confidence
    assert (ev.attacker.direction, ev.attacker.value) == (Direction.SRC, saddr)
    assert (ev.victim.direction, ev.victim.value) == (Direction.DST, daddr)
    assert (ev.profile, ev.timewindow, ev.uids) == (saddr, 1, ["Clong"])
    assert (ev.src_port, ev.dst_port) == (50000, 80)


def test_long_connection_window_number():
    pipe = Pipeline()
    pipe.feed(conn(uid="C0", dur=1.0))
    out = pipe.feed(conn(uid="C8", saddr="192.168.0.1", daddr="10.0.0.1", dur=7200.0, starttime=T0 + 7 * 3600 + 5))
    (ev,) = pipe.of_type("LONG_CONNECTION", out)
    assert (ev.timewindow, ev.confidence, ev.victim.value) == (8, 0.08, "10.0.0.1")
