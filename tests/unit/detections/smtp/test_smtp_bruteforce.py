"""SMTP_LOGIN_BRUTEFORCE (seed "SMTP bruteforce"; spec 2.23, 4.18; issue 13: one evidence per server and window)."""

from __future__ import annotations

import random

import pytest

from flowalerts.detections.smtp.smtp_bruteforce import SmtpBruteforce, SmtpBruteforceDetails
from tests.harness import CLIENT, SERVER, T0, Harness, config, in_zeek_order, smtp, summary

BAD = "554 5.7.1 bad smtp-auth user"


def failures(offsets, server=SERVER, first=0):
    return [smtp(uid=f"C{first + i:02d}", starttime=T0 + off, daddr=server, last_reply=BAD)
            for i, off in enumerate(offsets)]


def run(*records, **kw):
    return [summary(e) for e in Harness(SmtpBruteforce, **kw).feed(*records).evidence()]


def ev(n, level="high", confidence=1.0):
    details = {"kind": "SmtpBruteforceDetails", "failures": n, "threshold": 3, "window": 10.0, "server": SERVER}
    return [("SMTP_LOGIN_BRUTEFORCE", CLIENT, 1, CLIENT, SERVER, level, confidence, n, details)]


@pytest.mark.parametrize(
    ("offsets", "result"),
    [
        ([0], []),
        ([0, 1], []),
        ([0, 1, 2], ev(3)),
        ([0, 5, 9], ev(3)),
        ([0, 5, 10], ev(3)),  # the window is inclusive
        ([0, 6, 11], []),  # t+11 pushes t out
        ([0, 1, 2, 3, 4], ev(5)),  # one burst, one evidence
        ([0, 1, 2, 20, 21, 22], ev(6)),  # two bursts, one evidence per window
        ([0, 1, 2, 20, 40, 60], ev(3)),  # failures outside any burst do not count
        (list(range(12)), ev(12, "critical")),  # x4 the threshold: one level up
    ],
)
def test_bursts(offsets, result):
    assert run(*failures(offsets)) == result


def test_reported_at_the_first_burst_then_updated_with_every_uid():
    harness = Harness(SmtpBruteforce).feed(*failures([0, 1, 2, 3, 30, 31, 32]))
    (first,) = harness.so_far()
    assert (first.count, first.uids) == (3, ["C00", "C01", "C02"])
    (last,) = harness.evidence()
    assert last.id == first.id
    assert (last.count, last.occurrences, last.uids, last.ts) == (
        7, 2, ["C00", "C01", "C02", "C03", "C04", "C05", "C06"], T0)


def test_failures_to_different_servers_are_separate():
    records = failures([0, 1]) + failures([2], server="198.51.100.25", first=2)
    assert run(*records) == []


def test_good_replies_do_not_count():
    records = [smtp(uid="C0", last_reply=BAD), smtp(uid="C1", starttime=T0 + 1, last_reply="250 ok"),
               smtp(uid="C2", starttime=T0 + 2, last_reply=BAD)]
    assert run(*records) == []


def test_config_and_slips_keys():
    for cfg in (config(flow_alerts={"smtp_bruteforce": {"threshold": 4, "window": 3}}),
                config(flow_alerts={"smtp_bruteforce_threshold": 4, "smtp_bruteforce_window": 3})):
        assert run(*failures([0, 1, 2]), cfg=cfg) == []
        assert [e.details for e in Harness(SmtpBruteforce, cfg=cfg).feed(*failures([0, 1, 2, 3])).evidence()] == [
            SmtpBruteforceDetails(failures=4, threshold=4, window=3.0, server=SERVER)]


def test_any_order_gives_the_same_evidence():
    records = failures([0, 1, 2, 3, 4, 20, 21, 22, 40, 60, 61, 75])
    expected = run(*records)
    assert [e[7] for e in expected] == [8]
    assert run(*in_zeek_order(records)) == run(*reversed(records)) == expected
    for seed in range(5):
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        assert run(*shuffled) == expected
