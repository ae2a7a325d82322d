"""UNKNOWN_PORT (seed "Connection to unknown ports"; spec 2.5, 4.5; issue 13: mid-stream, LAN chatter,
device ports, one evidence per (IP, port, proto))."""

from __future__ import annotations

import functools

import pytest

from flowalerts.detections.conn.unknown_port import UnknownPort, UnknownPortDetails
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from flowalerts.knowledge.ports import PortRegistry
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn, dns, in_zeek_order, notice, ssl, summary

LAN_PEER = "192.168.1.20"


@functools.cache
def shipped_ports() -> PortRegistry:
    return PortRegistry.load_default()


def knowledge() -> Knowledge:
    k = Knowledge.empty()
    k.ports = shipped_ports()
    k.orgs = Organizations(ranges={"apple": ["17.0.0.0/8"]}, domains={"apple": ["apple.com"]})
    return k


def run(*records, cfg=None):
    return [summary(e) for e in Harness(UnknownPort, knowledge=knowledge(), cfg=cfg).feed(*records).evidence()]


def ev(daddr=SERVER, dport=12345, proto="tcp", level=None, count=1, established=None, confidence=1.0,
       saddr=CLIENT, twid=1):
    # "Established" is a TCP handshake: UDP (request and answer: Zeek's SF) never is (issue 21).
    tcp = proto == "tcp"
    level = level or ("high" if tcp else "medium")
    established = (count if tcp else 0) if established is None else established
    return ("UNKNOWN_PORT", saddr, twid, saddr, daddr, level, confidence, count,
            {"kind": "UnknownPortDetails", "dport": dport, "proto": proto, "connections": count,
             "established": established})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (conn(dport=12345), [ev()]),
        (conn(daddr=LAN_PEER, dport=56789, proto="udp", sport=40000), [ev(LAN_PEER, 56789, "udp")]),
        (conn(dport=12345, state="S0", history="S"), [ev(level="medium", established=0)]),
        (conn(dport=12345, state="REJ", history="Sr"), [ev(level="medium", established=0)]),
        (conn(dport=80), []),  # a known service
        (conn(dport=53, proto="UDP"), []),  # the transport compared in lower case
        (conn(dport=0), []),  # port 0 is its own detection
        (conn(dport=3, proto="icmp", state="OTH", history=""), []),
        # Mid-stream (issue 13): no handshake Zeek saw, so not "established".
        (conn(dport=12345, state="OTH", history="DadA"), [ev(level="medium", established=0)]),
        (conn(dport=12345, state="S1", history="DTaT"), [ev(level="medium", established=0)]),
        (conn(dport=12345, state="SF", history="^hADadFf"), [ev(level="medium", established=0)]),
        (conn(dport=12345, state="SF", history=""), [ev()]),  # no history logged: judged by the state
        # Organisations: a row with a network (Apple 2195/tcp on 17.0.0.0/8) ...
        (conn(daddr="17.57.144.10", dport=2195), []),
        (conn(daddr="8.8.8.8", dport=2195), [ev("8.8.8.8", 2195)]),
        # ... and a row without one (Apple 16384/udp): the destination must be Apple's.
        (conn(daddr="17.57.144.10", dport=16384, proto="udp"), []),
        (conn(daddr="8.8.8.8", dport=16384, proto="udp"), [ev("8.8.8.8", 16384, "udp")]),
    ],
)
def test_unknown_port(record, expected):
    assert run(record) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # LAN chatter: UDP between local hosts, both ports dynamic.
        (conn(daddr=LAN_PEER, sport=50000, dport=50001, proto="udp"), []),
        (conn(saddr="fd00::2", daddr="fd00::3", sport=55000, dport=60000, proto="udp"), []),  # ULA
        (conn(saddr="fe80::2", daddr="fe80::3", sport=55000, dport=60000, proto="udp"), []),  # link-local
        # ... but not TCP, not a public peer, not a low source port.
        (conn(daddr=LAN_PEER, sport=50000, dport=50001), [ev(LAN_PEER, 50001)]),
        (conn(daddr="93.184.216.35", sport=50000, dport=50001, proto="udp"),  # a P2P candidate, reported at close
         [ev("93.184.216.35", 50001, "udp")]),
        (conn(daddr=LAN_PEER, sport=40000, dport=50001, proto="udp"), [ev(LAN_PEER, 50001, "udp")]),
        # Discovery replies: from SSDP, mDNS, WS-Discovery, LLMNR, NetBIOS to the querier's port.
        (conn(daddr=LAN_PEER, sport=1900, dport=41234, proto="udp"), []),
        (conn(daddr=LAN_PEER, sport=5353, dport=41234, proto="udp"), []),
        (conn(daddr=LAN_PEER, sport=3702, dport=41234, proto="udp"), []),
        (conn(daddr=LAN_PEER, sport=5355, dport=41234, proto="udp"), []),
        (conn(daddr=LAN_PEER, sport=137, dport=41234, proto="udp"), []),
        (conn(daddr=LAN_PEER, sport=138, dport=41234, proto="udp"), []),
        (conn(daddr="93.184.216.35", sport=1900, dport=41234, proto="udp"), [ev("93.184.216.35", 41234, "udp")]),
        # Announcements to the whole segment (test10: Dropbox LAN sync, Syncthing, MikroTik discovery).
        (conn(saddr="147.32.83.55", daddr="255.255.255.255", sport=17500, dport=17500, proto="udp"), []),
        (conn(saddr="147.32.83.55", daddr="147.32.83.255", sport=17500, dport=17500, proto="udp"), []),
        (conn(saddr="147.32.83.50", daddr="147.32.83.255", sport=21027, dport=21027, proto="udp"), []),
        (conn(daddr="239.255.255.250", sport=40000, dport=12345, proto="udp"), []),  # multicast
        (conn(daddr="ff02::1:3", sport=40000, dport=12345, proto="udp"), []),
        # ... but x.y.z.255 of another /24 is a host like any other.
        (conn(saddr="147.32.83.55", daddr="147.32.84.255", sport=17500, dport=17500, proto="udp"),
         [ev("147.32.84.255", 17500, "udp", saddr="147.32.83.55")]),
        # Service ports of home and office devices on the LAN ...
        (conn(daddr=LAN_PEER, dport=8009), []),  # Google Cast
        (conn(daddr=LAN_PEER, dport=8008), []),
        (conn(daddr=LAN_PEER, dport=7100), []),  # AirPlay mirroring
        (conn(daddr=LAN_PEER, dport=57621), []),  # Spotify Connect (tcp)
        (conn(daddr=LAN_PEER, dport=1400), []),  # Sonos
        (conn(daddr=LAN_PEER, dport=9100), []),  # raw printing
        (conn(daddr=LAN_PEER, dport=62078), []),  # Apple device sync
        # ... but not on a public host.
        (conn(daddr="93.184.216.35", dport=8009), [ev("93.184.216.35", 8009)]),
        (conn(daddr="93.184.216.35", dport=9100), [ev("93.184.216.35", 9100)]),
    ],
)
def test_lan_chatter_and_devices_are_not_unknown(record, expected):
    assert run(record) == expected


