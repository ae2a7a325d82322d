"""TOR_EXIT_NODE (spec 2.8, 4.7)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import ThreatFeeds
from tests.harness import T0, Pipeline, conn

TOR = "185.220.101.1"


def knowledge() -> Knowledge:
    k = Knowledge.empty()
    k.feeds = ThreatFeeds(tor_exits=frozenset({TOR}))
    return k


@pytest.mark.parametrize(("saddr", "daddr", "fires"), [
    ("192.168.1.1", TOR, True),
    ("192.168.1.1", "185.220.101.2", False),
    (TOR, "192.168.1.1", False),  # inbound from Tor is not flagged
])
def test_tor_exit_node(saddr, daddr, fires):
    pipe = Pipeline(knowledge=knowledge())
    out = pipe.of_type("TOR_EXIT_NODE", pipe.feed(conn(uid="Ctor", saddr=saddr, daddr=daddr, dport=9001)))
    if not fires:
        assert out == []
        return
    (ev,) = out
    assert (ev.attacker.direction, ev.attacker.value) == (Direction.DST, TOR)
    assert (ev.victim.direction, ev.victim.value) == (Direction.SRC, "192.168.1.1")
    assert (ev.threat_level, ev.confidence) == (ThreatLevel.INFO, 1.0)
    assert (ev.profile, ev.timewindow, ev.uids, ev.dst_port) == ("192.168.1.1", 1, ["Ctor"], 9001)


def test_tor_dedup_per_window():
    pipe = Pipeline(knowledge=knowledge())
    pipe.feed(conn(uid="C1", daddr=TOR), conn(uid="C2", daddr=TOR, starttime=T0 + 10),
              conn(uid="C3", daddr=TOR, starttime=T0 + 3600 + 1))
    assert [(e.timewindow, e.uids) for e in pipe.of_type("TOR_EXIT_NODE")] == [(1, ["C1"]), (2, ["C3"])]
