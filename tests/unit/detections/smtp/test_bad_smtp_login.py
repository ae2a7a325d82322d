"""BAD_SMTP_LOGIN (seed "Bad SMTP logins"; spec 2.22, 4.18; issue 13: one evidence per server and window)."""

from __future__ import annotations

import pytest

from flowalerts.detections.smtp.bad_smtp_login import BadSmtpLogin
from tests.harness import CLIENT, SERVER, T0, Harness, in_zeek_order, smtp, summary

BAD = "554 5.7.1 bad smtp-auth user"


def run(*records):
    return [summary(e) for e in Harness(BadSmtpLogin).feed(*records).evidence()]


def ev(n=1, level="high", reply=BAD, server=SERVER, client=CLIENT):
    details = {"kind": "BadSmtpLoginDetails", "failures": n, "server": server, "last_reply": reply}
    return ("BAD_SMTP_LOGIN", client, 1, client, server, level, 1.0, n, details)


@pytest.mark.parametrize(
    ("reply", "result"),
    [
        (BAD, [ev()]),
        ("535 5.7.8 Bad SMTP-AUTH user", [ev(reply="535 5.7.8 Bad SMTP-AUTH user")]),
        ("535 5.7.8 Error: authentication failed", [ev(reply="535 5.7.8 Error: authentication failed")]),
        ("250 2.0.0 Ok: queued", []),
        ("535", []),
        ("550 5.1.1 user unknown", []),
        ("", []),
    ],
)
def test_replies(reply, result):
    assert run(smtp(last_reply=reply)) == result


def test_ipv6():
    assert run(smtp(saddr="2001:db8::1", daddr="2001:db8::25", last_reply=BAD)) == [
        ev(server="2001:db8::25", client="2001:db8::1")]


@pytest.mark.parametrize(("n", "level"), [(2, "high"), (3, "high"), (4, "critical"), (40, "critical")])
def test_one_evidence_per_server_growing_with_the_count(n, level):
    records = [smtp(uid=f"C{i:02d}", starttime=T0 + 60 * i, last_reply=BAD) for i in range(n)]
    (evidence,) = Harness(BadSmtpLogin).feed(*records).evidence()
    assert summary(evidence) == ev(n, level)
    assert (evidence.occurrences, evidence.uids) == (n, [f"C{i:02d}" for i in range(n)])


def test_per_server_and_window():
    records = [smtp(uid="A", last_reply=BAD), smtp(uid="B", daddr="198.51.100.25", starttime=T0 + 1, last_reply=BAD),
               smtp(uid="W2", starttime=T0 + 3600, last_reply=BAD)]
    got = [(e.victim.value, e.timewindow, e.uids) for e in Harness(BadSmtpLogin).feed(*records).evidence()]
    assert got == [(SERVER, 1, ["A"]), ("198.51.100.25", 1, ["B"]), (SERVER, 2, ["W2"])]


def test_any_order_gives_the_same_evidence():
    records = [smtp(uid=f"C{i}", starttime=T0 + i, last_reply=BAD) for i in range(5)]
    assert run(*records) == run(*reversed(records)) == run(*in_zeek_order(records))


def test_hostile_reply_escaped():
    (evidence,) = Harness(BadSmtpLogin).feed(smtp(last_reply="535 authentication\x1b[2J\nfailed")).evidence()
    assert "\x1b" not in evidence.description and "\n" not in evidence.description


def test_a_late_record_does_not_replace_its_settled_window():
    # A bad login of window 1 that arrives after window 1 closed (more than the
    # allowed lateness after its end): counted as late, the evidence stays.
    records = [smtp(uid="A", last_reply=BAD), smtp(uid="B", starttime=T0 + 1, last_reply=BAD),
               smtp(uid="X", starttime=T0 + 3 * 3600, last_reply="250 ok"),  # flow time moves on
               smtp(uid="LATE", starttime=T0 + 2, last_reply=BAD)]
    harness = Harness(BadSmtpLogin).feed(*records)
    (evidence,) = harness.evidence()
    assert (evidence.count, evidence.uids) == (2, ["A", "B"])
    assert harness.driver.health.late_window_use == {"bad_smtp_login": 1}
