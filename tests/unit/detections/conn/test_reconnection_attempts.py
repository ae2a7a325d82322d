"""MULTIPLE_RECONNECTION_ATTEMPTS (seed; spec 2.12, 2.13, 4.10; issue 13: one evidence per target)."""

from __future__ import annotations

import pytest

from flowalerts.detections.conn.reconnection_attempts import (
    ReconnectionAttempts,
    ReconnectionDetails,
)
from tests.harness import CLIENT, T0, Harness, conn, in_zeek_order


def attempts(n, state="REJ", dport=8080, proto="tcp", spkts=1, dpkts=1, daddr="10.0.0.1", start=T0):
    return [conn(uid=f"C{i:03d}", state=state, dport=dport, proto=proto, daddr=daddr, spkts=spkts, dpkts=dpkts,
                 starttime=start + i) for i in range(n)]


def final(records):
    return [(e.threat_level.value, e.confidence, e.details) for e in Harness(ReconnectionAttempts).feed(*records).evidence()]


def rd(attempts, dport=8080, threshold=5, states=("REJ",)):
    return ReconnectionDetails(attempts=attempts, threshold=threshold, dport=dport, telnet=dport == 0,
                               states=list(states))


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (attempts(5), [("medium", 0.5, rd(5))]),
        (attempts(4), []),  # below the threshold
        (attempts(5, state="S0"), [("medium", 0.5, rd(5, states=["S0"]))]),
        (attempts(5, state="RSTOS0"), [("medium", 0.5, rd(5, states=["RSTOS0"]))]),
        (attempts(5, state="SH"), [("medium", 0.5, rd(5, states=["SH"]))]),
        (attempts(5, state="RSTR"), [("medium", 0.5, rd(5, states=["RSTR"]))]),  # <= 3 packets: not established
        (attempts(5, state="RSTR", spkts=3, dpkts=3), []),  # > 3 packets: established
        (attempts(5, state="SF"), []),
        (attempts(5, proto="udp", state="S0"), []),  # UDP has no handshake
        # One evidence per target, growing with the count (scale_with_count).
        (attempts(9), [("medium", 0.5, rd(9))]),
        (attempts(10), [("medium", 0.6, rd(10))]),
        (attempts(20), [("high", 0.7, rd(20))]),
        (attempts(143), [("critical", 0.9, rd(143))]),
        # Telnet: threshold 4, 23 and 2323 together.
        (attempts(4, dport=23), [("medium", 0.5, rd(4, dport=0, threshold=4))]),
        (attempts(3, dport=23), []),
        (attempts(2, dport=23) + attempts(2, dport=2323, start=T0 + 10),
         [("medium", 0.5, rd(4, dport=0, threshold=4))]),
    ],
)
def test_reconnection_attempts(records, expected):
    assert final(records) == expected


def test_reported_at_threshold_then_updated_with_every_uid():
    harness = Harness(ReconnectionAttempts).feed(*attempts(12))
    (first,) = harness.so_far()
    assert (first.count, first.uids) == (5, ["C000", "C001", "C002", "C003", "C004"])
    (last,) = harness.evidence()
    assert last.id == first.id
    assert (last.count, last.occurrences, last.uids) == (12, 2, [f"C{i:03d}" for i in range(12)])
    assert (last.attacker.value, last.victim.value, last.timewindow, last.ts) == (CLIENT, "10.0.0.1", 1, T0)


def test_counted_per_destination_port_and_window():
    records = [conn(uid=f"A{i}", state="REJ", dport=80 + (i % 2), starttime=T0 + i) for i in range(8)]
    records += [conn(uid=f"B{i}", state="REJ", dport=80, starttime=T0 + 3600 + i) for i in range(3)]
    assert final(records) == []


def test_any_order_within_lateness_gives_the_same_evidence():
    records = attempts(17)
    assert final(records) == final(list(reversed(records))) == final(in_zeek_order(records))
