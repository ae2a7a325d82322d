"""LONG_CONNECTION (seed "Long Connections"; spec 2.1, 4.1)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import ThreatLevel
from flowalerts.detections.conn.long_connection import LongConnection, LongConnectionDetails
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn, in_zeek_order, summary


def details(duration: float, dport: int = 80, proto: str = "tcp", service: str = "") -> dict:
    return {"kind": "LongConnectionDetails", "duration": duration, "threshold": 1500.0, "dport": dport, "proto": proto,
            "service": service}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # Positive: strictly longer than 1500 s; confidence = dur / 86400, 2 decimals.
        (conn(dur=1501.0), [("LONG_CONNECTION", CLIENT, 1, CLIENT, SERVER, "low", 0.02, 1, details(1501.0))]),
        (conn(dur=7200.0), [("LONG_CONNECTION", CLIENT, 1, CLIENT, SERVER, "low", 0.08, 1, details(7200.0))]),
        (conn(dur=90000.0), [("LONG_CONNECTION", CLIENT, 1, CLIENT, SERVER, "low", 1.0, 1, details(90000.0))]),
        # A session of a protocol Zeek recognised: reported as context (info).
        (conn(dur=7200.0, appproto="ssl"),
         [("LONG_CONNECTION", CLIENT, 1, CLIENT, SERVER, "info", 0.08, 1, details(7200.0, service="ssl"))]),
        # Threshold edge: exactly 1500 s is not long.
        (conn(dur=1500.0), []),
        (conn(dur=10.0), []),
        # Exception: multicast on either side.
        (conn(dur=5000.0, daddr="239.255.255.250", dport=1900, proto="udp"), []),
        (conn(dur=5000.0, saddr="224.0.0.251"), []),
    ],
)
def test_long_connection(record, expected):
    assert [summary(e) for e in Harness(LongConnection).feed(record).evidence()] == expected


def test_threshold_from_config_and_slips_key():
    assert [e.details for e in Harness(LongConnection, cfg=config(flow_alerts={"long_connection": {"threshold": 60}}))
            .feed(conn(dur=61.0)).evidence()] == [LongConnectionDetails(duration=61.0, threshold=60.0, dport=80, proto="tcp")]
    # Slips's flat key keeps working.
    assert len(Harness(LongConnection, cfg=config(flow_alerts={"long_connection_threshold": 60}))
               .feed(conn(dur=61.0)).evidence()) == 1


def test_evidence_fields():
    (evidence,) = Harness(LongConnection).feed(conn(uid="CLong", dur=3000.0, sport=40000, dport=443)).evidence()
    assert (evidence.uids, evidence.src_port, evidence.dst_port, evidence.ts, evidence.threat_level) == (
        ["CLong"], 40000, 443, T0, ThreatLevel.LOW)


def test_zeek_write_order_keeps_the_window():
    # A 50-minute connection starting in window 1 is written by Zeek after short
    # connections of window 2: it still belongs to window 1.
    records = [conn(uid="CLong", starttime=T0 + 3000, dur=3000.0)] + [
        conn(uid=f"C{i}", starttime=T0 + 3600 + i * 60, dur=1.0) for i in range(30)
    ]
    (evidence,) = Harness(LongConnection).feed(*in_zeek_order(records)).evidence()
    assert (evidence.uids, evidence.timewindow) == (["CLong"], 1)


def test_a_long_tls_session_of_a_windows_host_is_context_not_a_finding():
    """CTU-Normal-44 day 2 (labelled Benign): 147.32.83.161 kept a TLS session
    to 18.197.249.189:443 open for 6.5 hours (one of seven in parallel)."""
    record = conn(uid="CjrQq93heO6IXPL4xl", starttime=T0, saddr="147.32.83.161", sport=38558,
                  daddr="18.197.249.189", dport=443, proto="tcp", appproto="ssl", dur=23597.228024, sbytes=211893,
                  dbytes=868052, state="S1", missed_bytes=239522, history="ShADacdC")
    (evidence,) = Harness(LongConnection).feed(record).evidence()
    assert (evidence.threat_level, evidence.confidence, evidence.details) == (
        ThreatLevel.INFO, 0.27, LongConnectionDetails(duration=23597.228024, threshold=1500.0, dport=443,
                                                      proto="tcp", service="ssl"))


def test_a_long_connection_arriving_after_its_window_was_settled_is_still_reported():
    records = [conn(uid="C0", dur=1.0)] + [conn(uid=f"S{i}", starttime=T0 + 3600 + i * 300, dur=1.0) for i in range(30)]
    harness = Harness(LongConnection).feed(*records)
    assert harness.so_far() == []  # (releases the records held while T0 is chosen)
    harness.feed(conn(uid="Clate", starttime=T0 + 10, dur=5000.0))  # window 1 closed long ago
    assert harness.driver.health.late_records["new_flow"] == 1
    assert [(e.uids, e.timewindow, e.details) for e in harness.evidence()] == [
        (["Clate"], 1, LongConnectionDetails(duration=5000.0, threshold=1500.0, dport=80, proto="tcp"))]
