"""UNKNOWN_PORT (spec 2.5, 4.5, seed)."""

from __future__ import annotations

import ipaddress

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from flowalerts.knowledge.ports import OrgPort, PortRegistry
from tests.harness import T0, Pipeline, conn


class FakePorts(PortRegistry):
    def service(self, port, proto):
        return {(53, "udp"): "dns", (80, "tcp"): "http"}.get((port, proto.lower()))

    def org_ports(self, port, proto):
        return {
            (5223, "tcp"): [OrgPort(org="apple", network=None)],
            (8888, "tcp"): [OrgPort(org="testorg", network=ipaddress.ip_network("203.0.113.0/24"))],
        }.get((port, proto.lower()), [])


def pipeline() -> Pipeline:
    k = Knowledge.empty()
    k.ports = FakePorts()
    k.orgs = Organizations(ranges={"apple": ["17.0.0.0/8"]}, domains={"apple": ["apple.com"]})
    return Pipeline(knowledge=k)


@pytest.mark.parametrize(
    ("daddr", "dport", "proto", "state", "expected_level"),
    [
        ("10.0.0.1", 12345, "tcp", "SF", ThreatLevel.HIGH),
        ("192.168.1.100", 56789, "udp", "SF", ThreatLevel.HIGH),
        ("10.0.0.1", 12345, "tcp", "S0", ThreatLevel.MEDIUM),
        ("10.0.0.1", 80, "tcp", "SF", None),  # known service
        ("10.0.0.1", 53, "UDP", "SF", None),  # proto compared lower-case
        ("10.0.0.1", 0, "tcp", "SF", None),  # port 0 is its own detection
        ("10.0.0.1", 3, "icmp", "OTH", None),
        ("17.57.144.10", 5223, "tcp", "SF", None),  # Apple port to an Apple IP
        ("8.8.8.8", 5223, "tcp", "SF", ThreatLevel.HIGH),  # Apple port to a non-Apple IP
        ("203.0.113.7", 8888, "tcp", "SF", None),  # inside the row's network
        ("198.51.100.7", 8888, "tcp", "SF", ThreatLevel.HIGH),  # outside it
    ],
)
def test_unknown_port(daddr, dport, proto, state, expected_level):
    pipe = pipeline()
    out = pipe.of_type("UNKNOWN_PORT", pipe.feed(conn(uid="Cu", daddr=daddr, dport=dport, proto=proto, state=state)))
    if expected_level is None:
        assert out == []
        return
    (ev,) = out
    assert (ev.attacker.direction, ev.attacker.value) == (Direction.SRC, "192.168.1.10")
    assert (ev.victim.direction, ev.victim.value) == (Direction.DST, daddr)
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
        expected_level, 1.0, "192.168.1.10", 1, ["Cu"])
    assert (ev.src_port, ev.dst_port) == (50000, dport)


@pytest.mark.parametrize(("name_source", "exempt"), [("sni", True), ("rdns", True), ("dns", True), (None, False)])
def test_org_port_by_names_of_the_ip(name_source, exempt):
    pipe = pipeline()
    if name_source == "sni":
        pipe.facts.record_sni("8.8.4.4", "push.apple.com", T0)
    elif name_source == "rdns":
        pipe.facts.record_rdns("8.8.4.4", "x.apple.com", T0)
    elif name_source == "dns":
        pipe.facts.record_resolution("192.168.1.10", "courier.push.apple.com", "8.8.4.4", T0)
    out = pipe.feed(conn(daddr="8.8.4.4", dport=5223))
    assert len(pipe.of_type("UNKNOWN_PORT", out)) == (0 if exempt else 1)


def test_port_scanner_flag_suppresses():
    pipe = pipeline()
    pipe.state.window("port_scanner", "192.168.1.10", 1)["flag"] = True
    assert pipe.of_type("UNKNOWN_PORT", pipe.feed(conn(daddr="10.0.0.1", dport=12345))) == []
    # another window is not flagged
    out = pipe.feed(conn(daddr="10.0.0.1", dport=12345, starttime=T0 + 3600))
    assert len(pipe.of_type("UNKNOWN_PORT", out)) == 1


def test_dedup_per_destination_port_proto_and_window():
    pipe = pipeline()
    pipe.feed(conn(uid="C1", daddr="10.0.0.1", dport=12345),
              conn(uid="C2", daddr="10.0.0.1", dport=12345, starttime=T0 + 1),
              conn(uid="C3", daddr="10.0.0.1", dport=12345, proto="udp", starttime=T0 + 2),
              conn(uid="C4", daddr="10.0.0.2", dport=12345, starttime=T0 + 3),
              conn(uid="C5", daddr="10.0.0.1", dport=12345, starttime=T0 + 3601))
    assert [(e.uids, e.timewindow) for e in pipe.of_type("UNKNOWN_PORT")] == [
        (["C1"], 1), (["C3"], 1), (["C4"], 1), (["C5"], 2)]


def test_p2p_heuristic_per_profile_and_window():
    pipe = pipeline()
    # 4 distinct high-UDP destinations alert; from the 5th on, the profile looks P2P.
    pipe.feed(*[conn(uid=f"P{i}", daddr=f"5.5.5.{i}", dport=40000, proto="udp", starttime=T0 + i) for i in range(7)])
    assert [e.uids for e in pipe.of_type("UNKNOWN_PORT")] == [["P0"], ["P1"], ["P2"], ["P3"]]
    # another profile is not affected
    out = pipe.feed(conn(uid="Q0", saddr="192.168.1.11", daddr="5.5.5.9", dport=40000, proto="udp", starttime=T0 + 8))
    assert [e.uids for e in pipe.of_type("UNKNOWN_PORT", out)] == [["Q0"]]
    # low UDP ports are never P2P
    out = pipe.feed(conn(uid="L0", daddr="5.5.5.1", dport=3000, proto="udp", starttime=T0 + 9))
    assert [e.uids for e in pipe.of_type("UNKNOWN_PORT", out)] == [["L0"]]


def test_p2p_many_flows_to_one_destination():
    pipe = pipeline()
    pipe.feed(*[conn(uid=f"P{i}", daddr="5.5.5.5", dport=40000 + i, proto="udp", starttime=T0 + i) for i in range(8)])
    # counts 1..6 are not P2P (fewer than 5 destinations); from the 7th flow on, 6 flows to one host are
    assert [e.uids for e in pipe.of_type("UNKNOWN_PORT")] == [[f"P{i}"] for i in range(6)]
