"""INVALID_DNS_RESOLUTION (seed; spec 2.38, 4.30, 5.3 item 24; issue 13: one evidence per name and window)."""

from __future__ import annotations

import pytest

from flowalerts.detections.dns.invalid_resolution import InvalidDnsResolution
from flowalerts.learners.dns import DnsFacts, DnsNames
from tests.harness import CLIENT, T0, Harness, dns, in_zeek_order, summary


def run(*records):
    return [summary(e) for e in Harness(InvalidDnsResolution).feed(*records).evidence()]


def ev(query, answers, count=1):
    return [("INVALID_DNS_RESOLUTION", CLIENT, 1, CLIENT, query, "info", 0.8, count,
             {"kind": "InvalidResolutionDetails", "query": query, "answers": answers, "responses": count})]


@pytest.mark.parametrize(
    ("query", "answers", "result"),
    [
        ("example.com", ["127.0.0.1"], ev("example.com", ["127.0.0.1"])),
        ("ads.example.com", ["0.0.0.0"], ev("ads.example.com", ["0.0.0.0"])),
        ("example.com", ["127.255.0.9"], ev("example.com", ["127.255.0.9"])),
        ("example.com", ["::"], ev("example.com", ["::"])),
        ("example.com", ["::1"], ev("example.com", ["::1"])),
        ("example.com", ["::ffff:127.0.0.1"], ev("example.com", ["127.0.0.1"])),
        ("example.com", ["cname.example.net", "0.0.0.0", "127.0.0.1"], ev("example.com", ["0.0.0.0", "127.0.0.1"])),
        ("Example.COM.", ["0.0.0.0"], ev("example.com", ["0.0.0.0"])),
        ("example.com", ["8.8.8.8"], []),
        ("intranet.example.com", ["10.1.2.3"], []),  # split-horizon DNS
        ("nas.example.com", ["192.168.1.1"], []),
        ("example.com", ["172.16.0.1"], []),
        ("localhost", ["127.0.0.1"], []),
        ("app.localhost", ["127.0.0.1"], []),
        ("printer.local", ["127.0.0.1"], []),
        ("1.0.0.127.in-addr.arpa", ["127.0.0.1"], []),
        ("example.com", ["cname.example.net"], []),
        ("example.com", [], []),
    ],
)
def test_blocking_answers(query, answers, result):
    assert run(dns(query=query, answers=answers, uid="Cinv")) == result


@pytest.mark.parametrize("qtype", ["TXT", "MX", "PTR"])
def test_only_address_queries(qtype):
    assert run(dns(qtype_name=qtype, answers=["0.0.0.0"])) == []


def test_one_evidence_per_name_and_window_with_every_uid():
    records = [dns(starttime=T0 + i, uid=f"C{i}", answers=["0.0.0.0"]) for i in range(4)]
    records += [dns(starttime=T0 + 5, uid="C5", answers=["127.0.0.1"])]
    records += [dns(starttime=T0 + 9, uid="C9", query="other.example.com", answers=["0.0.0.0"])]
    evidence = Harness(InvalidDnsResolution).feed(*records).evidence()
    assert [(e.victim.value, e.count, e.uids, e.details.answers, e.threat_level.value) for e in evidence] == [
        ("example.com", 5, ["C0", "C1", "C2", "C3", "C5"], ["0.0.0.0", "127.0.0.1"], "info"),
        ("other.example.com", 1, ["C9"], ["0.0.0.0"], "info"),
    ]


def test_any_order_gives_the_same_evidence():
    records = [dns(starttime=T0 + i, uid=f"C{i}", answers=["0.0.0.0"]) for i in range(4)]
    assert run(*records) == run(*reversed(records)) == run(*in_zeek_order(records))


def test_blocking_answers_are_not_learned_as_resolutions():
    harness = Harness(InvalidDnsResolution, learners=[DnsFacts])
    harness.feed(dns(answers=["0.0.0.0", "93.184.216.34"])).so_far()
    facts = harness.driver.facts.store(DnsNames)
    assert (facts.domains_of_ip("0.0.0.0"), facts.domains_of_ip("93.184.216.34")) == ([], ["example.com"])
