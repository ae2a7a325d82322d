"""CONNECTION_TO_MULTIPLE_PORTS (spec 2.18, 4.14)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.ports import PortRegistry
from tests.harness import T0, Pipeline, conn


class FakePorts(PortRegistry):
    def service(self, port, proto):
        return {(80, "tcp"): "http", (443, "tcp"): "https"}.get((port, proto.lower()))


def pipeline() -> Pipeline:
    k = Knowledge.empty()
    k.ports = FakePorts()
    return Pipeline(knowledge=k)


def tcp(uid, dport, daddr="1.2.3.4", i=0, **kw):
    return conn(uid=uid, daddr=daddr, dport=dport, starttime=T0 + i, **kw)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([tcp("C1", 9001), tcp("C2", 9002, i=1)], [("1.2.3.4", ["C1", "C2"])]),
        ([tcp("C1", 9001), tcp("C2", 9001, i=1)], []),  # one port only
        ([tcp("C1", 9001), tcp("C2", 9002, i=1), tcp("C3", 9001, i=2)], [("1.2.3.4", ["C1", "C2"])]),
        ([tcp("C1", 9001), tcp("C2", 9002, i=1), tcp("C3", 9003, i=2)],
         [("1.2.3.4", ["C1", "C2"]), ("1.2.3.4", ["C1", "C2", "C3"])]),
        ([tcp("C1", 9001), tcp("C2", 80, i=1)], []),  # 80 is a known service
        ([tcp("C1", 9001), tcp("C2", 9002, i=1, appproto="http")], []),  # Zeek found a service
        ([tcp("C1", 9001), tcp("C2", 9002, i=1, state="S0")], []),  # not established
        ([tcp("C1", 9001, proto="udp"), tcp("C2", 9002, i=1, proto="udp")], []),  # not TCP
        ([tcp("C1", 9001), tcp("C2", 9002, daddr="5.6.7.8", i=1)], []),  # different hosts
        # tracked per destination: a second host alerts too (the reference suppresses it)
        ([tcp("C1", 9001), tcp("C2", 9002, i=1), tcp("C3", 9003, i=2),
          tcp("D1", 9001, daddr="5.6.7.8", i=3), tcp("D2", 9002, daddr="5.6.7.8", i=4)],
         [("1.2.3.4", ["C1", "C2"]), ("1.2.3.4", ["C1", "C2", "C3"]), ("5.6.7.8", ["D1", "D2"])]),
        ([tcp("C1", 9001), tcp("C2", 9002, i=3600)], []),  # different windows
    ],
)
def test_multiple_ports(records, expected):
    pipe = pipeline()
    pipe.feed(*records)
    evs = pipe.of_type("CONNECTION_TO_MULTIPLE_PORTS")
    assert [(e.victim.value, e.uids) for e in evs] == expected
    for ev in evs:
        assert (ev.attacker.direction, ev.attacker.value, ev.victim.direction) == (
            Direction.SRC, "192.168.1.10", Direction.DST)
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow) == (ThreatLevel.INFO, 0.5,
                                                                               "192.168.1.10", 1)
