from __future__ import annotations

import pytest
from harness import T0, config, conn, dns

from flowalerts.config import Config
from flowalerts.messages import TwClosed
from flowalerts.profiler import Profiler


@pytest.mark.parametrize(
    ("offset", "twid"),
    [(0.0, 1), (3599.9, 1), (3600.0, 2), (7300.0, 3), (-1.0, 0), (-3601.0, -1)],
)
def test_window_numbers(offset, twid):
    profiler = Profiler(Config())
    profiler.assign(conn(starttime=T0))
    assert profiler.assign(conn(starttime=T0 + offset)).twid == twid


def test_profile_is_source_ip():
    profiler = Profiler(Config())
    msg = profiler.assign(dns(saddr="10.1.2.3"))
    assert (msg.profile, msg.twid) == ("10.1.2.3", 1)


def test_windows_close_after_end_plus_grace_and_all_at_end():
    profiler = Profiler(config(parameters={"time_window_width": 3600, "tw_close_grace": 600}))
    profiler.assign(conn(starttime=T0, saddr="10.0.0.1"))
    profiler.assign(conn(starttime=T0 + 10, saddr="10.0.0.2"))
    profiler.assign(conn(starttime=T0 + 3700, saddr="10.0.0.1"))
    assert profiler.due_closures() == []
    profiler.assign(conn(starttime=T0 + 4200, saddr="10.0.0.1"))
    assert profiler.due_closures() == [TwClosed("10.0.0.1", 1), TwClosed("10.0.0.2", 1)]
    assert profiler.close_all() == [TwClosed("10.0.0.1", 2)]


def test_only_one_tw():
    profiler = Profiler(config(parameters={"time_window_width": "only_one_tw"}))
    profiler.assign(conn(starttime=T0))
    assert profiler.assign(conn(starttime=T0 + 10 * 86400)).twid == 1
