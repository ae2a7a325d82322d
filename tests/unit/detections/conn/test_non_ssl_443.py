"""NON_SSL_PORT_443_CONNECTION (seed; spec 2.29, 4.23; issue 13: mid-stream, one per destination;
issue 12: decided by the timer service)."""

from __future__ import annotations

import msgspec
import pytest

from flowalerts.detections.conn.non_ssl_443 import NonSsl443, NonSsl443Details
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn, in_zeek_order, ssl, summary


def candidate(**kw):
    return conn(**{"uid": "Cplain", "dport": 443, "appproto": "", "sbytes": 10, "dbytes": 20, "state": "SF", **kw})


def details(connections=1, services=("",), payload=30, window=300.0) -> dict:
    return {"kind": "NonSsl443Details", "connections": connections, "services": list(services), "window": window,
            "bytes": payload}


def ev(count=1, level="medium", confidence=0.8, twid=1, **kw):
    return ("NON_SSL_PORT_443_CONNECTION", CLIENT, twid, CLIENT, SERVER, level, confidence, count,
            details(connections=count, **kw))


def run(*records, cfg=None):
    return [summary(e) for e in Harness(NonSsl443, cfg=cfg).feed(*records).evidence()]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (candidate(), [ev()]),
        (candidate(appproto="http"), [ev(services=("http",))]),
        (candidate(history=""), [ev()]),  # no history logged: judged by the state
        (candidate(appproto="ssl"), []),
        (candidate(appproto="ssl,http"), []),  # a composite naming ssl is TLS
        (candidate(sbytes=0, dbytes=0), []),  # no payload
        (candidate(state="S0", history="S"), []),  # not established
        (candidate(dport=8443), []),
        (candidate(proto="udp"), []),
        # Mid-stream (issue 13): Zeek never saw the handshake, so it could not see TLS either.
        (candidate(state="OTH", history="DadA"), []),
        (candidate(state="S1", history="DTaT"), []),
        (candidate(state="SF", history="^hADadFf"), []),  # flipped: the SYN was missed
    ],
)
def test_candidates(record, expected):
    assert run(record) == expected


def ctu_normal44(uid, daddr, dur, sbytes, dbytes, state, missed, history, ts):
    """A conn record of CTU-Normal-44 day 2 (the Windows host 147.32.83.161,
    labelled Benign), with its fields as Zeek logged them; service '-'."""
    return conn(uid=uid, starttime=ts, saddr="147.32.83.161", sport=53000, daddr=daddr, dport=443, proto="tcp",
                appproto="", dur=dur, sbytes=sbytes, dbytes=dbytes, state=state, missed_bytes=missed,
                history=history)


@pytest.mark.parametrize(
    "record",
    [
        # The SYN-ACK never seen, data first (weird.log: data_before_established).
        ctu_normal44("CcVDKM1w8k44FSfkL4", "34.213.111.63", 10.556917, 1910, 1388, "SF", 0, "SdAaDfF", T0),
        ctu_normal44("C8ba3l2ZOCxfO78gx3", "40.74.98.192", 6.085553, 2460, 483, "SF", 0, "SADdafF", T0),
        # Starts mid-handshake (the SYN-ACK before the SYN), then a content gap.
        ctu_normal44("CRCu6L293lF1AeDovg", "172.64.154.11", 5.180311, 1044, 313070, "SF", 0, "hSaADdcFf", T0),
        # A content gap; bytes missed.
        ctu_normal44("CU6EDw1qZx122ky9u", "52.212.43.230", 5.103838, 843, 104600, "S3", 96231, "ShaAcdDf", T0),
        # The handshake in order, no gap letter, but 568 bytes missed.
        ctu_normal44("CAvswALMKpzrWFDF9", "205.185.216.42", 41.789658, 568, 183, "RSTR", 568, "ShdfAr", T0),
    ],
)
def test_connections_zeek_only_partly_saw_are_not_evidence(record):
    assert run(record) == []
    # The same connection wholly seen is a candidate.
    whole = msgspec.structs.replace(record, missed_bytes=0, history="ShADadFf", state="SF")
    assert [e[0] for e in run(whole)] == ["NON_SSL_PORT_443_CONNECTION"]


@pytest.mark.parametrize(
    ("offset", "source", "expected"),
    [
        (-300, "conn", []),  # TLS 5 min before (edge included)
        (-301, "conn", [ev()]),
        (300, "conn", []),  # TLS 5 min after (edge included)
        (301, "conn", [ev()]),
        (-100, "ssl.log", []),
        (200, "ssl.log", []),
        (-1000, "ssl.log", [ev()]),
        (None, None, [ev()]),
    ],
)
def test_tls_between_the_same_hosts_nearby_clears_the_candidate(offset, source, expected):
    start = T0 + 1000
    records = [conn(uid="C0", starttime=T0, dport=80), candidate(starttime=start)]
    if offset is not None:
        ts = start + offset
        records.append(candidate(uid="Ctls", appproto="ssl", starttime=ts) if source == "conn" else ssl(starttime=ts))
    records.sort(key=lambda r: r.starttime)
    assert run(*records) == expected


