"""Private IP outside the local network, DNS path (spec 2.32 INTENT, 4.25)."""

from __future__ import annotations

import ipaddress

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, config, dns


def dns_localnet(pipe):
    return [e for e in pipe.of_type("DIFFERENT_LOCALNET")]


def test_scenario_private_resolver_outside_network_is_learned():
    """4.25 DNS-path scenario 1: no evidence at any point."""
    pipe = Pipeline(cfg=config(parameters={"client_ips": ["192.168.0.0/16"]}))
    for i in range(6):
        pipe.feed(dns(starttime=T0 + i, uid=f"C{i}", saddr="192.168.1.5", daddr="10.0.0.53", answers=["1.2.3.4"]))
        assert dns_localnet(pipe) == []
    assert pipe.facts.is_dns_server("10.0.0.53")


def test_scenario_ipv6_ula_dns():
    """4.25 DNS-path scenario 2: no evidence."""
    pipe = Pipeline(cfg=config(parameters={"client_ips": ["192.168.0.0/16"]}))
    for i in range(8):
        answers = ["2001:db8::1"] if i % 2 else []
        pipe.feed(dns(starttime=T0 + i, uid=f"C{i}", saddr="fd00::5", daddr="fd00::1", qtype_name="AAAA",
                      answers=answers))
    assert dns_localnet(pipe) == []


@pytest.mark.parametrize(
    ("saddr", "daddr", "dport", "answers", "expected"),
    [
        # Unanswered query to a private resolver outside the network: HIGH (dst).
        ("192.168.1.5", "10.0.0.53", 53, [], [("dst", "10.0.0.53", ThreatLevel.HIGH)]),
        # Private source outside the network to a public resolver: LOW (src).
        ("10.9.9.9", "8.8.8.8", 53, ["1.2.3.4"], [("src", "10.9.9.9", ThreatLevel.LOW)]),
        ("192.168.1.5", "192.168.7.1", 53, [], []),  # inside 192.168.0.0/16
        ("192.168.1.5", "8.8.8.8", 53, [], []),
        ("127.0.0.1", "127.0.0.53", 53, [], []),  # local stub resolver
        ("192.168.1.5", "10.0.0.53", 5353, [], []),  # not port 53
        ("fd00::5", "fd00::1", 53, [], []),
    ],
)
def test_sides(saddr, daddr, dport, answers, expected):
    pipe = Pipeline(cfg=config(parameters={"client_ips": ["192.168.0.0/16"]}))
    pipe.feed(dns(saddr=saddr, daddr=daddr, dport=dport, answers=answers, uid="Cl"))
    evs = dns_localnet(pipe)
    got = []
    for ev in evs:
        side = "src" if ev.attacker.direction is Direction.SRC else "dst"
        got.append((side, ev.attacker.value, ev.threat_level))
        assert ev.profile == ev.attacker.value
        assert ev.victim.value == (daddr if side == "src" else saddr)
        assert (ev.confidence, ev.uids, ev.dst_port, ev.timewindow) == (1.0, ["Cl"], dport, 1)
        assert "192.168.0.0/16" in ev.description
    assert got == expected


def test_no_local_network_yet_means_no_evidence():
    pipe = Pipeline()
    pipe.feed(dns(saddr="8.8.4.4", daddr="10.0.0.53", answers=[]))
    assert pipe.facts.local_network is None
    assert dns_localnet(pipe) == []


def test_deduplicated():
    pipe = Pipeline()
    pipe.facts.local_network = ipaddress.ip_network("192.168.1.0/24")
    pipe.feed(*[dns(starttime=T0 + i, uid=f"C{i}", daddr="10.0.0.53", answers=[]) for i in range(5)])
    assert [e.uids for e in dns_localnet(pipe)] == [["C0"]]
