"""DIFFERENT_LOCALNET, conn.log path (seed; spec 2.31, 4.25; issue 13: one evidence per pair and side)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import Direction, uuid_shaped
from flowalerts.detections.conn.different_localnet import DifferentLocalnet
from tests.harness import T0, Harness, config, conn, dns, in_zeek_order, summary

LOCAL = "192.168.1.0/24"


def harness(client_ips=(LOCAL,)) -> Harness:
    return Harness(DifferentLocalnet, cfg=config(parameters={"client_ips": list(client_ips)}))


def run(*records, client_ips=(LOCAL,)):
    return [summary(e) for e in harness(client_ips).feed(*records).evidence()]


def details(side, address, dport=80, proto="tcp", network=LOCAL) -> dict:
    return {"kind": "DifferentLocalnetDetails", "side": side, "address": address, "local_network": network,
            "dport": dport, "proto": proto, "log": "conn"}


def dst_case(saddr, daddr, count=1, **kw):
    # The private destination outside the network: HIGH, owned by it.
    return ("DIFFERENT_LOCALNET", daddr, 1, daddr, saddr, "high", 1.0, count, details("dst", daddr, **kw))


def src_case(saddr, daddr, count=1, **kw):
    # The private source outside the network: LOW, owned by it.
    return ("DIFFERENT_LOCALNET", saddr, 1, saddr, daddr, "low", 1.0, count, details("src", saddr, **kw))


@pytest.mark.parametrize(
    ("saddr", "daddr", "dport", "proto", "expected"),
    [
        ("192.168.1.1", "10.0.0.1", 80, "tcp", [dst_case("192.168.1.1", "10.0.0.1")]),
        ("192.168.1.1", "192.168.1.2", 80, "tcp", []),
        ("10.0.0.1", "192.168.1.2", 80, "tcp", [src_case("10.0.0.1", "192.168.1.2")]),
        ("8.8.8.8", "192.168.1.2", 80, "tcp", []),  # public source, local destination
        ("8.8.8.8", "10.0.0.1", 80, "tcp", [dst_case("8.8.8.8", "10.0.0.1")]),
        ("10.0.0.1", "8.8.8.8", 80, "tcp", []),  # private source to a public destination: not this path
        # Both ends outside: two evidence.
        ("10.0.0.1", "172.16.0.1", 80, "tcp", [src_case("10.0.0.1", "172.16.0.1"), dst_case("10.0.0.1", "172.16.0.1")]),
        # Exceptions: DNS over UDP (the dns.log path), IPv6, non-unicast ends.
        ("192.168.1.1", "10.0.0.53", 53, "udp", []),
        ("fd00::1", "fd00::2", 80, "tcp", []),
        ("0.0.0.0", "10.0.0.1", 67, "udp", []),
        ("192.168.1.1", "255.255.255.255", 67, "udp", []),
        ("10.0.0.1", "224.0.0.251", 5353, "udp", []),
    ],
)
def test_different_localnet(saddr, daddr, dport, proto, expected):
    assert run(conn(uid="Cln", saddr=saddr, daddr=daddr, dport=dport, proto=proto)) == expected


def test_directions_ports_and_uids():
    (evidence,) = harness().feed(conn(uid="Cln", saddr="192.168.1.1", daddr="10.0.0.1", dport=443)).evidence()
    assert (evidence.attacker.direction, evidence.victim.direction) == (Direction.DST, Direction.SRC)
    assert (evidence.uids, evidence.dst_port, evidence.proto, evidence.ts) == (["Cln"], 443, "tcp", T0)


def test_evidence_id_is_its_owners():
    # Owned by the outside address (here the destination, not the record's
    # profile): its id derives from that owner, the window and the key.
    records = [conn(uid=f"C{i}", saddr="192.168.1.1", daddr="10.0.0.1", starttime=T0 + i) for i in range(3)]
    h = harness().feed(*records)
    (evidence,) = h.evidence()
    assert evidence.count == 3 and {e.id for e in h.emitted} == {evidence.id}
    assert evidence.id == uuid_shaped("DIFFERENT_LOCALNET", "10.0.0.1", "1",
                                      repr(("dst", "10.0.0.1", "192.168.1.1", 80, "tcp")))


def test_no_local_network_known_no_evidence():
    # No client_ips, and the first source is public: nothing is learned.
    assert run(conn(saddr="8.8.8.8", daddr="10.0.0.1"), client_ips=()) == []


def test_local_network_learned_from_the_first_private_source():
    # The RFC 1918 block of the first private source: 192.168.8.1 is local, 10.0.0.1 is not.
    records = [conn(uid="C1", saddr="192.168.7.7", daddr="192.168.7.1"),
               conn(uid="C2", saddr="192.168.7.7", daddr="192.168.8.1", starttime=T0 + 1),
               conn(uid="C3", saddr="192.168.7.7", daddr="10.0.0.1", starttime=T0 + 2)]
    assert run(*records, client_ips=()) == [dst_case("192.168.7.7", "10.0.0.1", network="192.168.0.0/16")]


def test_team_subnets_and_their_resolvers_are_one_local_network():
    """WRCCDC 2018: the teams' 10.47.x.0/24 subnets and their resolvers
    10.10.x.1 are one network (10/8); a learned /24 made each other subnet,
    and the resolver, 'another network' (HIGH for DNS to 10.10.3.1)."""
    records = [conn(uid="Cdc", saddr="10.47.3.10", sport=55311, daddr="10.10.3.1", dport=53, proto="tcp",
                    starttime=T0),
               conn(uid="Cweb", saddr="10.47.3.155", sport=50122, daddr="10.47.8.200", dport=443, proto="tcp",
                    starttime=T0 + 1)]
    assert run(*records, client_ips=()) == []


def test_learned_dns_server_on_port_53_is_exempt():
    records = [dns(saddr="192.168.1.5", daddr="10.0.0.53"),  # teaches the DNS server
               conn(uid="C1", saddr="192.168.1.1", daddr="10.0.0.53", dport=53, starttime=T0 + 1),
               conn(uid="C2", saddr="192.168.1.1", daddr="10.0.0.53", dport=80, starttime=T0 + 2)]
    assert run(*records) == [dst_case("192.168.1.1", "10.0.0.53")]


def test_one_evidence_per_pair_side_and_port_growing_with_the_count():
    records = [conn(uid=f"C{i}", saddr="192.168.1.1", daddr="10.0.0.1", dport=80, starttime=T0 + i) for i in range(4)]
    records.append(conn(uid="C443", saddr="192.168.1.1", daddr="10.0.0.1", dport=443, starttime=T0 + 5))
    records.append(conn(uid="D", saddr="192.168.1.9", daddr="10.0.0.1", dport=80, starttime=T0 + 10))
    assert run(*records) == [
        # 4 connections: one level more (critical), confidence 1.
        ("DIFFERENT_LOCALNET", "10.0.0.1", 1, "10.0.0.1", "192.168.1.1", "critical", 1.0, 4,
         details("dst", "10.0.0.1")),
        dst_case("192.168.1.1", "10.0.0.1", dport=443),
        dst_case("192.168.1.9", "10.0.0.1"),
    ]


def test_zeek_write_order_gives_the_same_evidence():
    records = [conn(uid=f"C{i}", saddr="192.168.1.1", daddr="10.0.0.1", starttime=T0 + 10 + i * 30,
                    dur=2500.0 - i * 30) for i in range(5)]
    records += [conn(uid=f"S{i}", saddr="192.168.1.1", daddr="172.16.0.1", starttime=T0 + 50 + i, dur=1.0)
                for i in range(20)]
    assert sorted(run(*in_zeek_order(records))) == sorted(run(*sorted(records, key=lambda r: r.starttime)))


def test_the_learned_network_is_the_earliest_private_source_in_any_arrival_order():
    # test13's two records, 6 us apart: the long ICMP one started first but is
    # written last. The network is 10.0.0.0/8 (the earliest source's block) either way.
    first = conn(uid="Cicmp", saddr="10.0.2.2", daddr="10.0.2.15", sport=11, dport=0, proto="icmp",
                 starttime=T0, dur=93.65)
    second = conn(uid="Cudp", saddr="192.168.1.5", daddr="10.0.2.2", sport=61099, dport=5355, proto="udp",
                  starttime=T0 + 0.000006, dur=0.096)
    expected = [src_case("192.168.1.5", "10.0.2.2", dport=5355, proto="udp", network="10.0.0.0/8")]
    assert run(first, second, client_ips=()) == run(second, first, client_ips=()) == expected


def test_a_network_learned_from_dns_log_counts_too():
    records = [dns(saddr="172.16.5.5", daddr="172.16.5.1", starttime=T0),
               conn(uid="C1", saddr="192.168.1.1", daddr="172.16.5.9", starttime=T0 + 10)]
    assert run(*records, client_ips=()) == run(*reversed(records), client_ips=()) == [
        src_case("192.168.1.1", "172.16.5.9", network="172.16.0.0/12")]


def test_once_the_network_is_final_flows_are_judged_at_once():
    h = harness(client_ips=())
    h.feed(conn(uid="C0", saddr="192.168.1.1", daddr="192.168.1.2"))
    h.advance(T0 + 3600)  # the watermark passes the first source: the network is final
    h.feed(conn(uid="C1", saddr="192.168.1.1", daddr="10.0.0.1", starttime=T0 + 3000))
    assert [e.uids for e in h.so_far()] == [["C1"]]
    # An even earlier private source arriving now is beyond the allowed lateness: no change.
    h.feed(conn(uid="Cold", saddr="10.0.0.7", daddr="8.8.8.8", starttime=T0 - 10))
    assert str(h.driver.facts.local_network) == "192.168.0.0/16"


def test_flows_waiting_for_the_network_join_their_window_or_are_reported_after_it_closed():
    # A public host talks to 10.0.0.1 for two hours before any private source
    # appears; the network (192.168.0.0/16) is learned in window 3.
    records = [conn(uid=f"P{i}", saddr="8.8.8.8", daddr="10.0.0.1", starttime=T0 + i * 900) for i in range(10)]
    records.append(conn(uid="L", saddr="192.168.1.1", daddr="192.168.1.2", starttime=T0 + 7300))
    out = harness(client_ips=()).feed(*records).evidence()
    assert sorted((e.timewindow, e.count) for e in out) == [(1, 4), (2, 4), (3, 2)]
    assert {e.details.local_network for e in out} == {"192.168.0.0/16"}


def test_waiting_flows_keep_the_dns_server_exemption_per_port():
    # Before the network is final: TCP DNS to a learned DNS server is exempt, its port 80 is not.
    records = [dns(saddr="192.168.1.5", daddr="10.0.0.53", starttime=T0),
               conn(uid="C53", saddr="192.168.1.1", daddr="10.0.0.53", dport=53, starttime=T0 + 1),
               conn(uid="C80", saddr="192.168.1.1", daddr="10.0.0.53", dport=80, starttime=T0 + 2)]
    out = harness(client_ips=()).feed(*records).evidence()
    assert [(e.uids, e.details.dport) for e in out] == [(["C80"], 80)]
