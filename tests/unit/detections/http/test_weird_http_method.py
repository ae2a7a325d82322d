"""WEIRD_HTTP_METHOD from weird.log (seed "Weird HTTP methods"; spec 2.28; issue 13: a web scanner sending
thousands of odd methods gives one evidence per server and window)."""

from __future__ import annotations

import pytest

from flowalerts.detections.http.weird_http_method import WeirdHttpMethod, WeirdHttpMethodDetails
from tests.harness import CLIENT, SERVER, T0, Harness, in_zeek_order, summary, weird


def run(*records):
    return [summary(e) for e in Harness(WeirdHttpMethod).feed(*records).evidence()]


def ev(methods, n=1, level="medium", confidence=0.9, distinct=None):
    details = {"kind": "WeirdHttpMethodDetails", "requests": n, "methods": methods,
               "distinct_methods": len(methods) if distinct is None else distinct, "dport": 80}
    return ("WEIRD_HTTP_METHOD", CLIENT, 1, CLIENT, SERVER, level, confidence, n, details)


@pytest.mark.parametrize(
    ("name", "addl", "result"),
    [
        ("unknown_HTTP_method", "BADMETHOD", [ev(["BADMETHOD"])]),
        ("unknown_HTTP_method", "X\nY\x1b[31m", [ev(["X\nY\x1b[31m"])]),  # raw in the details
        ("bad_HTTP_request", "GET", []),
        ("unknown_protocol", "BADMETHOD", []),
        ("", "", []),
    ],
)
def test_weirds(name, addl, result):
    assert run(weird(name=name, addl=addl)) == result


def test_weird_without_addresses_is_ignored():
    assert run(weird(saddr="", daddr="")) == []


def test_scanner_with_5000_odd_methods_is_one_evidence():
    methods = [f"M{i % 37}" for i in range(5000)]
    records = [weird(starttime=T0 + i * 0.5, uid=f"C{i:04d}", addl=m) for i, m in enumerate(methods)]
    harness = Harness(WeirdHttpMethod).feed(*records)
    evidence = harness.evidence()
    assert len(evidence) == 1
    (e,) = evidence
    assert (e.count, e.occurrences, e.threat_level.value, e.confidence) == (5000, 5000, "critical", 1.0)
    assert e.details == WeirdHttpMethodDetails(requests=5000, methods=[f"M{i}" for i in range(20)],
                                               distinct_methods=37, dport=80)
    assert e.uids == [f"C{i:04d}" for i in range(5000)]  # every contributing flow
    assert len({x.id for x in harness.emitted}) == 1  # reported once, then updated at window close
    assert "5000 HTTP requests" in e.description and "\n" not in e.description


@pytest.mark.parametrize(("n", "level", "confidence"), [(1, "medium", 0.9), (3, "medium", 1.0), (4, "high", 1.0),
                                                        (16, "critical", 1.0)])
def test_grows_with_the_count(n, level, confidence):
    records = [weird(starttime=T0 + i, uid=f"C{i}", addl="FOO") for i in range(n)]
    assert run(*records) == [ev(["FOO"], n=n, level=level, confidence=confidence)]


def test_per_server_and_window():
    records = [weird(uid="A"), weird(uid="B", daddr="198.51.100.80", starttime=T0 + 1),
               weird(uid="C", starttime=T0 + 3600)]
    got = [(e.victim.value, e.timewindow, e.uids) for e in Harness(WeirdHttpMethod).feed(*records).evidence()]
    assert got == [(SERVER, 1, ["A"]), ("198.51.100.80", 1, ["B"]), (SERVER, 2, ["C"])]


def test_any_order_gives_the_same_evidence():
    records = [weird(starttime=T0 + i, uid=f"C{i}", addl=f"M{i % 3}") for i in range(9)]
    assert run(*records) == run(*reversed(records)) == run(*in_zeek_order(records))


def test_hostile_method_escaped_in_the_description():
    (e,) = Harness(WeirdHttpMethod).feed(weird(addl="X\nY\x1b[31m|Z")).evidence()
    assert "\n" not in e.description and "\x1b" not in e.description
