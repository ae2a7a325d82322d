"""CONNECTION_WITHOUT_DNS (seed; spec 2.3, 4.3; issue 12: decided by the timer service;
issue 13: one evidence per destination)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import Direction
from flowalerts.detections.conn.connection_without_dns import (
    ConnectionWithoutDns,
    ConnectionWithoutDnsDetails,
)
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from flowalerts.knowledge.whitelist import Whitelist
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn, dhcp, dns, in_zeek_order, ssl, summary

WHITELIST = '''"IoCType","IoCValue","Direction","IgnoreType"
"domain","example.org","dst","alerts"
"ip","203.0.113.9","dst","alerts"
"domain","flows-only.example","dst","flows"
'''


def knowledge() -> Knowledge:
    k = Knowledge.empty()
    k.orgs = Organizations(ranges={"google": ["8.8.8.0/24"], "microsoft": ["20.0.0.0/8"]},
                           domains={"facebook": ["facebook.com"], "twitter": ["twitter.com"], "apple": ["apple.com"]})
    k.whitelist = Whitelist.from_text(WHITELIST, orgs=k.orgs)
    return k


def harness(cfg=None, **kw) -> Harness:
    return Harness(ConnectionWithoutDns, knowledge=knowledge(), cfg=cfg, **kw)


def run(*records, cfg=None):
    return [summary(e) for e in harness(cfg).feed(*records).evidence()]


def details(connections=1, dports=(80,)) -> dict:
    return {"kind": "ConnectionWithoutDnsDetails", "connections": connections, "dports": list(dports),
            "lookback": 86400.0, "grace": 30.0}


def ev(daddr=SERVER, count=1, confidence=0.8, twid=1, profile=CLIENT, **kw):
    return ("CONNECTION_WITHOUT_DNS", profile, twid, profile, daddr, "info", confidence, count,
            details(connections=count, **kw))


def resolution(ts, query="example.com", answers=(SERVER,), client="192.168.1.99"):
    return dns(uid=f"D{ts}", saddr=client, starttime=ts, query=query, answers=list(answers))


def test_positive_shape():
    (evidence,) = harness().feed(conn(uid="Cnd", dport=8080)).evidence()
    assert summary(evidence) == ev(dports=(8080,))
    assert (evidence.attacker.direction, evidence.victim.direction) == (Direction.SRC, Direction.DST)
    assert (evidence.uids, evidence.dst_port, evidence.ts) == (["Cnd"], 8080, T0)


@pytest.mark.parametrize(
    ("records", "cfg"),
    [
        ([conn(daddr="8.8.4.4", dport=53, appproto="dns")], None),
        ([conn(appproto="dns")], None),
        ([conn(appproto="icmp")], None),
        ([conn(daddr="192.168.1.1")], None),  # private
        ([conn(daddr="10.0.0.1")], None),
        ([conn(daddr="127.0.0.1")], None),  # loopback
        ([conn(daddr="169.254.3.3")], None),  # link-local
        ([conn(daddr="fe80::1")], None),  # IPv6 link-local
        ([conn(daddr="224.0.0.251")], None),  # multicast
        ([conn(daddr="255.255.255.255")], None),  # broadcast / reserved
        ([conn(daddr="240.0.0.1")], None),  # reserved
        ([conn()], config(parameters={"client_ips": [SERVER]})),  # client_ips: IP
        ([conn()], config(parameters={"client_ips": ["93.184.216.0/24"]})),  # client_ips: CIDR
        ([ssl(is_DoH=True, server_name="resolver.example"), conn(starttime=T0 + 1)], None),  # DoH server
        ([dhcp(daddr=SERVER), conn(starttime=T0 + 1)], None),  # DHCP server
        ([conn(daddr="8.8.8.8")], None),  # Google by IP range
        ([conn(daddr="20.1.2.3")], None),  # Microsoft by IP range
        ([ssl(server_name="www.facebook.com", dport=443), conn(starttime=T0 + 1)], None),  # org by SNI
        ([dns(query="34.216.184.93.in-addr.arpa", qtype_name="PTR", answers=["edge.twitter.com"]),
          conn(starttime=T0 + 1)], None),  # org by rDNS
        # Resolved long ago (older than the lookback, still remembered: 25 h) to an org domain, or to a
        # whitelisted one.
        ([resolution(T0 - 87000, "cdn.apple.com"), conn()], None),
        ([resolution(T0 - 87000, "www.example.org"), conn()], None),
        ([conn(daddr="203.0.113.9")], None),  # whitelisted IP
        # Broadcast of the source's own /24, even of a public network (test10: LAN sync announcements).
        ([conn(saddr="147.32.83.55", daddr="147.32.83.255", sport=17500, dport=17500, proto="udp")], None),
        # Mid-stream (issue 13): started before the capture, and so did its DNS answer.
        ([conn(state="OTH", history="Aa", dport=443)], None),
        ([conn(state="S1", history="DdAa", dport=443)], None),
    ],
)
def test_exemptions(records, cfg):
    assert run(*records, cfg=cfg) == []


def test_an_attempt_zeek_saw_is_judged_whatever_its_history():
    # test14: REJ with history "D" (the attempt was seen and rejected).
    assert run(conn(state="REJ", history="D", dport=547)) == [ev(dports=(547,))]


def test_broadcast_of_another_segment_and_udp_without_handshake_are_judged():
    assert run(conn(saddr="147.32.83.55", daddr="147.32.84.255", dport=17500, proto="udp")) == [
        ev("147.32.84.255", profile="147.32.83.55", dports=(17500,))]
    assert run(conn(proto="udp", state="SF", history="Dd", dport=4500)) == [ev(dports=(4500,))]


def test_whitelist_for_flows_only_does_not_exempt():
    # (The earliest record starts window 1: the connection is in window 25.)
    assert run(resolution(T0 - 87000, "x.flows-only.example"), conn()) == [ev(twid=25)]


@pytest.mark.parametrize(
    ("resolved_at", "fires"),
    [
        (-86400, False),  # exactly 24 h before: counts
        (-86401, True),  # older than the lookback
        (-5, False),
        (30, False),  # within the grace after the connection
        (31, True),  # too late
        (None, True),
    ],
)
def test_resolution_time(resolved_at, fires):
    # Any host's resolution counts (here 192.168.1.99's).
    records = [conn(uid="Cnd")]
    if resolved_at is not None:
        records.append(resolution(T0 + resolved_at))
    records.sort(key=lambda r: r.starttime)
    assert [(e.uids, e.details) for e in harness().feed(*records).evidence()] == (
        [(["Cnd"], ConnectionWithoutDnsDetails(connections=1, dports=[80], lookback=86400.0, grace=30.0))]
        if fires else [])


def test_cname_chains_count():
    answers = ["edge.cdn.example.net", SERVER]
    assert run(dns(query="www.example.com", answers=answers), conn(starttime=T0 + 1)) == []


def test_decided_when_the_watermark_passes_start_plus_grace():
    h = harness().feed(conn(uid="Cnd"))
    assert h.advance(T0 + 3600 + 29).so_far() == []  # watermark = newest end - 3600
    assert [summary(e) for e in h.advance(T0 + 3600 + 30).so_far()] == [ev()]


def test_one_evidence_per_destination_and_window_staying_info():
    records = [conn(uid=f"C{i}", dport=80 + i % 2, starttime=T0 + i) for i in range(8)]
    records += [conn(uid="C1.2.3.4", daddr="1.2.3.4", starttime=T0 + 10),
                conn(uid="Cother", saddr="192.168.1.11", starttime=T0 + 11),
                conn(uid="Cnext", starttime=T0 + 3601)]
    out = harness().feed(*records).evidence()
    assert sorted(summary(e) for e in out) == sorted([
        ev(count=8, confidence=1.0, dports=(80, 81)),  # 8 = 2^3: confidence + 0.3 (capped at 1)
        ev("1.2.3.4"),
        ev(profile="192.168.1.11"),
        ev(twid=2),
    ])
    assert next(e for e in out if e.count == 8).uids == [f"C{i}" for i in range(8)]


def test_config_and_slips_keys():
    cfg = config(flow_alerts={"connection_without_dns_lookback": 100, "connection_without_dns_grace": 5})
    (evidence,) = harness(cfg).feed(resolution(T0 - 101), conn()).evidence()
    assert evidence.details == ConnectionWithoutDnsDetails(connections=1, dports=[80], lookback=100.0, grace=5.0)
    assert run(conn(), resolution(T0 + 6), cfg=cfg) != []


@pytest.mark.parametrize(
    ("elapsed_s", "expected"),
    [
        (29 * 60, []),  # warm-up: nothing
        (31 * 60, [0.1]),  # the first 5 hours: low confidence
        (5 * 3600 + 1, [0.8]),
    ],
)
def test_live_mode_warmup_and_confidence(elapsed_s, expected):
    clock = {"now": 1000.0}
    h = harness(live=True, wall_clock=lambda: clock["now"])
    clock["now"] += elapsed_s
    assert [e.confidence for e in h.feed(conn()).evidence()] == expected


def test_live_low_confidence_does_not_grow_with_the_count():
    clock = {"now": 1000.0}
    h = harness(live=True, wall_clock=lambda: clock["now"])
    clock["now"] += 31 * 60
    records = [conn(uid=f"C{i}", starttime=T0 + i) for i in range(9)]
    assert [(e.count, e.confidence) for e in h.feed(*records).evidence()] == [(9, 0.1)]
    h = harness(live=True, wall_clock=lambda: clock["now"])
    clock["now"] += 5 * 3600 + 1
    assert [(e.count, e.confidence) for e in h.feed(*records).evidence()] == [(9, 1.0)]


def test_live_warmup_slips_key():
    clock = {"now": 1000.0}
    h = harness(config(flow_alerts={"live_warmup_minutes": 1}), live=True, wall_clock=lambda: clock["now"])
    clock["now"] += 120
    assert [e.confidence for e in h.feed(conn()).evidence()] == [0.1]


def test_zeek_write_order_gives_the_same_evidence():
    # A DNS answer logged 10 s after a short connection started (Zeek writes
    # the connection first), a long connection resolved before it started
    # (written last), and one never resolved.
    records = [conn(uid="Cshort", daddr="151.101.1.1", starttime=T0 + 100, dur=2.0),
               resolution(T0 + 110, "short.example", ["151.101.1.1"]),
               resolution(T0 + 50, "long.example", ["151.101.1.2"]),
               conn(uid="Clong", daddr="151.101.1.2", starttime=T0 + 60, dur=3000.0),
               conn(uid="Cnone", daddr="151.101.1.3", starttime=T0 + 70, dur=2500.0)]
    records += [conn(uid=f"S{i}", daddr="192.168.1.1", starttime=T0 + 200 + i * 10) for i in range(30)]
    expected = [ev("151.101.1.3")]
    assert run(*in_zeek_order(records)) == run(*sorted(records, key=lambda r: r.starttime)) == expected


def test_a_decision_after_the_window_ended_still_counts_in_its_window():
    records = [conn(uid="C1", starttime=T0), conn(uid="C2", starttime=T0 + 3590),
               resolution(T0 + 3610, answers=["151.101.1.9"])]
    records += [conn(uid=f"S{i}", daddr="192.168.1.1", starttime=T0 + 3600 + i * 60) for i in range(120)]
    out = harness().feed(*records).evidence()
    assert [(e.timewindow, e.count, e.uids) for e in out] == [(1, 2, ["C1", "C2"])]


# Slips's port-scans/horizontal (conn.log only): 10.0.2.112 asks 8.8.8.8 on port 53
# (Zeek's service dns, answered) and connects to the addresses it resolved.
def horizontal_dns(ts=945.059207, uid="CUoOwQ1GIDbl0NjRg6"):
    return conn(starttime=ts, uid=uid, saddr="10.0.2.112", sport=51717, daddr="8.8.8.8", dport=53, proto="udp",
                appproto="dns", dur=0.215777, sbytes=30, dbytes=46, state="SF", history="Dd", spkts=1, dpkts=1)


def horizontal_web(ts=928.943457, uid="Cxl7TP23vZQ4RolkJf"):
    return conn(starttime=ts, uid=uid, saddr="10.0.2.112", sport=49168, daddr="195.113.214.219", dport=80,
                proto="tcp", appproto="http", dur=0.055687, sbytes=261, dbytes=1077, state="SF", history="ShADadfF")


def test_a_host_whose_dns_queries_are_in_conn_log_but_not_in_dns_log_is_not_judged():
    h = harness().feed(*in_zeek_order([horizontal_web(), horizontal_dns()]))
    assert h.evidence() == []
    assert h.notes == ["connection without DNS: 1 connection(s) of 1 host(s) not judged: conn.log shows their DNS "
                       "queries (port 53) but dns.log has none of them (is dns.log missing?)"]
    # dns.log has the host's queries (not this address's answer): judged as before.
    with_log = [horizontal_web(), horizontal_dns(),
                dns(starttime=945.059207, uid="CUoOwQ1GIDbl0NjRg6", saddr="10.0.2.112", daddr="8.8.8.8",
                    query="www.example.net", answers=["93.184.216.99"])]
    assert [e.victim.value for e in harness().feed(*in_zeek_order(with_log)).evidence()] == ["195.113.214.219"]
    # No DNS at all, in either log: judged as before.
    assert [e.victim.value for e in harness().feed(horizontal_web()).evidence()] == ["195.113.214.219"]


def test_a_dns_query_arriving_after_its_window_was_settled_still_counts_for_later_connections():
    # Window 1 is settled while a connection of window 2 waits for its grace;
    # conn.log showed the host asking port 53 and dns.log's record of that query
    # (in window 1) arrives late: the host's queries are in dns.log, so the
    # connection is judged.
    query = conn(uid="Cq", starttime=T0 + 3590, daddr="8.8.8.8", dport=53, proto="udp", appproto="dns",
                 dbytes=46, state="SF", history="Dd")
    records = [conn(uid="C0", starttime=T0, daddr="192.168.1.1"), query, conn(uid="Cweb", starttime=T0 + 3650)]
    h = harness().feed(*records)
    h.advance(T0 + 3600 + 3640)
    assert h.so_far() == []
    h.feed(dns(starttime=T0 + 3590, uid="Cq", daddr="8.8.8.8", query="www.example.net", answers=["93.184.216.99"]))
    assert h.driver.health.late_records["new_dns"] == 1
    assert [(e.timewindow, e.uids) for e in h.evidence()] == [(2, ["Cweb"])]
    assert h.notes == []
