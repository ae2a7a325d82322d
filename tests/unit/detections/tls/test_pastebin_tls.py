"""PASTEBIN_DOWNLOAD over TLS (seed; spec 2.20 INTENT, 4.16): the downloaded bytes of
the joined conn record, which Zeek writes when the connection ends."""

from __future__ import annotations

import msgspec
import pytest

from flowalerts.detections.shared.pastebin import PastebinDetails
from flowalerts.detections.tls.pastebin_tls import PastebinTls
from tests.harness import CLIENT, T0, Harness, config, conn, in_zeek_order, ssl, summary


def tls_download(uid="Cssl1", start=T0, server_name="pastebin.com", dbytes=15000, dur=2.0):
    """The ssl record (written at the handshake) and its conn record (written at the end)."""
    return [ssl(uid=uid, starttime=start, server_name=server_name),
            conn(uid=uid, starttime=start, dport=443, appproto="ssl", dbytes=dbytes, dur=dur)]


def row(server_name, total, count=1, largest=None, threshold=700):
    d = msgspec.to_builtins(PastebinDetails(host=server_name, downloads=count, total_bytes=total,
                                            largest_bytes=largest or total, threshold=threshold, path="tls"))
    return ("PASTEBIN_DOWNLOAD", CLIENT, 1, CLIENT, None, "info", 1.0, count, d)


def run(records, cfg=None):
    return Harness(PastebinTls, cfg=cfg).feed(*in_zeek_order(records)).evidence()


@pytest.mark.parametrize(
    ("server_name", "dbytes", "expected"),
    [
        ("pastebin.com", 700, [row("pastebin.com", 700)]),  # the threshold is inclusive
        ("www.PasteBin.com", 15000, [row("www.pastebin.com", 15000)]),
        ("pastebin.com", 699, []),
        ("www.example.com", 15000, []),
        ("", 15000, []),
    ],
)
def test_threshold_table(server_name, dbytes, expected):
    found = run(tls_download(server_name=server_name, dbytes=dbytes))
    assert [summary(e) for e in found] == expected
    for evidence in found:
        assert (evidence.uids, evidence.dst_port, evidence.victim) == (["Cssl1"], 443, None)


def test_a_long_connection_is_joined_when_its_conn_record_comes_hours_later():
    records = tls_download(dbytes=1_048_576, dur=3 * 3600)
    records.append(conn(uid="Cother", starttime=T0 + 5 * 3600, dport=80))  # moves flow time on
    assert [summary(e) for e in run(records)] == [row("pastebin.com", 1_048_576)]


def test_a_conn_record_past_the_wait_is_not_joined():
    # Flow time passes the wait (another connection ends 2.5 h later) before the 5-hour download ends.
    cfg = config(flow_alerts={"pastebin_tls": {"max_wait": 3600}})
    records = tls_download(dur=5 * 3600)
    records.append(conn(uid="Cother", starttime=T0 + 2.5 * 3600, dport=80))
    assert run(records, cfg) == []
    # A 5-hour download outlives the default allowed lateness (1 h): its window
    # closed before Zeek wrote it, so it is counted as late, not reported ...
    harness = Harness(PastebinTls).feed(*in_zeek_order(records))
    assert harness.evidence() == [] and harness.driver.health.late_window_use["pastebin_tls"] == 1
    # ... unless the lateness allows for it.
    cfg = config(time={"allowed_lateness": 6 * 3600})
    assert [summary(e) for e in run(records, cfg)] == [row("pastebin.com", 15000)]


def test_slips_key_sets_the_threshold():
    cfg = config(flow_alerts={"pastebin_download_threshold": 12000})
    assert run(tls_download(dbytes=11999), cfg) == []
    assert [summary(e) for e in run(tls_download(dbytes=12000), cfg)] == [row("pastebin.com", 12000, threshold=12000)]


def test_without_its_conn_record_nothing_is_reported():
    harness = Harness(PastebinTls).feed(ssl(server_name="pastebin.com"))
    assert harness.evidence() == []
    assert harness.driver.state.size()["timers"] == 0


def test_one_evidence_per_host_and_window_with_the_total():
    records = tls_download(uid="C1", dbytes=1000) + tls_download(uid="C2", start=T0 + 60, dbytes=5000)
    records += tls_download(uid="C3", start=T0 + 90, dbytes=100)  # below the threshold: not counted
    records += tls_download(uid="C4", start=T0 + 100, server_name="pastebin.pl", dbytes=800)
    found = run(records)
    assert [summary(e) for e in found] == [row("pastebin.com", 6000, count=2, largest=5000), row("pastebin.pl", 800)]
    assert found[0].uids == ["C1", "C2"]


def test_needs_conn_log():
    assert PastebinTls.required_logs() == ("ssl", "conn")


def test_the_conn_record_decides_on_arrival_even_once_the_bounded_conn_table_forgot_it(monkeypatch):
    # A busy network: by the time the timer would look the conn record up, the
    # learner's bounded table (here 8 entries) has forgotten it.
    import flowalerts.learners.conn as facts

    monkeypatch.setattr(facts, "CONN_BY_UID_MAX", 8)
    ssl_record, its_conn = tls_download(dur=600.0)
    others = [conn(uid=f"Cx{i}", starttime=T0 + 700 + i, dport=443, appproto="ssl") for i in range(40)]
    harness = Harness(PastebinTls).feed(ssl_record).advance(T0 + 1)
    assert len(harness.driver.state.timers) == 1
    harness.feed(its_conn).advance(T0 + 2)
    assert len(harness.driver.state.timers) == 0  # decided at once
    assert [summary(e) for e in harness.feed(*others).evidence()] == [row("pastebin.com", 15000)]
