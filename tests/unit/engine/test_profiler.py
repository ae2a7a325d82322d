"""Profiles, windows, lateness and clock jumps in the profiler (issue 12)."""

from __future__ import annotations

from flowalerts.core.clock import ClockPolicy
from flowalerts.core.messages import Advance, Message, TwClosed
from flowalerts.engine.profiler import Profiler
from tests.harness import T0, conn


def profiler(lookahead=1, lateness=600.0, confirmations=3):
    return Profiler(3600.0, ClockPolicy(allowed_lateness=lateness, jump_threshold=86400.0,
                                        jump_confirmations=confirmations), t0_lookahead=lookahead)


def run(p, records):
    items = []
    for record in records:
        items.extend(p.assign(record, where=f"conn.log:{record.uid}"))
    items.extend(p.finish())
    return items


def messages(items):
    return [(m.flow.uid, m.twid, m.late) for m in items if isinstance(m, Message)]


def closures(items):
    return [(c.profile, c.twid) for c in items if isinstance(c, TwClosed)]


def test_windows_close_when_the_watermark_passes_their_end_plus_lateness():
    p = profiler()
    items = p.assign(conn(uid="a", starttime=T0, dur=0.0))
    items += p.assign(conn(uid="b", starttime=T0 + 3600 + 599, dur=0.0))
    assert closures(items) == []
    items += p.assign(conn(uid="c", starttime=T0 + 3600 + 600, dur=0.0))
    assert closures(items) == [("192.168.1.10", 1)]
    assert [i.watermark for i in items if isinstance(i, Advance)][-1] == T0 + 3600


def test_t0_is_the_earliest_start_among_the_first_records():
    p = profiler(lookahead=3)
    items = run(p, [conn(uid="late-written", starttime=T0 + 100, dur=1.0), conn(uid="x", starttime=T0 + 50, dur=200.0),
                    conn(uid="y", starttime=T0 + 300)])
    assert p.t0 == T0 + 50
    assert messages(items) == [("late-written", 1, False), ("x", 1, False), ("y", 1, False)]


def test_a_record_of_a_closed_window_is_late_and_does_not_reopen_it():
    p = profiler()
    records = [conn(uid="a", starttime=T0)] + [conn(uid=f"w2-{i}", starttime=T0 + 3600 + 700 + i) for i in range(2)]
    records.append(conn(uid="too-late", starttime=T0 + 10, dur=1.0))
    items = run(p, records)
    assert messages(items)[-1] == ("too-late", 1, True)
    assert closures(items).count(("192.168.1.10", 1)) == 1
    assert p.late["conn"] == 1


def test_long_connection_within_the_lateness_is_not_late():
    p = profiler(lateness=3600.0)
    # Written by Zeek after window 2 began, but it started in window 1.
    items = run(p, [conn(uid="a", starttime=T0), conn(uid="b", starttime=T0 + 3700),
                    conn(uid="long", starttime=T0 + 3000, dur=4200.0)])
    assert messages(items) == [("a", 1, False), ("b", 2, False), ("long", 1, False)]


def test_a_far_future_record_is_held_in_its_own_window_and_closes_nobody():
    p = profiler()
    records = [conn(uid="a", starttime=T0), conn(uid="odd", saddr="10.9.9.9", starttime=T0 + 365 * 86400),
               conn(uid="b", starttime=T0 + 100)]
    warnings = []
    p._warn = lambda kind, text: warnings.append(kind)
    items = []
    for record in records:
        items.extend(p.assign(record))
    assert closures(items) == []  # window 1 still open
    assert warnings == ["clock jump"] and p.clock_jumps["conn"] == 1
    items.extend(p.finish())
    assert ("10.9.9.9", 8761) in closures(items) and ("192.168.1.10", 1) in closures(items)
