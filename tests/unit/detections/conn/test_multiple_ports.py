"""CONNECTION_TO_MULTIPLE_PORTS (seed; spec 2.18, 4.14; issue 13: one evidence per destination)."""

from __future__ import annotations

import functools

import pytest

from flowalerts.detections.conn.multiple_ports import MultiplePorts, MultiplePortsDetails
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.ports import PortRegistry
from tests.harness import CLIENT, T0, Harness, config, conn, in_zeek_order, summary

DST = "1.2.3.4"


@functools.cache
def shipped_ports() -> PortRegistry:
    return PortRegistry.load_default()


def knowledge() -> Knowledge:
    k = Knowledge.empty()
    k.ports = shipped_ports()  # 80 is http; 9001-9004 are unknown
    return k


def tcp(uid, dport, daddr=DST, i=0, **kw):
    return conn(uid=uid, daddr=daddr, dport=dport, starttime=T0 + i, **kw)


def run(*records, cfg=None):
    return [(*summary(e), e.uids) for e in Harness(MultiplePorts, knowledge=knowledge(), cfg=cfg).feed(*records)
            .evidence()]


def ev(ports, uids, daddr=DST, connections=None, confidence=0.5, twid=1):
    connections = connections or len(uids)
    return ("CONNECTION_TO_MULTIPLE_PORTS", CLIENT, twid, CLIENT, daddr, "info", confidence, connections,
            {"kind": "MultiplePortsDetails", "ports": len(ports), "connections": connections, "threshold": 2,
             "port_list": list(ports)}, list(uids))


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([tcp("C1", 9001), tcp("C2", 9002, i=1)], [ev((9001, 9002), ["C1", "C2"])]),
        ([tcp("C1", 9001), tcp("C2", 9001, i=1)], []),  # one port only
        # Repeats of a port add connections and uids, not ports.
        ([tcp("C1", 9001), tcp("C2", 9002, i=1), tcp("C3", 9001, i=2)], [ev((9001, 9002), ["C1", "C2", "C3"])]),
        # 4 ports = 2 x the threshold: confidence + 0.1.
        ([tcp(f"C{p}", p, i=p) for p in (9001, 9002, 9003, 9004)],
         [ev((9001, 9002, 9003, 9004), ["C9001", "C9002", "C9003", "C9004"], confidence=0.6)]),
        ([tcp("C1", 9001), tcp("C2", 80, i=1)], []),  # 80 is a known service
        ([tcp("C1", 9001), tcp("C2", 9002, i=1, appproto="http")], []),  # Zeek found a service
        ([tcp("C1", 9001), tcp("C2", 9002, i=1, state="S0")], []),  # not established
        # Established but mid-stream: no handshake Zeek saw (issue 13).
        ([tcp("C1", 9001), tcp("C2", 9002, i=1, state="OTH", history="DadA")], []),
        ([tcp("C1", 9001), tcp("C2", 9002, i=1, state="S1", history="DTaT")], []),
        ([tcp("C1", 9001, proto="udp"), tcp("C2", 9002, i=1, proto="udp")], []),  # not TCP
        ([tcp("C1", 9001), tcp("C2", 9002, daddr="5.6.7.8", i=1)], []),  # different hosts
        ([tcp("C1", 9001, daddr="224.0.0.5"), tcp("C2", 9002, daddr="224.0.0.5", i=1)], []),  # multicast
        ([tcp("C1", 9001, daddr="127.0.0.1"), tcp("C2", 9002, daddr="127.0.0.1", i=1)], []),  # loopback
        ([tcp("C1", 9001), tcp("C2", 9002, i=3600)], []),  # different windows
        # Tracked per destination: a second host alerts too (the reference suppressed it).
        ([tcp("C1", 9001), tcp("C2", 9002, i=1), tcp("C3", 9003, i=2),
          tcp("D1", 9001, daddr="5.6.7.8", i=3), tcp("D2", 9002, daddr="5.6.7.8", i=4)],
         [ev((9001, 9002, 9003), ["C1", "C2", "C3"], confidence=0.5), ev((9001, 9002), ["D1", "D2"], "5.6.7.8")]),
    ],
)
def test_multiple_ports(records, expected):
    assert run(*records) == expected


def test_threshold_from_config():
    cfg = config(flow_alerts={"multiple_ports": {"threshold": 3}})
    assert run(tcp("C1", 9001), tcp("C2", 9002, i=1), cfg=cfg) == []
    (evidence,) = Harness(MultiplePorts, knowledge=knowledge(), cfg=cfg).feed(
        tcp("C1", 9001), tcp("C2", 9002, i=1), tcp("C3", 9003, i=2)).evidence()
    assert evidence.details == MultiplePortsDetails(ports=3, connections=3, threshold=3, port_list=[9001, 9002, 9003])


def test_reported_at_the_threshold_then_updated():
    harness = Harness(MultiplePorts, knowledge=knowledge()).feed(tcp("C1", 9001), tcp("C2", 9002, i=1))
    (early,) = harness.so_far()
    harness.feed(tcp("C3", 9003, i=2))
    (final,) = harness.evidence()
    assert early.id == final.id
    assert (early.details.ports, final.details.ports, final.uids) == (2, 3, ["C1", "C2", "C3"])


def test_zeek_write_order_gives_the_same_evidence():
    records = [tcp(f"C{i}", 9000 + i, i=i * 60, dur=2000.0 - i * 60) for i in range(5)]
    records += [tcp(f"S{i}", 80, i=100 + i) for i in range(20)]
    assert run(*in_zeek_order(records)) == run(*sorted(records, key=lambda r: r.starttime))
