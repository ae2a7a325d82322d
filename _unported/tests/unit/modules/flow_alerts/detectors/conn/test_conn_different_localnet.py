"""DIFFERENT_LOCALNET, conn.log path (spec 2.31, 4.25)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, config, conn

LOCAL = "192.168.1.0/24"


def pipeline() -> Pipeline:
    return Pipeline(cfg=config(parameters={"client_ips": [LOCAL]}))


@pytest.mark.parametrize(
    ("saddr", "daddr", "dport", "proto", "expected"),
    [
        # (attacker dir, attacker, victim, level, profile)
        ("192.168.1.1", "10.0.0.1", 80, "tcp", [(Direction.DST, "10.0.0.1", "192.168.1.1", ThreatLevel.HIGH,
                                                 "10.0.0.1")]),
        ("192.168.1.1", "192.168.1.2", 80, "tcp", []),
        ("10.0.0.1", "192.168.1.2", 80, "tcp", [(Direction.SRC, "10.0.0.1", "192.168.1.2", ThreatLevel.LOW,
                                                 "10.0.0.1")]),
        ("8.8.8.8", "192.168.1.2", 80, "tcp", []),  # public source, local destination
        ("8.8.8.8", "10.0.0.1", 80, "tcp", [(Direction.DST, "10.0.0.1", "8.8.8.8", ThreatLevel.HIGH, "10.0.0.1")]),
        ("10.0.0.1", "8.8.8.8", 80, "tcp", []),  # private source to public destination: not this path
        ("10.0.0.1", "172.16.0.1", 80, "tcp", [
            (Direction.SRC, "10.0.0.1", "172.16.0.1", ThreatLevel.LOW, "10.0.0.1"),
            (Direction.DST, "172.16.0.1", "10.0.0.1", ThreatLevel.HIGH, "172.16.0.1"),
        ]),
        ("192.168.1.1", "10.0.0.53", 53, "udp", []),  # DNS path belongs to dns.log
        ("fd00::1", "fd00::2", 80, "tcp", []),  # IPv6 is not checked on this path
        ("0.0.0.0", "10.0.0.1", 67, "udp", []),
        ("192.168.1.1", "255.255.255.255", 67, "udp", []),
    ],
)
def test_different_localnet(saddr, daddr, dport, proto, expected):
    pipe = pipeline()
    out = pipe.of_type("DIFFERENT_LOCALNET",
                       pipe.feed(conn(uid="Cln", saddr=saddr, daddr=daddr, dport=dport, proto=proto)))
    got = [(e.attacker.direction, e.attacker.value, e.victim.value, e.threat_level, e.profile) for e in out]
    assert got == expected
    for ev in out:
        assert (ev.confidence, ev.timewindow, ev.uids, ev.dst_port) == (1.0, 1, ["Cln"], dport)
        assert ev.victim.direction is (Direction.SRC if ev.attacker.direction is Direction.DST else Direction.DST)


def test_no_local_network_known_no_evidence():
    pipe = Pipeline()  # no client_ips; the first source is public, so nothing is learned
    out = pipe.feed(conn(saddr="8.8.8.8", daddr="10.0.0.1"))
    assert pipe.of_type("DIFFERENT_LOCALNET", out) == []


def test_local_network_learned_from_first_private_source():
    pipe = Pipeline()
    pipe.feed(conn(uid="C1", saddr="192.168.7.7", daddr="192.168.7.1"))
    out = pipe.feed(conn(uid="C2", saddr="192.168.7.7", daddr="192.168.8.1", starttime=T0 + 1))
    (ev,) = pipe.of_type("DIFFERENT_LOCALNET", out)
    assert (ev.attacker.value, ev.threat_level) == ("192.168.8.1", ThreatLevel.HIGH)


def test_learned_dns_server_on_53_is_exempt():
    pipe = pipeline()
    pipe.facts.add_dns_server("10.0.0.53", T0)
    out = pipe.feed(conn(saddr="192.168.1.1", daddr="10.0.0.53", dport=53, proto="tcp"))
    assert pipe.of_type("DIFFERENT_LOCALNET", out) == []
    out = pipe.feed(conn(saddr="192.168.1.1", daddr="10.0.0.53", dport=80, proto="tcp", starttime=T0 + 1))
    assert len(pipe.of_type("DIFFERENT_LOCALNET", out)) == 1


def test_dedup_per_ip_and_port():
    pipe = pipeline()
    pipe.feed(conn(uid="C1", saddr="192.168.1.1", daddr="10.0.0.1"),
              conn(uid="C2", saddr="192.168.1.1", daddr="10.0.0.1", starttime=T0 + 1),
              conn(uid="C3", saddr="192.168.1.1", daddr="10.0.0.1", dport=443, starttime=T0 + 2))
    assert [e.uids for e in pipe.of_type("DIFFERENT_LOCALNET")] == [["C1"], ["C3"]]
