"""CONNECTION_TO_PRIVATE_IP (spec 2.30, 4.24, seed exemptions)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, conn, dhcp


@pytest.mark.parametrize(
    ("saddr", "daddr", "dport", "proto", "fires"),
    [
        ("192.168.1.1", "192.168.1.2", 80, "tcp", True),
        ("10.0.0.5", "172.16.3.4", 8080, "tcp", True),
        ("fd00::5", "fd00::9", 22, "tcp", True),  # ULA
        ("192.168.1.2", "192.168.1.1", 0, "icmp", True),
        ("192.168.1.1", "8.8.8.8", 80, "tcp", False),  # public destination
        ("8.8.8.8", "192.168.1.1", 80, "tcp", False),  # public source
        ("192.168.1.2", "192.168.1.1", 53, "udp", False),  # DNS
        ("192.168.1.2", "10.0.0.53", 53, "tcp", False),  # DNS on 53 generally
        ("fd00::5", "fd00::1", 547, "udp", False),  # DHCPv6
        ("fd00::1", "fd00::5", 546, "udp", False),  # DHCPv6
        ("0.0.0.0", "255.255.255.255", 67, "udp", False),  # DHCP discovery: not RFC 1918
        ("127.0.0.1", "127.0.0.1", 80, "tcp", False),  # loopback is not "private"
        ("169.254.1.1", "169.254.1.2", 80, "tcp", False),  # link-local
        ("192.168.1.2", "192.168.1.1", 67, "udp", True),  # DHCP to a host that is not a known DHCP server
    ],
)
def test_private_ip(saddr, daddr, dport, proto, fires):
    pipe = Pipeline()
    out = pipe.of_type("CONNECTION_TO_PRIVATE_IP",
                       pipe.feed(conn(uid="Cpriv", saddr=saddr, daddr=daddr, dport=dport, proto=proto)))
    if not fires:
        assert out == []
        return
    (ev,) = out
    assert (ev.attacker.direction, ev.attacker.value) == (Direction.SRC, saddr)
    assert (ev.victim.direction, ev.victim.value) == (Direction.DST, daddr)
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
        ThreatLevel.INFO, 1.0, saddr, 1, ["Cpriv"])


@pytest.mark.parametrize("dport", [67, 68])
def test_dhcp_to_learned_dhcp_server_exempt(dport):
    pipe = Pipeline()
    pipe.feed(dhcp(daddr="192.168.1.1"))
    out = pipe.feed(conn(saddr="192.168.1.2", daddr="192.168.1.1", dport=dport, proto="udp", starttime=T0 + 1))
    assert pipe.of_type("CONNECTION_TO_PRIVATE_IP", out) == []


def test_private_ip_dedup_per_destination_and_port():
    pipe = Pipeline()
    pipe.feed(conn(uid="C1", saddr="192.168.1.1", daddr="192.168.1.2", dport=80),
              conn(uid="C2", saddr="192.168.1.1", daddr="192.168.1.2", dport=80, starttime=T0 + 1),
              conn(uid="C3", saddr="192.168.1.1", daddr="192.168.1.2", dport=443, starttime=T0 + 2))
    assert [(e.uids, e.dst_port) for e in pipe.of_type("CONNECTION_TO_PRIVATE_IP")] == [(["C1"], 80), (["C3"], 443)]
