"""MULTIPLE_RECONNECTION_ATTEMPTS (seed; spec 2.12, 2.13, 4.10; issue 13: one evidence per target)."""

from __future__ import annotations

import pytest

from flowalerts.detections.conn.reconnection_attempts import (
    Answered,
    ReconnectionAttempts,
    ReconnectionDetails,
)
from tests.harness import CLIENT, T0, Harness, conn, in_zeek_order

# The history Zeek logs with each state for an attempt that exchanged nothing.
HISTORY = {"REJ": "Sr", "S0": "S", "RSTOS0": "SR", "SH": "SF", "RSTR": "ShAr", "SF": "ShAFaf"}


def attempts(n, state="REJ", dport=8080, proto="tcp", spkts=1, dpkts=1, daddr="10.0.0.1", start=T0):
    return [conn(uid=f"C{i:03d}", state=state, history=HISTORY[state], sbytes=0, dbytes=0, dport=dport, proto=proto,
                 daddr=daddr, spkts=spkts, dpkts=dpkts, starttime=start + i) for i in range(n)]


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


def ctu_normal44(uid, daddr, sport, dur, sbytes, dbytes, state, history, ts=T0):
    """A conn record of CTU-Normal-44 day 2 from the Windows host 147.32.83.161
    (labelled Benign) to port 443, with its fields as Zeek logged them."""
    return conn(uid=uid, starttime=ts, saddr="147.32.83.161", sport=sport, daddr=daddr, dport=443, dur=dur,
                sbytes=sbytes, dbytes=dbytes, state=state, history=history, spkts=4, dpkts=4)


def test_records_that_are_not_attempts_of_the_profile_do_not_count():
    # Five RSTOS0 records to CloudFront carrying up to a megabyte from the server:
    # connections Zeek saw part of, not failed attempts.
    partly_seen = [
        ctu_normal44("C6pEPR1A3iy0HECAc4", "65.9.95.36", 55990, 0.024772, 1101, 1010665, "RSTOS0", "DdAcR"),
        ctu_normal44("CsPF5eOeNUFPQNfM7", "65.9.95.36", 55986, 0.022650, 1101, 102782, "RSTOS0", "SacAdDFR"),
        ctu_normal44("CwjXAY25tzkcXpJdzd", "65.9.95.36", 55992, 0.024252, 1728, 250399, "RSTOS0", "DdaAcR"),
        ctu_normal44("Cg0EbG3U7uGuaKEw5d", "65.9.95.36", 55984, 0.023344, 1101, 324275, "RSTOS0", "AcDadR"),
        ctu_normal44("CSuGUK28q1UbdHJb0h", "65.9.95.36", 55996, 0.041335, 1101, 1019451, "RSTOS0", "ADadcR"),
    ]
    # Five SHR records of the server's FIN (and 77 bytes) after a long connection from port 55644 ended.
    tails = [ctu_normal44(uid, "99.80.81.227", 55644, 0.00001, 0, 77, "SHR", "f", T0 + n)
             for n, uid in enumerate(["CZUnbR3PmllMR3Ksmb", "CnUawY3pCR94IQr8mc", "C2ZjHsoCbFbzOEjQ6",
                                      "CRNOuG1ckVTN4gQoW", "CQkQwb3asG8u3Ahfyl"])]
    assert final(partly_seen) == [] and final(tails) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, [("medium", 0.5, rd(6, states=["S0"]))]),
        # An established connection in the window: the failures were transient (info).
        (conn(uid="Cok", state="SF", daddr="10.0.0.1", dport=8080), [("info", 0.5, rd(6, states=["S0"]))]),
        (conn(uid="Cpart", state="RSTOS0", history="DdAcR", sbytes=10, dbytes=5000, daddr="10.0.0.1", dport=8080),
         [("info", 0.5, rd(6, states=["S0"]))]),  # payload from the server
        (conn(uid="Cother", state="SF", daddr="10.0.0.1", dport=8081), [("medium", 0.5, rd(6, states=["S0"]))]),  # another port
        (conn(uid="Cnext", state="SF", daddr="10.0.0.1", dport=8080, starttime=T0 + 3700), [("medium", 0.5, rd(6, states=["S0"]))]),
    ],
)
def test_not_when_the_server_answered_the_profile_in_the_window(answer, expected):
    records = attempts(6, state="S0")
    if answer is not None:
        records.append(answer)
    assert final(records) == expected
    assert final(list(reversed(records))) == expected


@pytest.mark.parametrize(
    ("kept", "asked", "found"),
    [
        (("10.0.0.1", 443), ("10.0.0.1", 443), True),
        (("10.0.0.1", 443), ("10.0.0.1", 444), False),
        (("10.0.0.1", 443), ("10.0.0.2", 443), False),
        (("2001:db8::1", 443), ("2001:db8::1", 443), True),
        (("2001:db8::1", 443), ("2001:db8::2", 443), False),
        (("0.0.0.0", 0), ("0.0.0.0", 0), True),
        (("255.255.255.255", 65535), ("255.255.255.255", 65534), False),
    ],
)
def test_answered_targets_are_kept_exactly_in_their_compact_form(kept, asked, found):
    answered = Answered()
    assert answered.add(kept) and not answered.add(kept)
    assert (asked in answered) is found
