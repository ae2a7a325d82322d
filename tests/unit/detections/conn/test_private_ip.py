"""CONNECTION_TO_PRIVATE_IP (seed "Connection to private IPs"; spec 2.30, 4.24; issue 13: one per pair)."""

from __future__ import annotations

import pytest

from flowalerts.detections.conn.private_ip import ConnectionToPrivateIp, PrivateIpDetails
from tests.harness import T0, Harness, conn, in_zeek_order, summary


def details(connections=1, dports=(80,), protos=("tcp",)) -> dict:
    return {"kind": "PrivateIpDetails", "connections": connections, "dports": list(dports), "protos": list(protos)}


def run(*records):
    return [summary(e) for e in Harness(ConnectionToPrivateIp).feed(*records).evidence()]


def ev(saddr, daddr, d=None, count=1, twid=1):
    return ("CONNECTION_TO_PRIVATE_IP", saddr, twid, saddr, daddr, "info", 1.0, count, d or details())


@pytest.mark.parametrize(
    ("saddr", "daddr", "dport", "proto", "expected"),
    [
        ("192.168.1.1", "192.168.1.2", 80, "tcp", [ev("192.168.1.1", "192.168.1.2")]),
        ("10.0.0.5", "172.16.3.4", 8080, "tcp", [ev("10.0.0.5", "172.16.3.4", details(dports=(8080,)))]),
        ("fd00::5", "fd00::9", 22, "tcp", [ev("fd00::5", "fd00::9", details(dports=(22,)))]),  # ULA
        ("192.168.1.2", "192.168.1.1", 0, "icmp", [ev("192.168.1.2", "192.168.1.1", details(dports=(0,),
                                                                                             protos=("icmp",)))]),
        ("192.168.1.1", "8.8.8.8", 80, "tcp", []),  # public destination
        ("8.8.8.8", "192.168.1.1", 80, "tcp", []),  # public source
        # Exceptions (seed): DNS on 53, DHCPv6.
        ("192.168.1.2", "192.168.1.1", 53, "udp", []),
        ("192.168.1.2", "10.0.0.53", 53, "tcp", []),
        ("fd00::5", "fd00::1", 547, "udp", []),
        ("fd00::1", "fd00::5", 546, "udp", []),
        # Not "private" (RFC 1918/ULA only): DHCP discovery, loopback, link-local.
        ("0.0.0.0", "255.255.255.255", 67, "udp", []),
        ("127.0.0.1", "127.0.0.1", 80, "tcp", []),
        ("169.254.1.1", "169.254.1.2", 80, "tcp", []),
        # Broadcasts to the segment (test9: NetBIOS to 10.0.2.255); x.y.z.255 of another /24 is a host.
        ("10.0.2.15", "10.0.2.255", 137, "udp", []),
        ("10.0.2.15", "10.0.3.255", 137, "udp", [ev("10.0.2.15", "10.0.3.255", details(dports=(137,),
                                                                                       protos=("udp",)))]),
        # DHCP (UDP between 67 and 68) is exempt; another source port to 67 is not DHCP.
        ("192.168.1.2", "192.168.1.1", 67, "udp", []),
        ("192.168.1.2", "192.168.1.1", 67, "tcp", [ev("192.168.1.2", "192.168.1.1", details(dports=(67,)))]),
    ],
)
def test_private_ip(saddr, daddr, dport, proto, expected):
    sport = 68 if dport == 67 else 67 if dport == 68 else 50000
    assert run(conn(saddr=saddr, daddr=daddr, sport=sport, dport=dport, proto=proto)) == expected


@pytest.mark.parametrize(("sport", "dport", "exempt"), [(68, 67, True), (67, 68, True), (67, 67, True),
                                                         (40000, 67, False), (40000, 68, False)])
def test_dhcp_is_recognised_by_its_ports(sport, dport, exempt):
    out = run(conn(saddr="192.168.1.2", daddr="192.168.1.1", sport=sport, dport=dport, proto="udp"))
    assert (out == []) is exempt


def test_one_evidence_per_pair_and_window_staying_info():
    records = [conn(uid=f"C{i}", saddr="192.168.1.1", daddr="192.168.1.2", dport=80 + i % 3, starttime=T0 + i)
               for i in range(30)]
    records.append(conn(uid="D", saddr="192.168.1.1", daddr="192.168.1.3", dport=445, starttime=T0 + 40))
    out = Harness(ConnectionToPrivateIp).feed(*records).evidence()
    assert [summary(e) for e in out] == [
        ev("192.168.1.1", "192.168.1.2", details(30, (80, 81, 82)), count=30),
        ev("192.168.1.1", "192.168.1.3", details(dports=(445,))),
    ]
    assert out[0].uids == sorted(f"C{i}" for i in range(30))
    assert out[0].details == PrivateIpDetails(connections=30, dports=[80, 81, 82], protos=["tcp"])


def test_zeek_write_order_gives_the_same_evidence():
    records = [conn(uid=f"C{i}", saddr="10.0.0.2", daddr="10.0.0.9", dport=445, starttime=T0 + i * 30,
                    dur=2000.0 - i * 30) for i in range(6)]
    records += [conn(uid=f"S{i}", saddr="10.0.0.2", daddr="10.0.0.10", dport=139, starttime=T0 + 50 + i, dur=1.0)
                for i in range(30)]
    assert sorted(run(*in_zeek_order(records))) == sorted(run(*sorted(records, key=lambda r: r.starttime)))