@pytest.mark.parametrize(
    "name_source",
    [
        ssl(server_name="courier.push.apple.com"),  # SNI
        dns(query="34.216.184.93.in-addr.arpa", qtype_name="PTR", answers=["x.apple.com"]),  # rDNS
        dns(query="courier.push.apple.com", answers=[SERVER]),  # a name it was resolved from
    ],
)
def test_org_port_by_the_names_of_the_ip(name_source):
    assert run(name_source, conn(dport=16384, proto="udp", starttime=T0 + 1)) == []
    assert run(conn(dport=16384, proto="udp", starttime=T0 + 1)) == [ev(dport=16384, proto="udp")]


def test_one_evidence_per_destination_port_and_proto_growing_with_the_count():
    records = [conn(uid=f"C{i}", dport=12345, starttime=T0 + i, state="S0" if i % 2 else "SF") for i in range(4)]
    records += [conn(uid="U", dport=12345, proto="udp", sport=40000, starttime=T0 + 10, history="Dd"),
                conn(uid="O", daddr="93.184.216.35", dport=12345, starttime=T0 + 11),
                conn(uid="N", dport=12345, starttime=T0 + 3601)]
    out = Harness(UnknownPort, knowledge=knowledge()).feed(*records).evidence()
    assert [summary(e) for e in out] == [
        # 4 connections, 2 of them established: HIGH, one level more for x4.
        ev(count=4, established=2, level="critical"),
        ev("93.184.216.35"),
        ev(twid=2),
        # UDP: never "established", so held like attempts to its window's close.
        ev(dport=12345, proto="udp"),
    ]
    assert (out[0].uids, out[0].occurrences, out[0].dst_port, out[0].proto) == (
        ["C0", "C1", "C2", "C3"], 4, 12345, "tcp")


def test_p2p_is_a_property_of_the_whole_window():
    # 4 high-UDP destinations: reported (at window close) ...
    four = [conn(uid=f"P{i}", daddr=f"93.184.216.{i + 1}", dport=40000, proto="udp", sport=5000, starttime=T0 + i)
            for i in range(4)]
    assert [e[4] for e in run(*four)] == [f"93.184.216.{i + 1}" for i in range(4)]
    # ... 5 make the whole window peer-to-peer, whatever their order.
    five = [*four, conn(uid="P4", daddr="93.184.216.5", dport=40000, proto="udp", sport=5000, starttime=T0 + 4)]
    assert run(*five) == run(*reversed(five)) == []
    # 6 flows to one destination make it peer-to-peer; 5 do not.
    assert run(*[conn(uid=f"Q{i}", dport=40000 + i, proto="udp", sport=5000, starttime=T0 + i) for i in range(6)]) == []
    assert len(run(*[conn(uid=f"Q{i}", dport=40000 + i, proto="udp", sport=5000, starttime=T0 + i)
                     for i in range(5)])) == 5
    # Another profile, another window, low UDP ports and TCP are not affected.
    other = [conn(uid="R", saddr="192.168.1.11", daddr="93.184.216.9", dport=40000, proto="udp", starttime=T0 + 9),
             conn(uid="L", dport=3000, proto="udp", starttime=T0 + 10),
             conn(uid="T", dport=40000, starttime=T0 + 11)]
    assert sorted(e[4:8] for e in run(*five, *other)) == [
        ("93.184.216.34", "high", 1.0, 1), ("93.184.216.34", "medium", 1.0, 1), ("93.184.216.9", "medium", 1.0, 1)]


