"""PORT_0_CONNECTION (seed "Connections to port 0"; spec 2.11, 4.9; issue 13: one evidence per pair)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import Direction
from flowalerts.detections.conn.port_zero import PortZero, PortZeroDetails
from tests.harness import CLIENT, SERVER, T0, Harness, conn, in_zeek_order, summary


def details(connections=1, zero_side="source", peer_ports=(80,), protos=("tcp",)) -> dict:
    return {"kind": "PortZeroDetails", "connections": connections, "zero_side": zero_side,
            "peer_ports": list(peer_ports), "protos": list(protos)}


def run(*records):
    return [summary(e) for e in Harness(PortZero).feed(*records).evidence()]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # Source port 0: the source crafted it (attacker SRC, profile = attacker).
        (conn(sport=0, dport=80), [("PORT_0_CONNECTION", CLIENT, 1, CLIENT, SERVER, "high", 0.8, 1, details())]),
        # Destination port 0: the destination is the port-0 side (attacker DST, profile = victim).
        (conn(sport=40000, dport=0),
         [("PORT_0_CONNECTION", CLIENT, 1, SERVER, CLIENT, "high", 0.8, 1,
           details(zero_side="destination", peer_ports=(40000,)))]),
        (conn(sport=5353, dport=0, proto="udp"),
         [("PORT_0_CONNECTION", CLIENT, 1, SERVER, CLIENT, "high", 0.8, 1,
           details(zero_side="destination", peer_ports=(5353,), protos=("udp",)))]),
        # Both 0.
        (conn(sport=0, dport=0), [("PORT_0_CONNECTION", CLIENT, 1, CLIENT, SERVER, "high", 0.8, 1,
                                   details(peer_ports=(0,)))]),
        (conn(sport=80, dport=80), []),
        # Exceptions: transports without ports, multicast destinations.
        (conn(sport=0, dport=0, proto="igmp"), []),
        (conn(sport=0, dport=0, proto="icmp"), []),
        (conn(sport=0, dport=0, proto="ipv6-icmp"), []),
        (conn(sport=0, dport=0, proto=""), []),  # Zeek's unknown_transport (ESP, GRE ...)
        (conn(sport=0, dport=80, proto="udp", daddr="224.0.0.251"), []),
        (conn(sport=0, dport=80, proto="udp", daddr="ff02::fb"), []),
    ],
)
def test_port_zero(record, expected):
    assert run(record) == expected


def test_directions_and_fields():
    (evidence,) = Harness(PortZero).feed(conn(uid="Cp0", sport=40000, dport=0)).evidence()
    assert (evidence.attacker.direction, evidence.victim.direction) == (Direction.DST, Direction.SRC)
    assert (evidence.uids, evidence.src_port, evidence.dst_port, evidence.proto, evidence.ts) == (
        ["Cp0"], 40000, 0, "tcp", T0)


def test_one_evidence_per_pair_and_window_growing_with_the_count():
    records = [conn(uid=f"C{i:02d}", sport=0, dport=80 + i % 2, starttime=T0 + i) for i in range(16)]
    records += [conn(uid="Cother", sport=0, dport=80, daddr="198.51.100.7", starttime=T0 + 20)]
    records += [conn(uid="Cnext", sport=0, dport=80, starttime=T0 + 3600)]
    assert run(*records) == [
        # 16 = threshold x 16: two levels more (critical), confidence + 0.4.
        ("PORT_0_CONNECTION", CLIENT, 1, CLIENT, SERVER, "critical", 1.0, 16,
         details(connections=16, peer_ports=(80, 81))),
        ("PORT_0_CONNECTION", CLIENT, 1, CLIENT, "198.51.100.7", "high", 0.8, 1, details()),
        ("PORT_0_CONNECTION", CLIENT, 2, CLIENT, SERVER, "high", 0.8, 1, details()),
    ]
    (first, *_) = Harness(PortZero).feed(*records).evidence()
    assert (first.uids, first.occurrences) == ([f"C{i:02d}" for i in range(16)], 16)


def test_reported_at_once_then_updated_with_the_same_id():
    harness = Harness(PortZero).feed(conn(uid="C1", sport=0), conn(uid="C2", sport=0, starttime=T0 + 5))
    (early,) = harness.so_far()
    (final,) = harness.evidence()
    assert early.id == final.id and (early.count, final.count, final.uids) == (1, 2, ["C1", "C2"])
    assert final.details == PortZeroDetails(connections=2, zero_side="source", peer_ports=[80], protos=["tcp"])


def test_zeek_write_order_gives_the_same_evidence():
    records = [conn(uid=f"C{i}", sport=0, starttime=T0 + i * 100, dur=3000.0 - i * 100) for i in range(5)]
    records += [conn(uid=f"S{i}", starttime=T0 + 600 + i, dur=1.0) for i in range(50)]
    assert sorted(run(*in_zeek_order(records))) == sorted(run(*sorted(records, key=lambda r: r.starttime)))
    assert run(*in_zeek_order(records))[0][7] == 5
