"""DIFFERENT_LOCALNET, dns.log path (seed; spec 2.32 INTENT, 4.25, 5.2 item 16; issue 13)."""

from __future__ import annotations

import pytest

from flowalerts.detections.dns.different_localnet import DnsDifferentLocalnet
from flowalerts.detections.shared.localnet import DifferentLocalnetDetails
from tests.harness import T0, Harness, config, dns, summary

LAN = "192.168.0.0/16"


def harness(client_ips=(LAN,)):
    return Harness(DnsDifferentLocalnet, cfg=config(parameters={"client_ips": list(client_ips)}))


def run(*records, client_ips=(LAN,)):
    return [summary(e) for e in harness(client_ips).feed(*records).evidence()]


def details(side, address, dport=53, proto="udp", localnet=LAN):
    return {"kind": "DifferentLocalnetDetails", "side": side, "address": address, "local_network": localnet,
            "dport": dport, "proto": proto, "log": "dns"}


@pytest.mark.parametrize(
    ("saddr", "daddr", "dport", "answers", "result"),
    [
        # An unanswered query to a private resolver outside the network: HIGH, owned by the resolver.
        ("192.168.1.5", "10.0.0.53", 53, [],
         [("DIFFERENT_LOCALNET", "10.0.0.53", 1, "10.0.0.53", "192.168.1.5", "high", 1.0, 1,
           details("dst", "10.0.0.53"))]),
        # A private source outside the network asking a public resolver: LOW, owned by the source.
        ("10.9.9.9", "8.8.8.8", 53, ["1.2.3.4"],
         [("DIFFERENT_LOCALNET", "10.9.9.9", 1, "10.9.9.9", "8.8.8.8", "low", 1.0, 1, details("src", "10.9.9.9"))]),
        # Both ends outside: two evidence.
        ("10.9.9.9", "172.16.0.53", 53, [],
         [("DIFFERENT_LOCALNET", "10.9.9.9", 1, "10.9.9.9", "172.16.0.53", "low", 1.0, 1, details("src", "10.9.9.9")),
          ("DIFFERENT_LOCALNET", "172.16.0.53", 1, "172.16.0.53", "10.9.9.9", "high", 1.0, 1,
           details("dst", "172.16.0.53"))]),
        ("192.168.1.5", "192.168.7.1", 53, [], []),  # inside the network
        ("192.168.1.5", "8.8.8.8", 53, [], []),  # public resolver
        ("127.0.0.1", "127.0.0.53", 53, [], []),  # local stub resolver
        ("192.168.1.5", "10.0.0.53", 5353, [], []),  # not DNS port 53 (mDNS)
        ("fd00::5", "fd00::1", 53, [], []),  # IPv6 when the network is IPv4: cannot be decided
        ("192.168.1.5", "100.64.0.1", 53, [], []),  # CGNAT is not RFC 1918
    ],
)
def test_sides(saddr, daddr, dport, answers, result):
    assert run(dns(saddr=saddr, daddr=daddr, dport=dport, answers=answers, uid="Cl")) == result


def test_learned_dns_server_is_exempt_from_its_first_answered_query():
    # Spec 4.25 scenario 1: no evidence at any point; the server is announced once.
    h = harness()
    for i in range(6):
        h.feed(dns(starttime=T0 + i, uid=f"C{i}", saddr="192.168.1.5", daddr="10.0.0.53", answers=["1.2.3.4"]))
    assert h.evidence() == []
    assert h.notes == ["Detected DNS server by traffic heuristic: 10.0.0.53"]


def test_unanswered_queries_before_the_server_is_learned_are_reported():
    h = harness().feed(
        dns(starttime=T0, uid="C0", saddr="192.168.1.5", daddr="10.0.0.53", answers=[]),
        dns(starttime=T0 + 1, uid="C1", saddr="192.168.1.5", daddr="10.0.0.53", answers=["1.2.3.4"]),
        dns(starttime=T0 + 2, uid="C2", saddr="192.168.1.5", daddr="10.0.0.53", answers=[]),
    )
    assert [(e.attacker.value, e.uids, e.count) for e in h.evidence()] == [("10.0.0.53", ["C0"], 1)]


def test_learned_server_exempt_as_the_source_of_a_reply():
    # Zeek saw only the reply: the resolver is the originator, from port 53.
    h = harness().feed(
        dns(starttime=T0, uid="C0", saddr="192.168.1.5", daddr="10.0.0.53", answers=["1.2.3.4"]),
        dns(starttime=T0 + 1, uid="C1", saddr="10.0.0.53", sport=53, daddr="192.168.1.5", dport=40000,
            answers=["1.2.3.4"]),
    )
    assert h.evidence() == []


@pytest.mark.parametrize("answers", [[], ["2001:db8::1"]])
def test_ipv6_ula_dns_with_an_ipv6_network(answers):
    # Spec 4.25 scenario 2 (the reference flagged every IPv6 query).
    assert run(dns(saddr="fd00::5", daddr="fd00:1::1", qtype_name="AAAA", answers=answers),
               client_ips=("fd00::/64",)) == (
        [] if answers else [("DIFFERENT_LOCALNET", "fd00:1::1", 1, "fd00:1::1", "fd00::5", "high", 1.0, 1,
                              details("dst", "fd00:1::1", localnet="fd00::/64"))])


def test_no_local_network_yet_means_no_evidence():
    # A public source teaches no network; nothing to compare with.
    assert run(dns(saddr="8.8.4.4", daddr="10.0.0.53", answers=[]), client_ips=()) == []


def test_local_network_learned_from_the_first_private_source():
    assert [e.details for e in harness(client_ips=()).feed(
        dns(starttime=T0, saddr="192.168.1.5", daddr="10.0.0.53", answers=[], uid="C0")).evidence()] == [
        DifferentLocalnetDetails(side="dst", address="10.0.0.53", local_network="192.168.0.0/16", dport=53,
                                 proto="udp", log="dns")]


def test_one_evidence_per_window_and_address_with_every_uid():
    records = [dns(starttime=T0 + i, uid=f"C{i}", daddr="10.0.0.53", answers=[]) for i in range(5)]
    records += [dns(starttime=T0 + 10, uid="D0", saddr="192.168.1.77", daddr="10.0.0.53", answers=[])]
    records += [dns(starttime=T0 + 3600, uid="W2", daddr="10.0.0.53", answers=[])]
    got = [(e.profile, e.timewindow, e.victim.value, e.count, e.occurrences, e.uids, e.threat_level.value)
           for e in harness().feed(*records).evidence()]
    assert got == [
        ("10.0.0.53", 1, "192.168.1.10", 5, 1, ["C0", "C1", "C2", "C3", "C4"], "high"),
        ("10.0.0.53", 1, "192.168.1.77", 1, 1, ["D0"], "high"),  # one per client
        ("10.0.0.53", 2, "192.168.1.10", 1, 1, ["W2"], "high"),
    ]
