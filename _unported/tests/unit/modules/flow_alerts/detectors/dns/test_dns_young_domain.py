"""Young domains (spec 2.21): age measured from the query's flow time, via a
non-blocking lookups object (a fake with canned creation dates here)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowalerts.evidence import Direction, EvidenceType, IoCType, ThreatLevel
from flowalerts.lookups import Lookups
from flowalerts.modules.flow_alerts.detectors.dns.young_domain import registrable_domain
from tests.harness import CLIENT, T0, Pipeline, config, dns

DAY = 86400.0
QUERY_TIME = dt.datetime.fromtimestamp(T0, tz=dt.UTC)


class CannedLookups(Lookups):
    def __init__(self, dates: dict[str, dt.datetime]) -> None:
        super().__init__()
        self.dates = dates
        self.asked: list[str] = []

    def creation_date(self, domain: str) -> dt.datetime | None:
        self.asked.append(domain)
        return self.dates.get(domain)


def days_before(days: float) -> dt.datetime:
    return QUERY_TIME - dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("www.example.com", "example.com"), ("a.b.example.co.uk", "example.co.uk"), ("example.com", "example.com"),
     ("com", None), ("localhost", None), ("x.invalidtld", None)],
)
def test_registrable_domain(name, expected):
    assert registrable_domain(name) == expected


@pytest.mark.parametrize(
    ("age_days", "max_age", "fires"),
    [(50, 60, True), (59.9, 60, True), (60, 60, False), (1000, 60, False), (0, 60, True), (-3, 60, False),
     (20, 10, False)],
)
def test_age_threshold(age_days, max_age, fires):
    lookups = CannedLookups({"example.com": days_before(age_days)})
    pipe = Pipeline(cfg=config(flow_alerts={"young_domain_max_age_days": max_age}), lookups=lookups)
    pipe.feed(dns(query="www.example.com", answers=["198.51.100.1"], uid="Cy"))
    assert lookups.asked == ["example.com"]
    assert len(pipe.of_type("YOUNG_DOMAIN")) == (2 if fires else 0)


@pytest.mark.parametrize("n_answers", [0, 1, 2])
def test_evidence_shape_one_plus_k(n_answers):
    ips = ["198.51.100.1", "2001:db8::2"][:n_answers]
    lookups = CannedLookups({"example.com": days_before(10)})
    pipe = Pipeline(lookups=lookups)
    pipe.feed(dns(query="example.com", answers=["cname.example.net", *ips], uid="Cy"))
    evs = pipe.of_type("YOUNG_DOMAIN")
    assert len(evs) == 1 + n_answers
    client, *per_ip = evs
    assert (client.attacker.direction, client.attacker.ioc_type, client.attacker.value) == (
        Direction.SRC, IoCType.IP, CLIENT)
    assert (client.threat_level, client.profile) == (ThreatLevel.INFO, CLIENT)
    assert (client.victim.ioc_type, client.victim.value) == (IoCType.DOMAIN, "example.com")
    assert [(e.attacker.direction, e.attacker.value, e.profile, e.threat_level) for e in per_ip] == [
        (Direction.DST, ip, ip, ThreatLevel.LOW) for ip in ips]
    for ev in evs:
        assert ev.evidence_type is EvidenceType.YOUNG_DOMAIN
        assert (ev.confidence, ev.timewindow, ev.uids) == (1.0, 1, ["Cy"])
        assert "10 days" in ev.description
        assert sorted(ev.rel_id or []) == sorted(o.id for o in evs if o is not ev)


@pytest.mark.parametrize("query", ["printer.local", "1.2.3.4.in-addr.arpa", "nodot", "", "1.2.3.4"])
def test_exempt_queries_are_not_looked_up(query):
    lookups = CannedLookups({})
    pipe = Pipeline(lookups=lookups)
    pipe.feed(dns(query=query))
    assert lookups.asked == []
    assert pipe.of_type("YOUNG_DOMAIN") == []


def test_unknown_date_no_evidence_then_fires_when_known():
    lookups = CannedLookups({})
    pipe = Pipeline(lookups=lookups)
    pipe.feed(dns(query="new.example.org", uid="C1"))
    assert pipe.of_type("YOUNG_DOMAIN") == []
    lookups.dates["example.org"] = days_before(5)  # the background lookup finished
    pipe.feed(dns(starttime=T0 + 10, query="new.example.org", uid="C2"))
    pipe.feed(dns(starttime=T0 + 20, query="other.example.org", uid="C3"))  # same domain: once per window
    assert [e.uids for e in pipe.of_type("YOUNG_DOMAIN")] == [["C2"], ["C2"]]
