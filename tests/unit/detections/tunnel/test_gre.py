"""GRE_TUNNEL and GRE_SCAN (seed "GRE tunnels", "GRE tunnel scans"; spec 2.35, 2.36, 4.28; issue 13)."""

from __future__ import annotations

import pytest

from flowalerts.detections.tunnel.gre import GreScanDetails, GreTunnel
from tests.harness import CLIENT, T0, Harness, in_zeek_order, summary, tunnel

PEER = "115.112.11.30"


def run(*records):
    return [summary(e) for e in Harness(GreTunnel).feed(*records).evidence()]


def gre_tunnel(actions, n=1):
    return ("GRE_TUNNEL", CLIENT, 1, CLIENT, PEER, "low", 1.0, n,
            {"kind": "GreTunnelDetails", "records": n, "actions": actions})


def gre_scan(destinations, n=1, level="low", confidence=1.0):
    victim = destinations[0] if len(destinations) == 1 else None
    return ("GRE_SCAN", CLIENT, 1, CLIENT, victim, level, confidence, n,
            {"kind": "GreScanDetails", "discoveries": n, "destinations": destinations,
             "distinct_destinations": len(destinations)})


@pytest.mark.parametrize(
    ("tunnel_type", "action", "result"),
    [
        ("Tunnel::GRE", "Tunnel::CLOSE", [gre_tunnel(["Tunnel::CLOSE"])]),
        ("Tunnel::GRE", "Tunnel::EXPIRE", [gre_tunnel(["Tunnel::EXPIRE"])]),
        ("Tunnel::GRE", "TUNNEL", [gre_tunnel(["TUNNEL"])]),
        ("Tunnel::IP", "TUNNEL", []),
        ("Invalid", "TUNNEL", []),
        ("Tunnel::GRE", "Tunnel::DISCOVER", [gre_scan([PEER])]),
        ("Tunnel::IP", "Tunnel::DISCOVER", []),
        ("Tunnel::Teredo", "Tunnel::DISCOVER", []),
    ],
)
def test_records(tunnel_type, action, result):
    assert run(tunnel(tunnel_type=tunnel_type, action=action, daddr=PEER)) == result


def test_test14_one_tunnel_gives_a_scan_and_a_tunnel():
    records = [tunnel(starttime=T0, uid="Ce7D", daddr=PEER, action="Tunnel::DISCOVER"),
               tunnel(starttime=T0 + 0.000001, uid="CC2H", daddr=PEER, action="Tunnel::EXPIRE")]
    assert run(*records) == [gre_scan([PEER]), gre_tunnel(["Tunnel::EXPIRE"])]


def test_a_sweep_is_one_scan_growing_with_the_destinations():
    records = [tunnel(starttime=T0 + i, uid=f"C{i:02d}", daddr=f"198.51.100.{i}", action="Tunnel::DISCOVER")
               for i in range(1, 17)]
    records.append(tunnel(starttime=T0 + 20, uid="C20", daddr="198.51.100.1", action="Tunnel::DISCOVER"))
    destinations = [f"198.51.100.{i}" for i in range(1, 17)]
    assert run(*records) == [gre_scan(destinations, n=17, level="high", confidence=1.0)]
    (evidence,) = Harness(GreTunnel).feed(*records).evidence()
    assert evidence.details == GreScanDetails(discoveries=17, destinations=destinations, distinct_destinations=16)
    assert (evidence.occurrences, len(evidence.uids)) == (17, 17)


def test_tunnels_per_endpoint_and_window():
    records = [tunnel(starttime=T0, uid="A", daddr=PEER, action="Tunnel::CLOSE"),
               tunnel(starttime=T0 + 1, uid="B", daddr=PEER, action="Tunnel::EXPIRE"),
               tunnel(starttime=T0 + 2, uid="C", daddr="198.51.100.7", action="Tunnel::CLOSE"),
               tunnel(starttime=T0 + 3600, uid="D", daddr=PEER, action="Tunnel::CLOSE")]
    got = [(e.victim.value, e.timewindow, e.count, e.uids, e.details.actions)
           for e in Harness(GreTunnel).feed(*records).evidence()]
    assert got == [(PEER, 1, 2, ["A", "B"], ["Tunnel::CLOSE", "Tunnel::EXPIRE"]),
                   ("198.51.100.7", 1, 1, ["C"], ["Tunnel::CLOSE"]),
                   (PEER, 2, 1, ["D"], ["Tunnel::CLOSE"])]


def test_any_order_gives_the_same_evidence():
    records = [tunnel(starttime=T0 + i, uid=f"C{i}", daddr=f"198.51.100.{i % 3}", action="Tunnel::DISCOVER")
               for i in range(6)]
    assert sorted(run(*records), key=repr) == sorted(run(*reversed(records)), key=repr) == sorted(
        run(*in_zeek_order(records)), key=repr)
