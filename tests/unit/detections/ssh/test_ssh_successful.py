"""SSH_SUCCESSFUL (seed "Successful SSH connections"; spec 2.2, 4.2, 5.1 item 3; issue 12: the conn
record of a long session comes hours after the ssh record; issue 13: one evidence per server and window)."""

from __future__ import annotations

import pytest

from flowalerts.detections.ssh.ssh_successful import SshSuccessful, SshSuccessfulDetails
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn, in_zeek_order, ssh, summary


def session(sbytes, dbytes, dur=60.0, uid="Cssh1", ts=T0):
    return conn(starttime=ts, uid=uid, dport=22, appproto="ssh", sbytes=sbytes, dbytes=dbytes, dur=dur)


def login(auth=None, uid="Cssh1", ts=T0 + 1, **kw):
    return ssh(starttime=ts, uid=uid, auth_success=auth, **kw)


def other_traffic(start, end, step=60.0):
    out, t = [], start
    while t < end:
        out.append(conn(starttime=t, uid=f"Co{int(t - T0)}", daddr="198.51.100.200", dport=443))
        t += step
    return out


def run(*records, **kw):
    return [summary(e) for e in Harness(SshSuccessful, **kw).feed(*records).evidence()]


def ev(sessions=1, by_zeek=0, by_bytes=0, largest=-1, threshold=4290):
    details = {"kind": "SshSuccessfulDetails", "server": SERVER, "sessions": sessions, "by_zeek": by_zeek,
               "by_bytes": by_bytes, "largest_bytes": largest, "threshold": threshold}
    return ("SSH_SUCCESSFUL", CLIENT, 1, CLIENT, SERVER, "info", 0.8, sessions, details)


@pytest.mark.parametrize(
    ("auth", "sbytes", "dbytes", "result"),
    [
        (True, 10, 10, [ev(by_zeek=1, largest=20)]),  # Zeek's verdict, any size
        (None, 2000, 2291, [ev(by_bytes=1, largest=4291)]),  # 4291 > 4290
        (False, 2000, 2291, [ev(by_bytes=1, largest=4291)]),  # Zeek's heuristic can miss; the bytes decide
        (None, 2000, 2290, []),  # not above the threshold
        (False, 0, 0, []),
    ],
)
def test_methods(auth, sbytes, dbytes, result):
    records = [session(sbytes, dbytes), login(auth)]
    assert run(*records) == run(*in_zeek_order(records)) == result


def test_zeek_verdict_needs_no_conn_record_and_reports_at_once():
    harness = Harness(SshSuccessful).feed(login(True))
    assert [summary(e) for e in harness.so_far()] == [ev(by_zeek=1)]
    assert harness.evidence() == harness.so_far()  # no conn record ever: nothing to add


def test_zeek_verdict_gets_the_byte_count_when_the_conn_record_comes():
    harness = Harness(SshSuccessful).feed(*in_zeek_order([session(10, 10, dur=600), login(True)]))
    first, last = harness.evidence() and harness.emitted
    assert (summary(first), summary(last), first.id) == (ev(by_zeek=1), ev(by_zeek=1, largest=20), last.id)


def test_conn_record_written_after_the_ssh_record():
    # Zeek's order: the ssh record at the authentication, the conn record at the end.
    records = in_zeek_order([session(3000, 3000, dur=600), login(None)])
    assert [r.log_type for r in records] == ["ssh", "conn"]
    assert run(*records) == [ev(by_bytes=1, largest=6000)]


def test_long_session_joins_when_its_conn_record_comes_hours_later():
    # A 3-hour interactive session; traffic all along moves flow time far past
    # the ssh record before the conn record is written.
    records = [session(50_000, 900_000, dur=3 * 3600, uid="Clong"), login(None, uid="Clong")]
    records += other_traffic(T0 + 60, T0 + 4 * 3600)
    zeek_order = in_zeek_order(records)
    conn_at = next(i for i, r in enumerate(zeek_order) if r.uid == "Clong" and r.log_type == "conn")
    assert conn_at > 150 and zeek_order[-1].uid != "Clong"
    harness = Harness(SshSuccessful).feed(*zeek_order)
    assert harness.driver.state.timers.pending("ssh_successful", "Clong") is None  # decided
    (evidence,) = harness.evidence()
    assert summary(evidence) == ev(by_bytes=1, largest=950_000)
    assert (evidence.uids, evidence.ts) == (["Clong"], T0 + 1)
    assert run(*sorted(records, key=lambda r: r.starttime)) == [summary(evidence)]


