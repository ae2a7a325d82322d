"""YOUNG_DOMAIN (seed "Young Domains"; spec 2.21, 4.17, 5.3 item 30; issue 13: one finding per domain and
window). Creation dates come from a fake, non-blocking ``Lookups``."""

from __future__ import annotations

import datetime as dt

import pytest

from flowalerts.detections.dns.young_domain import (
    YoungDomain,
    YoungDomainDetails,
    registrable_domain,
)
from flowalerts.knowledge.lookups import Lookups, NullLookups
from tests.harness import CLIENT, T0, Harness, config, dns, in_zeek_order, summary

DAY = 86400.0
QUERY_TIME = dt.datetime.fromtimestamp(T0, tz=dt.timezone.utc)


class FakeLookups(Lookups):
    """Answers from a dict; None for anything else (unknown yet, or failed)."""

    def __init__(self, dates: dict[str, dt.datetime]) -> None:
        super().__init__()
        self.dates = dates
        self.asked: list[str] = []

    def creation_date(self, domain: str) -> dt.datetime | None:
        self.asked.append(domain)
        return self.dates.get(domain)


def days_before(days: float) -> dt.datetime:
    return QUERY_TIME - dt.timedelta(days=days)


def run(*records, lookups, **kw):
    return [summary(e) for e in Harness(YoungDomain, lookups=lookups, **kw).feed(*records).evidence()]


def details(side, answers=("198.51.100.1",), age=10.0, created="2020-09-03", queries=1, query="www.example.com"):
    return {"kind": "YoungDomainDetails", "domain": "example.com", "query": query, "created": created,
            "age_days": age, "max_age_days": 60.0, "answers": list(answers), "queries": queries, "side": side}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("www.example.com", "example.com"), ("a.b.example.co.uk", "example.co.uk"), ("example.com", "example.com"),
     ("com", None), ("localhost", None), ("x.invalidtld", None)],
)
def test_registrable_domain(name, expected):
    assert registrable_domain(name) == expected


def test_finding_is_client_plus_each_answer_ip_linked():
    lookups = FakeLookups({"example.com": days_before(10)})
    record = dns(query="www.example.com", answers=["cname.example.net", "198.51.100.1", "2001:db8::2"], uid="Cy")
    answers = ["198.51.100.1", "2001:db8::2"]
    assert run(record, lookups=lookups) == [
        ("YOUNG_DOMAIN", CLIENT, 1, CLIENT, "example.com", "info", 1.0, 1, details("client", answers)),
        ("YOUNG_DOMAIN", "198.51.100.1", 1, "198.51.100.1", None, "low", 1.0, 1, details("answer", answers)),
        ("YOUNG_DOMAIN", "2001:db8::2", 1, "2001:db8::2", None, "low", 1.0, 1, details("answer", answers)),
    ]
    client, *per_ip = Harness(YoungDomain, lookups=lookups).feed(record).evidence()
    assert sorted(client.rel_id) == sorted(e.id for e in per_ip)
    assert [e.attacker.direction.value for e in per_ip] == ["DST", "DST"]
    assert (client.uids, client.ts) == (["Cy"], T0)


@pytest.mark.parametrize(
    ("age_days", "max_age", "fires"),
    [(50, 60, True), (59.9, 60, True), (60, 60, False), (1000, 60, False), (0, 60, True),
     (-3, 60, False),  # created after the query: re-registered since, age unknown
     (20, 10, False)],
)
def test_age_threshold_measured_from_the_flow_time(age_days, max_age, fires):
    lookups = FakeLookups({"example.com": days_before(age_days)})
    cfg = config(flow_alerts={"young_domain": {"max_age_days": max_age}})
    evidence = Harness(YoungDomain, lookups=lookups, cfg=cfg).feed(
        dns(query="www.example.com", answers=["198.51.100.1"])).evidence()
    assert lookups.asked == ["example.com"]
    assert len(evidence) == (2 if fires else 0)


def test_slips_key_and_naive_dates_are_utc():
    lookups = FakeLookups({"example.com": days_before(20).replace(tzinfo=None)})
    cfg = config(flow_alerts={"young_domain_max_age_days": 30})
    (client, _) = Harness(YoungDomain, lookups=lookups, cfg=cfg).feed(
        dns(query="www.example.com", answers=["198.51.100.1"])).evidence()
    assert client.details == YoungDomainDetails(domain="example.com", query="www.example.com", created="2020-08-24",
                                                age_days=20.0, max_age_days=30.0, answers=["198.51.100.1"],
                                                queries=1, side="client")


@pytest.mark.parametrize("name", ["printer.local", "1.2.3.4.in-addr.arpa", "nodot", "", "1.2.3.4", "com"])
def test_names_without_a_registrable_domain_are_not_looked_up(name):
    lookups = FakeLookups({})
    assert run(dns(query=name), lookups=lookups) == []
    assert lookups.asked == []


def test_offline_asks_nothing():
    assert run(dns(query="www.example.com"), lookups=NullLookups()) == []


def test_unknown_date_first_then_fires_when_the_lookup_answered():
    lookups = FakeLookups({})
    harness = Harness(YoungDomain, lookups=lookups).feed(dns(query="new.example.org", uid="C1", answers=[]))
    assert harness.so_far() == []
    lookups.dates["example.org"] = days_before(5)  # the background lookup finished
    harness.feed(dns(starttime=T0 + 10, query="new.example.org", uid="C2", answers=[]),
                 dns(starttime=T0 + 20, query="other.example.org", uid="C3", answers=["198.51.100.9"]))
    evidence = harness.evidence()
    assert [(e.profile, e.count, e.uids, e.details.answers) for e in evidence] == [
        (CLIENT, 2, ["C2", "C3"], ["198.51.100.9"]),
        ("198.51.100.9", 2, ["C2", "C3"], ["198.51.100.9"]),
    ]
    assert lookups.asked == ["example.org", "example.org"]  # not asked again once known in the window


def test_one_finding_per_domain_and_window():
    lookups = FakeLookups({"example.com": days_before(10)})
    records = [dns(starttime=T0 + i, query=f"h{i}.example.com", uid=f"C{i}", answers=["198.51.100.1"])
               for i in range(5)]
    records.append(dns(starttime=T0 + 3600, query="www.example.com", uid="W2", answers=["198.51.100.1"]))
    evidence = Harness(YoungDomain, lookups=lookups).feed(*records).evidence()
    assert [(e.profile, e.timewindow, e.count, e.occurrences) for e in evidence] == [
        (CLIENT, 1, 5, 1), ("198.51.100.1", 1, 5, 1), (CLIENT, 2, 1, 1), ("198.51.100.1", 2, 1, 1)]


def test_any_order_gives_the_same_evidence():
    lookups = FakeLookups({"example.com": days_before(10)})
    records = [dns(starttime=T0 + i, query="www.example.com", uid=f"C{i}", answers=[f"198.51.100.{i}"])
               for i in range(1, 4)]
    def final(order):
        return sorted(run(*order, lookups=lookups), key=repr)  # emission order differs, content does not

    assert final(records) == final(list(reversed(records))) == final(in_zeek_order(records))
    assert len(final(records)) == 4
