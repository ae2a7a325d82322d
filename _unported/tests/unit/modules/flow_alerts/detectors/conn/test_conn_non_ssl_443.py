"""NON_SSL_PORT_443_CONNECTION (spec 2.29, 4.23, seed)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, conn, ssl

TYPE = "NON_SSL_PORT_443_CONNECTION"


def candidate(**kw):
    return conn(**{"uid": "Cplain", "dport": 443, "appproto": "", "sbytes": 10, "dbytes": 10, "state": "SF", **kw})


@pytest.mark.parametrize(
    ("record", "fires"),
    [
        (candidate(), True),
        (candidate(appproto="http"), True),
        (candidate(appproto="ssl"), False),
        (candidate(appproto="ssl,http"), False),  # composite containing ssl counts as SSL
        (candidate(sbytes=0, dbytes=0), False),  # no payload
        (candidate(state="S0"), False),  # not established
        (candidate(dport=8443), False),
        (candidate(proto="udp"), False),
    ],
)
def test_candidates_settled_at_finish(record, fires):
    pipe = Pipeline()
    assert pipe.of_type(TYPE, pipe.feed(record)) == []  # nothing before the window passed
    out = pipe.of_type(TYPE, pipe.finish())
    if not fires:
        assert out == []
        return
    (ev,) = out
    assert (ev.attacker.direction, ev.attacker.value) == (Direction.SRC, "192.168.1.10")
    assert (ev.victim.direction, ev.victim.value) == (Direction.DST, "93.184.216.34")
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids, ev.dst_port) == (
        ThreatLevel.MEDIUM, 0.8, "192.168.1.10", 1, ["Cplain"], 443)


@pytest.mark.parametrize(
    ("ssl_offset", "source", "fires"),
    [
        (-300, "conn", False),  # SSL 5 min before (edge included)
        (-301, "conn", True),
        (300, "conn", False),  # SSL 5 min after (edge included)
        (301, "conn", True),
        (-100, "ssl.log", False),
        (200, "ssl.log", False),
        (None, None, True),
    ],
)
def test_ssl_nearby_suppresses(ssl_offset, source, fires):
    pipe = Pipeline()
    start = T0 + 1000
    records = [conn(uid="C0", starttime=T0, dport=80)]  # sets the profiler's origin
    if ssl_offset is not None and ssl_offset < 0:
        records.append(candidate(uid="Cssl", appproto="ssl", starttime=start + ssl_offset) if source == "conn"
                       else ssl(starttime=start + ssl_offset))
    records.append(candidate(starttime=start))
    if ssl_offset is not None and ssl_offset > 0:
        records.append(candidate(uid="Cssl", appproto="ssl", starttime=start + ssl_offset) if source == "conn"
                       else ssl(starttime=start + ssl_offset))
    pipe.feed(*records)
    pipe.finish()
    assert len(pipe.of_type(TYPE)) == (1 if fires else 0)


def test_settled_when_watermark_passes_window():
    pipe = Pipeline()
    pipe.feed(candidate(starttime=T0))
    assert pipe.of_type(TYPE, pipe.advance_to(T0 + 299)) == []
    assert len(pipe.of_type(TYPE, pipe.advance_to(T0 + 300))) == 1


def test_other_pair_does_not_suppress_and_dedup_per_destination():
    pipe = Pipeline()
    pipe.feed(candidate(uid="C1", starttime=T0),
              ssl(saddr="192.168.1.99", starttime=T0 + 1),  # another client's SSL
              candidate(uid="C2", starttime=T0 + 2))
    pipe.finish()
    assert [e.uids for e in pipe.of_type(TYPE)] == [["C1"]]
