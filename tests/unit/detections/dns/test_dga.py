"""DGA_NXDOMAINS (seed "DGA"; spec 2.17, 4.13, 5.2 item 11; issue 13: one evidence per window)."""

from __future__ import annotations

import dataclasses

import pytest

from flowalerts.detections.dns.dga import DgaDetails, DgaNxdomains
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.whitelist import Whitelist
from tests.harness import CLIENT, T0, Harness, config, dns, in_zeek_order, summary


def nx(i, query=None, **kw):
    return dns(starttime=T0 + i, uid=f"Cnx{i:03d}", query=f"x{i}.example.com" if query is None else query,
               rcode_name="NXDOMAIN", answers=[], **kw)


def names(n, start=0):
    return [f"x{i}.example.com" for i in range(start, start + n)][:20]


def run(records, **kw):
    return [summary(e) for e in Harness(DgaNxdomains, **kw).feed(*records).evidence()]


def expected(n, level, confidence, names_=None):
    details = {"kind": "DgaDetails", "nxdomains": n, "threshold": 10, "names": names_ or names(n)}
    return [("DGA_NXDOMAINS", CLIENT, 1, CLIENT, None, level, confidence, n, details)]


@pytest.mark.parametrize(
    ("n", "result"),
    [
        (9, []),  # below the threshold
        (10, expected(10, "high", 0.5)),  # threshold edge
        (19, expected(19, "high", 0.5)),
        (20, expected(20, "high", 0.6)),  # x2: +0.1 confidence
        (40, expected(40, "critical", 0.7)),  # x4: one level up
    ],
)
def test_distinct_nxdomains(n, result):
    assert run([nx(i) for i in range(n)]) == result


@pytest.mark.parametrize(("n", "occurrences"), [(10, 1), (14, 1), (15, 2), (26, 4), (100, 19)])
def test_alert_weight_follows_the_seeds_cadence(n, occurrences):
    # The seed: an evidence at 10, 15, 20 ... -> one evidence weighing as many.
    (evidence,) = Harness(DgaNxdomains).feed(*[nx(i) for i in range(n)]).evidence()
    assert (evidence.count, evidence.occurrences) == (n, occurrences)


def test_reported_at_threshold_then_updated_with_every_uid():
    harness = Harness(DgaNxdomains).feed(*[nx(i) for i in range(23)])
    (first,) = harness.so_far()
    assert (first.count, first.uids) == (10, [f"Cnx{i:03d}" for i in range(10)])
    (last,) = harness.evidence()
    assert last.id == first.id
    assert (last.count, last.uids, last.ts) == (23, [f"Cnx{i:03d}" for i in range(23)], T0)


def test_repeats_of_one_name_count_once():
    assert run([nx(i, query="same.example.com") for i in range(30)]) == []
    assert run([nx(i, query=f"X{i % 10}.Example.COM.") for i in range(30)]) == expected(
        10, "high", 0.5, [f"x{i}.example.com" for i in range(10)])


@pytest.mark.parametrize(
    "query",
    ["7.3.2.1.in-addr.arpa", "x.ip6.arpa", "printer.local", "cdn.whitelisted.org", "whitelisted.org", ""],
)
def test_exemptions(query):
    whitelist = Whitelist.from_text('"domain","whitelisted.org","dst","alerts"')
    knowledge = dataclasses.replace(Knowledge.empty(), whitelist=whitelist)
    records = [nx(i) for i in range(9)] + [nx(9, query=query)]
    assert run(records, knowledge=knowledge) == []
    assert len(run([*records, nx(10)], knowledge=knowledge)) == 1


def test_whitelisted_as_source_only_still_counts():
    whitelist = Whitelist.from_text('"domain","whitelisted.org","src","alerts"')
    knowledge = dataclasses.replace(Knowledge.empty(), whitelist=whitelist)
    records = [nx(i) for i in range(9)] + [nx(9, query="a.whitelisted.org")]
    assert len(run(records, knowledge=knowledge)) == 1


@pytest.mark.parametrize("rcode", ["NOERROR", "SERVFAIL", "REFUSED", ""])
def test_other_rcodes_do_not_count(rcode):
    assert run([dns(starttime=T0 + i, uid=f"C{i}", query=f"x{i}.example.com", rcode_name=rcode)
                for i in range(20)]) == []


def test_counted_per_window_and_per_profile():
    records = [nx(i) for i in range(5)] + [nx(i, saddr="192.168.1.11") for i in range(5, 10)]
    records += [nx(3600 + i) for i in range(5)]  # window 2
    assert run(records) == []


def test_threshold_and_step_from_config_and_slips_keys():
    cfg = config(flow_alerts={"dga": {"threshold": 3, "step": 2}})
    (evidence,) = Harness(DgaNxdomains, cfg=cfg).feed(*[nx(i) for i in range(7)]).evidence()
    assert (evidence.details, evidence.occurrences) == (DgaDetails(nxdomains=7, threshold=3, names=names(7)), 3)
    cfg = config(flow_alerts={"dga_nxdomain_threshold": 3, "dga_nxdomain_step": 2})
    assert Harness(DgaNxdomains, cfg=cfg).feed(*[nx(i) for i in range(7)]).evidence()[0].occurrences == 3


def test_any_order_gives_the_same_evidence():
    records = [nx(i) for i in range(17)]
    assert run(records) == run(list(reversed(records))) == run(in_zeek_order(records))


def test_hostile_names_are_escaped_in_the_description():
    records = [nx(i, query=f"x{i}\x1b[31m.example.com") for i in range(10)]
    (evidence,) = Harness(DgaNxdomains).feed(*records).evidence()
    assert "\x1b" not in evidence.description and "\\x1b" in evidence.description
    assert evidence.details.names[0] == "x0\x1b[31m.example.com"  # data stays raw in the details