def test_tls_of_other_hosts_or_ports_does_not_clear():
    records = [candidate(starttime=T0),
               ssl(saddr="192.168.1.99", starttime=T0 + 1),  # another client
               ssl(daddr="198.51.100.1", starttime=T0 + 2),  # another server
               ssl(dport=8443, starttime=T0 + 3)]  # another port
    assert run(*records) == [ev()]


def test_decided_when_the_watermark_passes_start_plus_window():
    harness = Harness(NonSsl443).feed(candidate(starttime=T0))
    # The watermark is the newest end time minus the allowed lateness (3600 s).
    assert harness.advance(T0 + 3600 + 299).so_far() == []
    assert [summary(e) for e in harness.advance(T0 + 3600 + 300).so_far()] == [ev()]


def test_window_from_config_and_slips_key():
    records = [candidate(starttime=T0), ssl(starttime=T0 + 100)]
    assert run(*records) == []
    assert run(*records, cfg=config(flow_alerts={"non_ssl_443_window": 60})) == [ev(window=60.0)]


def test_one_evidence_per_destination_growing_with_the_count():
    records = [candidate(uid=f"C{i}", appproto="http" if i % 2 else "", starttime=T0 + i * 10) for i in range(4)]
    out = Harness(NonSsl443).feed(*records).evidence()
    assert [summary(e) for e in out] == [ev(4, "high", 1.0, services=("", "http"), payload=120)]
    assert (out[0].uids, out[0].occurrences, out[0].dst_port) == (["C0", "C1", "C2", "C3"], 4, 443)


def test_a_decision_after_the_window_ended_still_counts_in_its_window():
    # A candidate 10 s before the end of window 1 is decided 290 s into window 2:
    # its window stays open for it (window_close_delay), one evidence in window 1.
    first = candidate(uid="C1", starttime=T0)
    last = candidate(uid="C2", starttime=T0 + 3590)
    later = [conn(uid=f"S{i}", starttime=T0 + 3600 + i * 60, dur=1.0) for i in range(120)]
    out = Harness(NonSsl443).feed(first, last, *later).evidence()
    assert [(e.timewindow, e.count, e.uids) for e in out] == [(1, 2, ["C1", "C2"])]
    # ... and TLS seen just after the window's end still clears it.
    out = Harness(NonSsl443).feed(first, last, ssl(starttime=T0 + 3700), *later).evidence()
    assert [(e.timewindow, e.count, e.uids) for e in out] == [(1, 1, ["C1"])]


def test_zeek_write_order_gives_the_same_evidence():
    # Long non-TLS connections are written when they end, after the ssl.log
    # records and short connections that started later.
    records = [candidate(uid=f"C{i}", starttime=T0 + i * 400, dur=2500.0) for i in range(4)]
    records += [ssl(uid="Ctls", starttime=T0 + 450)]  # clears C1 (400) only
    records += [conn(uid=f"S{i}", starttime=T0 + 50 + i * 30, dur=1.0) for i in range(60)]
    zeek = run(*in_zeek_order(records))
    assert zeek == run(*sorted(records, key=lambda r: r.starttime))
    assert zeek == [ev(3, confidence=0.9, payload=90)]
    assert Harness(NonSsl443).feed(*in_zeek_order(records)).evidence()[0].details == NonSsl443Details(
        connections=3, services=[""], window=300.0, bytes=90)


def test_tls_arriving_after_its_window_was_settled_still_clears_a_candidate_of_the_next():
    # Window 1 is settled (watermark past its end + 300 s) while a candidate of
    # window 2, 60 s after TLS between the same hosts in window 1, waits; that
    # TLS record then arrives late: it still clears the candidate.
    harness = Harness(NonSsl443).feed(candidate(starttime=T0), candidate(uid="C2", starttime=T0 + 3650))
    harness.advance(T0 + 3600 + 3600 + 301)
    assert [(e.timewindow, e.uids) for e in harness.so_far()] == [(1, ["Cplain"])]
    harness.feed(ssl(starttime=T0 + 3590))
    assert harness.driver.health.late_records["new_ssl"] == 1
    assert [(e.timewindow, e.uids) for e in harness.evidence()] == [(1, ["Cplain"])]
