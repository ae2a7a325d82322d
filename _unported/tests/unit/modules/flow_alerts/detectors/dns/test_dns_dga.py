"""DGA / NXDOMAIN counting (spec 2.17, 5.2 item 11): distinct queries per
(profile, window), evidence at 10 then every 5, real count, confidence n/20."""

from __future__ import annotations

import dataclasses

import pytest

from flowalerts.evidence import Direction, EvidenceType, IoCType, ThreatLevel
from flowalerts.knowledge import Knowledge
from tests.harness import CLIENT, T0, Pipeline, config, dns


class FakeWhitelist:
    def __init__(self, *domains: str) -> None:
        self.domains = set(domains)

    def domain_whitelisted(self, domain: str) -> bool:
        parts = domain.split(".")
        return any(".".join(parts[i:]) in self.domains for i in range(len(parts)))

    def ip_whitelisted(self, ip: str) -> bool:
        return False


def nx(i: int, query: str | None = None, **kw):
    return dns(starttime=T0 + i, uid=f"Cnx{i}", query=f"x{i}.example.com" if query is None else query, rcode_name="NXDOMAIN",
               answers=[], **kw)


@pytest.mark.parametrize(
    ("n", "fired_at"),
    [(9, []), (10, [10]), (14, [10]), (15, [10, 15]), (19, [10, 15]), (20, [10, 15, 20]), (26, [10, 15, 20, 25])],
)
def test_fires_at_10_then_every_5(n, fired_at):
    pipe = Pipeline()
    pipe.feed(*[nx(i) for i in range(1, n + 1)])
    evs = pipe.of_type("DGA_NXDOMAINS")
    assert [f"{k} distinct" in e.description for e, k in zip(evs, fired_at, strict=True)] == [True] * len(fired_at)
    assert [e.confidence for e in evs] == [min(1.0, k / 20) for k in fired_at]
    for e, k in zip(evs, fired_at, strict=True):
        assert e.evidence_type is EvidenceType.DGA_NXDOMAINS
        assert e.threat_level is ThreatLevel.HIGH
        assert (e.attacker.direction, e.attacker.ioc_type, e.attacker.value) == (Direction.SRC, IoCType.IP, CLIENT)
        assert e.victim is None
        assert (e.profile, e.timewindow) == (CLIENT, 1)
        assert e.uids == [f"Cnx{i}" for i in range(1, k + 1)]


def test_repeats_of_the_same_query_do_not_count():
    pipe = Pipeline()
    pipe.feed(*[nx(i, query="same.example.com") for i in range(30)])
    assert pipe.of_type("DGA_NXDOMAINS") == []


@pytest.mark.parametrize(
    "query",
    ["x.in-addr.arpa", "x.ip6.arpa", "printer.local", "good.whitelisted.org", "whitelisted.org", ""],
)
def test_exemptions(query):
    knowledge = dataclasses.replace(Knowledge.empty(), whitelist=FakeWhitelist("whitelisted.org"))
    pipe = Pipeline(knowledge=knowledge)
    pipe.feed(*[nx(i) for i in range(1, 10)])  # 9 counted
    pipe.feed(nx(10, query=query))
    assert pipe.of_type("DGA_NXDOMAINS") == []
    pipe.feed(nx(11))
    assert len(pipe.of_type("DGA_NXDOMAINS")) == 1


@pytest.mark.parametrize("rcode", ["NOERROR", "SERVFAIL", "REFUSED", ""])
def test_other_rcodes_do_not_count(rcode):
    pipe = Pipeline()
    pipe.feed(*[dns(starttime=T0 + i, uid=f"C{i}", query=f"x{i}.example.com", rcode_name=rcode) for i in range(20)])
    assert pipe.of_type("DGA_NXDOMAINS") == []


def test_counted_per_window_and_per_profile():
    pipe = Pipeline(cfg=config(parameters={"time_window_width": 100}))
    pipe.feed(*[nx(i) for i in range(5)])
    pipe.feed(*[nx(i, saddr="192.168.1.11") for i in range(5, 10)])
    pipe.feed(*[nx(200 + i) for i in range(5)])  # window 3
    assert pipe.of_type("DGA_NXDOMAINS") == []


def test_configurable_threshold_and_step():
    pipe = Pipeline(cfg=config(flow_alerts={"dga_nxdomain_threshold": 3, "dga_nxdomain_step": 2}))
    pipe.feed(*[nx(i) for i in range(1, 8)])
    assert [e.confidence for e in pipe.of_type("DGA_NXDOMAINS")] == [0.5, 0.83, 1.0]