def test_waits_at_most_max_wait():
    records = [session(50_000, 900_000, dur=3 * 3600, uid="Clong"), login(None, uid="Clong")]
    records += other_traffic(T0 + 60, T0 + 4 * 3600)
    cfg = config(flow_alerts={"ssh_successful": {"max_wait": 3600}})
    assert run(*in_zeek_order(records), cfg=cfg) == []


def test_no_conn_record_at_all():
    harness = Harness(SshSuccessful).feed(login(None))
    assert harness.evidence() == []
    assert harness.driver.state.size()["timers"] == 0


def test_one_evidence_per_server_and_window_updated_per_login():
    records = [session(10, 10, uid="A"), login(True, uid="A"),
               session(3000, 3000, uid="B", ts=T0 + 100), login(None, uid="B", ts=T0 + 101),
               session(10, 10, uid="C", ts=T0 + 200), login(None, uid="C", ts=T0 + 201),  # failed
               login(True, uid="D", ts=T0 + 3700)]  # window 2
    evidence = Harness(SshSuccessful).feed(*in_zeek_order(records)).evidence()
    assert [(e.timewindow, e.count, e.uids, e.details) for e in evidence] == [
        (1, 2, ["A", "B"], SshSuccessfulDetails(server=SERVER, sessions=2, by_zeek=1, by_bytes=1, largest_bytes=6000,
                                                threshold=4290)),
        (2, 1, ["D"], SshSuccessfulDetails(server=SERVER, sessions=1, by_zeek=1, by_bytes=0, largest_bytes=-1,
                                           threshold=4290)),
    ]


def test_threshold_from_config_and_slips_key():
    for cfg in (config(flow_alerts={"ssh_successful": {"threshold": 1000}}),
                config(flow_alerts={"ssh_succesful_detection_threshold": 1000})):
        assert run(session(600, 401), login(None), cfg=cfg) == [ev(by_bytes=1, largest=1001, threshold=1000)]


def test_without_uid_only_zeeks_verdict():
    assert run(session(3000, 3000, uid=""), login(None, uid="")) == []
    assert run(login(True, uid="")) == [ev(by_zeek=1)]


@pytest.mark.parametrize("auth", [None, True])
def test_the_conn_record_decides_on_arrival_even_once_the_bounded_conn_table_forgot_it(monkeypatch, auth):
    import flowalerts.learners.conn as facts

    monkeypatch.setattr(facts, "CONN_BY_UID_MAX", 8)
    harness = Harness(SshSuccessful).feed(login(auth)).advance(T0 + 2)
    assert len(harness.driver.state.timers) == 1
    harness.feed(session(2000, 2291, dur=900.0)).advance(T0 + 3)
    assert len(harness.driver.state.timers) == 0  # decided at once
    others = [conn(starttime=T0 + 1000 + i, uid=f"Cx{i}", dport=22, appproto="ssh") for i in range(40)]
    found = [summary(e) for e in harness.feed(*others).evidence()]
    assert found == [ev(by_zeek=1, largest=4291) if auth else ev(by_bytes=1, largest=4291)]


def test_a_conn_record_arriving_after_the_logins_window_was_settled_still_decides_it(monkeypatch):
    # The session's conn record comes after window 1 closed (it is late), and
    # the bounded conn table forgets it before the next check: only the
    # record itself can decide the login.
    import flowalerts.learners.conn as facts

    monkeypatch.setattr(facts, "CONN_BY_UID_MAX", 8)
    harness = Harness(SshSuccessful).feed(login(None, uid="Clong"), *other_traffic(T0 + 60, T0 + 3 * 3600))
    harness.feed(session(50_000, 900_000, dur=3 * 3600, uid="Clong"))
    assert harness.driver.health.late_records["new_flow"] == 1
    others = [conn(starttime=T0 + 3 * 3600 + i, uid=f"Cx{i}", dport=22, appproto="ssh") for i in range(40)]
    found = harness.feed(*others).evidence()
    assert [(summary(e), e.uids) for e in found] == [(ev(by_bytes=1, largest=950_000), ["Clong"])]
