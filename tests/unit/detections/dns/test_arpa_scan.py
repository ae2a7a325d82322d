"""DNS_ARPA_SCAN (seed "DNS ARPA Scans"; spec 2.24, 4.19, 5.2 item 12; issue 13: one evidence per window)."""

from __future__ import annotations

import random

import pytest

from flowalerts.core.records import DnsRecord
from flowalerts.detections.dns.arpa_scan import ArpaScanDetails, DnsArpaScan
from flowalerts.engine.bursts import burst_members
from tests.harness import CLIENT, T0, Harness, config, dns, from_zeek, in_zeek_order, summary


def ptr(i, ts, query=None, **kw):
    return dns(starttime=ts, uid=f"Cp{i:03d}", query=query or f"{i}.1.168.192.in-addr.arpa", qtype_name="PTR",
               answers=[], **kw)


def sweep(count, span, start=T0, first=0):
    step = span / (count - 1)
    return [ptr(first + i, start + i * step) for i in range(count)]


def run(records, **kw):
    return [summary(e) for e in Harness(DnsArpaScan, **kw).feed(*records).evidence()]


def expected(n, level, confidence, duration):
    details = {"kind": "ArpaScanDetails", "names": n, "threshold": 10, "window": 2.0, "duration": duration}
    return [("DNS_ARPA_SCAN", CLIENT, 1, CLIENT, None, level, confidence, n, details)]


@pytest.mark.parametrize(
    ("records", "result"),
    [
        (sweep(5, 0.8), []),
        (sweep(9, 0.9), []),
        (sweep(10, 0.9), expected(10, "medium", 0.7, 0.9)),
        (sweep(10, 2.0), expected(10, "medium", 0.7, 2.0)),  # the window is inclusive
        (sweep(10, 2.7), []),  # spread over more than 2 s
        (sweep(25, 24.0), []),  # a slow walk is not a sweep
        # One evidence per window for a long sweep; growing with the count.
        (sweep(40, 3.9), expected(40, "high", 0.9, 3.9)),
        (sweep(20, 1.9), expected(20, "medium", 0.8, 1.9)),
    ],
)
def test_sweeps(records, result):
    assert run(records) == result


def test_window_slides():
    # Slow lookups first, then a fast burst: the reference, anchored at the
    # first lookup, never fires here.
    records = [ptr(i, T0 + 5 * i) for i in range(5)] + [ptr(100 + i, T0 + 100 + 0.1 * i) for i in range(10)]
    (evidence,) = Harness(DnsArpaScan).feed(*records).evidence()
    assert evidence.details == ArpaScanDetails(names=10, threshold=10, window=2.0, duration=0.9)
    assert evidence.uids == [f"Cp{100 + i:03d}" for i in range(10)]
    assert evidence.ts == T0 + 100


def test_later_bursts_update_the_same_evidence_with_every_uid():
    records = sweep(12, 1.1) + sweep(11, 1.0, start=T0 + 600, first=50)
    harness = Harness(DnsArpaScan).feed(*records)
    (first,) = harness.so_far()
    assert (first.count, first.uids) == (10, [f"Cp{i:03d}" for i in range(10)])  # as soon as it is known
    (last,) = harness.evidence()
    assert last.id == first.id
    assert (last.count, last.occurrences) == (23, 2)
    assert last.uids == [f"Cp{i:03d}" for i in range(12)] + [f"Cp{50 + i:03d}" for i in range(11)]


def test_lookups_between_bursts_do_not_count():
    records = sweep(10, 0.9) + [ptr(200 + i, T0 + 60 + 30 * i) for i in range(20)]
    assert [e.count for e in Harness(DnsArpaScan).feed(*records).evidence()] == [10]


@pytest.mark.parametrize(
    "queries",
    [
        ["same.1.168.192.in-addr.arpa"] * 15,  # repeats count once
        [f"{i:x}.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa" for i in range(15)],
        [f"host{i}.example.com" for i in range(15)],
    ],
)
def test_repeats_ipv6_and_forward_names_do_not_count(queries):
    assert run([ptr(i, T0 + 0.1 * i, query=q) for i, q in enumerate(queries)]) == []


def test_case_and_trailing_dot():
    records = [ptr(i, T0 + 0.1 * i, query=f"{i}.1.168.192.IN-ADDR.ARPA.") for i in range(10)]
    assert len(run(records)) == 1


def test_per_profile():
    assert run([ptr(i, T0 + 0.1 * i, saddr=f"192.168.1.{20 + i % 2}") for i in range(18)]) == []


