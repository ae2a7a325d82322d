"""MULTIPLE_RECONNECTION_ATTEMPTS (spec 2.12, 2.13, 4.10, seed)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, conn


def flows(n, state="REJ", dport=8080, proto="tcp", spkts=1, dpkts=1, daddr="10.0.0.1"):
    return [conn(uid=f"C{i}", state=state, dport=dport, proto=proto, daddr=daddr, spkts=spkts, dpkts=dpkts,
                 starttime=T0 + i) for i in range(n)]


@pytest.mark.parametrize(
    ("records", "expected_counts"),
    [
        (flows(5), [5]),
        (flows(4), []),  # below the threshold
        (flows(5, state="S0"), [5]),
        (flows(5, state="RSTOS0"), [5]),
        (flows(5, state="SH"), [5]),
        (flows(5, state="RSTR", spkts=1, dpkts=1), [5]),  # RSTR with <= 3 packets: not established
        (flows(5, state="RSTR", spkts=3, dpkts=3), []),  # RSTR with > 3 packets: established
        (flows(5, state="SF"), []),
        (flows(10), [5, 10]),
        (flows(9), [5]),
        (flows(5, proto="udp", state="S0"), []),  # UDP has no handshake
        (flows(4, dport=23), [4]),  # telnet threshold 4
        (flows(4, dport=2323, state="RST"), [4]),
        (flows(3, dport=23), []),
        (flows(5, dport=23), [4]),  # a telnet flow counts once (telnet counter only)
        (flows(1, dport=23, state="SF"), []),
    ],
)
def test_reconnection_counts(records, expected_counts):
    pipe = Pipeline()
    pipe.feed(*records)
    evs = pipe.of_type("MULTIPLE_RECONNECTION_ATTEMPTS")
    assert [int(e.description.split()[0]) for e in evs] == expected_counts
    for ev in evs:
        assert (ev.attacker.direction, ev.attacker.value) == (Direction.SRC, "192.168.1.10")
        assert (ev.victim.direction, ev.victim.value) == (Direction.DST, "10.0.0.1")
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow) == (ThreatLevel.MEDIUM, 0.5,
                                                                               "192.168.1.10", 1)


def test_uids_accumulated_since_last_evidence():
    pipe = Pipeline()
    pipe.feed(*flows(10))
    first, second = pipe.of_type("MULTIPLE_RECONNECTION_ATTEMPTS")
    assert first.uids == ["C0", "C1", "C2", "C3", "C4"]
    assert second.uids == ["C5", "C6", "C7", "C8", "C9"]


def test_counted_per_destination_port_and_window():
    pipe = Pipeline()
    records = [conn(uid=f"A{i}", state="REJ", dport=80 + (i % 2), starttime=T0 + i) for i in range(8)]
    records += [conn(uid=f"B{i}", state="REJ", dport=80, starttime=T0 + 3600 + i) for i in range(3)]
    pipe.feed(*records)
    assert pipe.of_type("MULTIPLE_RECONNECTION_ATTEMPTS") == []
