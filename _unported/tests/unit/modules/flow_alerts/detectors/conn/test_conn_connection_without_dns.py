"""CONNECTION_WITHOUT_DNS (spec 2.3, 4.3, seed)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from flowalerts.knowledge.whitelist import Whitelist
from tests.harness import T0, Pipeline, config, conn, dhcp

TYPE = "CONNECTION_WITHOUT_DNS"
DST = "93.184.216.34"


def knowledge() -> Knowledge:
    k = Knowledge.empty()
    k.orgs = Organizations(ranges={"google": ["8.8.8.0/24"], "microsoft": ["20.0.0.0/8"]},
                           domains={"facebook": ["facebook.com"], "twitter": ["twitter.com"], "apple": ["apple.com"]})
    wl = Whitelist()
    wl.domains.add("example.org")
    k.whitelist = wl
    return k


def run(*records, setup=None, cfg=None):
    pipe = Pipeline(cfg=cfg, knowledge=knowledge())
    if setup:
        setup(pipe)
    pipe.feed(*records)
    pipe.finish()
    return pipe.of_type(TYPE)


def test_positive_shape():
    (ev,) = run(conn(uid="Cnd", daddr=DST, dport=8080))
    assert (ev.attacker.direction, ev.attacker.value) == (Direction.SRC, "192.168.1.10")
    assert (ev.victim.direction, ev.victim.value) == (Direction.DST, DST)
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids, ev.dst_port) == (
        ThreatLevel.INFO, 0.8, "192.168.1.10", 1, ["Cnd"], 8080)


@pytest.mark.parametrize(
    ("daddr", "appproto", "setup", "cfg"),
    [
        ("8.8.8.8", "dns", None, None),
        (DST, "dns", None, None),
        (DST, "icmp", None, None),
        ("192.168.1.1", "http", None, None),  # private
        ("10.0.0.1", "http", None, None),
        ("127.0.0.1", "", None, None),  # loopback
        ("169.254.3.3", "", None, None),  # link-local
        ("fe80::1", "", None, None),  # IPv6 link-local
        ("224.0.0.251", "", None, None),  # multicast
        ("255.255.255.255", "", None, None),  # broadcast / reserved
        ("240.0.0.1", "", None, None),  # reserved
        (DST, "http", None, config(parameters={"client_ips": [DST]})),  # client_ips: IP
        (DST, "http", None, config(parameters={"client_ips": ["93.184.216.0/24"]})),  # client_ips: CIDR
        (DST, "http", lambda p: p.facts.mark_doh_server(DST, T0), None),
        (DST, "http", lambda p: p.feed(dhcp(daddr=DST)), None),  # DHCP server
        ("8.8.8.8", "", None, None),  # Google range
        ("20.1.2.3", "", None, None),  # Microsoft range
        (DST, "", lambda p: p.facts.record_sni(DST, "www.facebook.com", T0), None),  # org by SNI
        (DST, "", lambda p: p.facts.record_rdns(DST, "edge.twitter.com", T0), None),  # org by rDNS
        # resolved long ago (older than the lookback) to a whitelisted domain
        (DST, "", lambda p: p.facts.record_resolution("192.168.1.10", "www.example.org", DST, T0 - 90000), None),
        # resolved long ago to an org domain
        (DST, "", lambda p: p.facts.record_resolution("192.168.1.10", "cdn.apple.com", DST, T0 - 90000), None),
    ],
)
def test_exemptions(daddr, appproto, setup, cfg):
    assert run(conn(daddr=daddr, appproto=appproto), setup=setup, cfg=cfg) == []


@pytest.mark.parametrize(
    ("resolved_at", "fires"),
    [
        (-86400, False),  # exactly 24 h before: counts
        (-86401, True),  # older than the lookback
        (-5, False),
        (30, False),  # within the grace after the connection
        (None, True),
    ],
)
def test_resolution_time(resolved_at, fires):
    pipe = Pipeline(knowledge=knowledge())
    pipe.profiler.t0 = T0
    if resolved_at is not None and resolved_at <= 0:
        pipe.facts.record_resolution("192.168.1.99", "example.com", DST, T0 + resolved_at)  # any host counts
    pipe.feed(conn(daddr=DST))
    if resolved_at is not None and resolved_at > 0:
        pipe.advance_to(T0 + resolved_at - 1)
        pipe.facts.record_resolution("192.168.1.99", "example.com", DST, T0 + resolved_at)
    pipe.finish()
    assert len(pipe.of_type(TYPE)) == (1 if fires else 0)


def test_resolution_after_grace_is_too_late():
    pipe = Pipeline(knowledge=knowledge())
    pipe.feed(conn(daddr=DST))
    assert pipe.of_type(TYPE, pipe.advance_to(T0 + 29)) == []
    assert len(pipe.of_type(TYPE, pipe.advance_to(T0 + 30))) == 1
    pipe.facts.record_resolution("192.168.1.10", "example.com", DST, T0 + 31)
    assert pipe.of_type(TYPE, pipe.finish()) == []


def test_dedup_per_profile_window_destination():
    pipe = Pipeline(knowledge=knowledge())
    pipe.feed(conn(uid="C1", daddr=DST), conn(uid="C2", daddr=DST, starttime=T0 + 1),
              conn(uid="C3", daddr="1.2.3.4", starttime=T0 + 2),
              conn(uid="C4", saddr="192.168.1.11", daddr=DST, starttime=T0 + 3),
              conn(uid="C5", daddr=DST, starttime=T0 + 3601))
    pipe.finish()
    assert sorted((e.profile, e.timewindow, e.uids[0]) for e in pipe.of_type(TYPE)) == [
        ("192.168.1.10", 1, "C1"), ("192.168.1.10", 1, "C3"), ("192.168.1.10", 2, "C5"), ("192.168.1.11", 1, "C4")]


@pytest.mark.parametrize(
    ("elapsed_s", "expected"),
    [
        (29 * 60, []),  # warm-up: nothing
        (31 * 60, [0.1]),  # first 5 hours: low confidence
        (5 * 3600 + 1, [0.8]),
    ],
)
def test_live_mode_warmup_and_confidence(elapsed_s, expected):
    clock = {"now": 1000.0}
    pipe = Pipeline(knowledge=knowledge(), live=True, wall_clock=lambda: clock["now"])
    clock["now"] += elapsed_s
    pipe.feed(conn(daddr=DST))
    pipe.finish()
    assert [e.confidence for e in pipe.of_type(TYPE)] == expected


def test_files_mode_has_no_warmup():
    assert len(run(conn(daddr=DST))) == 1
