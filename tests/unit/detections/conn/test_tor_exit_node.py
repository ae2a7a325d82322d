"""TOR_EXIT_NODE (seed "Tor Exit Nodes"; spec 2.8, 4.7; issue 13: one evidence per exit node)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import Direction
from flowalerts.detections.conn.tor_exit_node import TorExitNode
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import ThreatFeeds
from tests.harness import CLIENT, T0, Harness, conn, in_zeek_order, summary

TOR = "185.220.101.1"
TOR6 = "2001:db8::1"


def knowledge() -> Knowledge:
    k = Knowledge.empty()
    k.feeds = ThreatFeeds(tor_exits=frozenset({TOR, TOR6}))
    return k


def run(*records, k=None):
    return [summary(e) for e in Harness(TorExitNode, knowledge=k or knowledge()).feed(*records).evidence()]


def details(connections=1, dports=(9001,)) -> dict:
    return {"kind": "TorExitNodeDetails", "connections": connections, "dports": list(dports)}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (conn(daddr=TOR, dport=9001), [("TOR_EXIT_NODE", CLIENT, 1, TOR, CLIENT, "info", 1.0, 1, details())]),
        # The list is canonical; other spellings of an IPv6 address match.
        (conn(daddr="2001:DB8:0::1", dport=9001),
         [("TOR_EXIT_NODE", CLIENT, 1, TOR6, CLIENT, "info", 1.0, 1, details())]),
        (conn(daddr="185.220.101.2", dport=9001), []),
        # Exception: inbound from Tor is not flagged.
        (conn(saddr=TOR, daddr=CLIENT, dport=443), []),
    ],
)
def test_tor_exit_node(record, expected):
    assert run(record) == expected


def test_roles_and_fields():
    (evidence,) = Harness(TorExitNode, knowledge=knowledge()).feed(conn(uid="Ctor", daddr=TOR, dport=443)).evidence()
    assert (evidence.attacker.direction, evidence.victim.direction) == (Direction.DST, Direction.SRC)
    assert (evidence.uids, evidence.dst_port, evidence.ts, evidence.occurrences) == (["Ctor"], 443, T0, 1)


def test_empty_list_reports_nothing():
    assert run(conn(daddr=TOR), k=Knowledge.empty()) == []


def test_one_evidence_per_exit_node_and_window_staying_info():
    records = [conn(uid=f"C{i}", daddr=TOR, dport=9001 if i % 2 else 443, starttime=T0 + i) for i in range(20)]
    records.append(conn(uid="Cnext", daddr=TOR, dport=9001, starttime=T0 + 3600))
    assert run(*records) == [
        ("TOR_EXIT_NODE", CLIENT, 1, TOR, CLIENT, "info", 1.0, 20, details(20, (443, 9001))),
        ("TOR_EXIT_NODE", CLIENT, 2, TOR, CLIENT, "info", 1.0, 1, details()),
    ]


def test_zeek_write_order_gives_the_same_evidence():
    records = [conn(uid=f"C{i}", daddr=TOR, starttime=T0 + i * 60, dur=3000.0 - i * 60) for i in range(4)]
    records += [conn(uid=f"S{i}", starttime=T0 + 100 + i, dur=1.0) for i in range(40)]
    assert sorted(run(*in_zeek_order(records))) == sorted(run(*sorted(records, key=lambda r: r.starttime)))