def test_config_and_slips_keys():
    cfg = config(flow_alerts={"arpa_scan": {"threshold": 3, "window": 10.0}})
    assert [e.count for e in Harness(DnsArpaScan, cfg=cfg).feed(*sweep(4, 9.0)).evidence()] == [4]
    cfg = config(flow_alerts={"arpa_scan_threshold": 3, "arpa_scan_window": 10.0})
    assert [e.count for e in Harness(DnsArpaScan, cfg=cfg).feed(*sweep(4, 9.0)).evidence()] == [4]


def test_any_order_gives_the_same_evidence():
    records = sweep(15, 1.4) + [ptr(100 + i, T0 + 30 + 5 * i) for i in range(6)] + sweep(11, 1.0, T0 + 600, 50)
    expected = run(records)
    assert [e[7] for e in expected] == [26]
    assert run(in_zeek_order(records)) == run(list(reversed(records))) == expected
    for seed in range(5):
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        assert run(shuffled) == expected


@pytest.mark.parametrize(
    ("times", "names", "seconds", "members"),
    [
        ([0, 1, 2], "abc", 2.0, [True, True, True]),
        ([0, 1, 2], "aab", 2.0, [False, False, False]),  # only 2 distinct names
        ([0, 1, 2.5, 3], "abcd", 2.0, [False, True, True, True]),  # [1, 3] holds b, c, d; [0, 2] only a, b
        ([0, 1, 2.5, 3], "abcd", 1.9, [False, False, False, False]),
        ([0, 1, 5, 6, 7], "abcde", 2.0, [False, False, True, True, True]),
        ([0, 2, 4], "abc", 4.0, [True, True, True]),  # inclusive
        ([], "", 2.0, []),
    ],
)
def test_burst_members(times, names, seconds, members):
    assert burst_members(list(zip(times, names)), seconds, 3) == members


# WRCCDC 2018: 10.47.2.10 answers its team's queries (a resolver) and looks up the
# reverse names of 172.20.0.x hosts for them (dns.log, ts, uid, source port, query).
RESOLVER_SWEEP = [
    ("2018-03-24T17:20:15.608203Z", "CkrZWqYIaIMx7R1n3", 62831, "102.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:15.748189Z", "Cf36nK3bbcIa2QI9ef", 62164, "97.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:15.877912Z", "C7VnWb4h2IaHJSMpef", 63364, "104.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.007927Z", "CZGIyw2LhPBmR2t6xd", 63692, "98.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.127940Z", "CUBpV44DoWGuPDRlpk", 63699, "105.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.248042Z", "C9NznQ2OAR7JIDVOY4", 62184, "100.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.377890Z", "CtWIbc4R7ssaEb7Ib1", 62228, "106.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.498272Z", "CqmIbT3aaxxcLR00I3", 62180, "103.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.628086Z", "CLGwYO3XBjDyTi0vCi", 63568, "101.0.20.172.in-addr.arpa"),
    ("2018-03-24T17:20:16.747842Z", "CdVCIa3m2mayEOUlVi", 64025, "99.0.20.172.in-addr.arpa"),
]


def wrccdc_dns(ts, uid, sport, query, saddr="10.47.2.10", daddr="10.0.0.100", answers=(), qtype="PTR",
               rcode="NXDOMAIN"):
    fields = {"_path": "dns", "ts": ts, "uid": uid, "id.orig_h": saddr, "id.orig_p": sport, "id.resp_h": daddr,
              "id.resp_p": 53, "proto": "udp", "query": query, "qclass": 1, "qclass_name": "C_INTERNET",
              "qtype_name": qtype, "rcode_name": rcode, "RD": True, "rejected": False}
    if answers:
        fields.update(answers=list(answers), TTLs=[86400.0] * len(answers))
    return from_zeek(DnsRecord, fields)


@pytest.mark.parametrize("answered_first", [True, False])
def test_a_dns_resolvers_reverse_lookups_are_context_not_a_scan(answered_first):
    sweep_records = [wrccdc_dns(*row) for row in RESOLVER_SWEEP]
    answer = wrccdc_dns("2018-03-24T17:20:15.683184Z", "CufzKX2H0vMuF4aV9h", 57560, "store.oompa.loompa",
                        saddr="10.196.136.60", daddr="10.47.2.10", answers=["10.47.2.142"], qtype="A",
                        rcode="NOERROR")
    records = [answer, *sweep_records] if answered_first else [*sweep_records, answer]
    (evidence,) = Harness(DnsArpaScan).feed(*records).evidence()
    assert (evidence.profile, evidence.threat_level.value, evidence.count) == ("10.47.2.10", "info", 10)
    # Without the answer it is a sweep.
    (evidence,) = Harness(DnsArpaScan).feed(*sweep_records).evidence()
    assert (evidence.profile, evidence.threat_level.value, evidence.count) == ("10.47.2.10", "medium", 10)