def test_p2p_thresholds_from_config():
    cfg = config(flow_alerts={"unknown_port": {"p2p_destinations": 2}})
    records = [conn(uid=f"P{i}", daddr=f"93.184.216.{i + 1}", dport=40000, proto="udp", starttime=T0 + i)
               for i in range(2)]
    assert run(*records, cfg=cfg) == []


def test_details_type():
    (evidence,) = Harness(UnknownPort, knowledge=knowledge()).feed(conn(uid="Cu", dport=12345)).evidence()
    assert evidence.details == UnknownPortDetails(dport=12345, proto="tcp", connections=1, established=1)
    assert (evidence.uids, evidence.ts, evidence.src_port) == (["Cu"], T0, None)


def test_zeek_write_order_gives_the_same_evidence():
    records = [conn(uid=f"C{i}", dport=12345, starttime=T0 + i * 60, dur=3000.0 - i * 60) for i in range(4)]
    records += [conn(uid=f"P{i}", daddr=f"93.184.216.{i + 1}", dport=40000, proto="udp", starttime=T0 + 30 + i,
                     dur=2000.0 if i == 0 else 1.0) for i in range(5)]
    records += [conn(uid=f"S{i}", dport=443, starttime=T0 + 100 + i) for i in range(30)]
    zeek = run(*in_zeek_order(records))
    assert sorted(zeek) == sorted(run(*sorted(records, key=lambda r: r.starttime)))
    assert zeek == [ev(count=4, level="critical")]


def scan(n=3, start=T0, state="REJ", history="Sr"):
    return [conn(uid=f"V{i}", daddr="45.33.32.156", dport=12000 + i, state=state, history=history,
                 starttime=start + i) for i in range(n)]


@pytest.mark.parametrize(
    ("notice_at", "note", "suppressed"),
    [
        (T0 + 10, "Scan::Port_Scan", True),
        (T0 + 300, "Scan::Port_Scan", True),  # up to scan_wait after the attempt
        (T0 + 301, "Scan::Port_Scan", False),
        (T0 - 3000, "Scan::Address_Scan", True),  # within a window before it
        (T0 - 3601, "Scan::Address_Scan", False),
        (T0 + 10, "SSL::Invalid_Server_Cert", False),
        (None, None, False),
    ],
)
def test_attempts_of_a_port_scanner_zeek_reported_are_not_unknown_ports(notice_at, note, suppressed):
    records = [conn(uid="C0", daddr="192.168.1.1", dport=80, starttime=T0 - 3601), *scan(1)]
    if notice_at is not None:
        records.append(notice(starttime=notice_at, note=note, scanning_ip=CLIENT, saddr=""))
    out = [e for e in run(*sorted(records, key=lambda r: r.starttime)) if e[4] == "45.33.32.156"]
    assert len(out) == (0 if suppressed else 1)


def test_a_scanner_s_established_connection_is_still_reported_at_once():
    records = [*scan(), notice(starttime=T0 + 10, scanning_ip=CLIENT, saddr=""),
               conn(uid="Open", daddr="45.33.32.156", dport=31337, starttime=T0 + 20)]
    harness = Harness(UnknownPort, knowledge=knowledge()).feed(*records)
    assert [e.uids for e in harness.so_far()] == [["Open"]]
    assert [e.uids for e in harness.evidence()] == [["Open"]]


def test_attempts_are_reported_when_their_window_closes():
    harness = Harness(UnknownPort, knowledge=knowledge()).feed(*scan(1))
    assert harness.so_far() == []
    assert [e.uids for e in harness.evidence()] == [["V0"]]


def test_a_udp_request_and_its_answer_is_not_an_established_connection():
    """Issue 21: ESET's lookups on 53535/udp (a capture kept aside) were HIGH
    as if a TCP handshake had been seen. The record has the shape Zeek gives
    any answered UDP exchange: conn_state SF, history Dd, one packet each way
    (the shared captures have no such record, so its addresses are ours)."""
    record = conn(uid="CeSeT1", sport=61942, daddr=SERVER, dport=53535, proto="udp", appproto="", dur=0.02,
                  sbytes=64, dbytes=64, state="SF", history="Dd", spkts=1, dpkts=1)
    assert run(record) == [ev(SERVER, 53535, "udp")]
    assert ev(SERVER, 53535, "udp")[5:] == ("medium", 1.0, 1, {
        "kind": "UnknownPortDetails", "dport": 53535, "proto": "udp", "connections": 1, "established": 0})


@pytest.mark.parametrize(("port", "proto"), [(444, "tcp"), (444, "udp"), (546, "tcp"), (547, "tcp"), (1720, "tcp")])
def test_ports_iana_registers_are_known(port, proto):
    assert run(conn(dport=port, proto=proto)) == []
