"""The flow-time clock: watermark, lateness and clock jumps (issue 12)."""

from __future__ import annotations

import math

import pytest

from flowalerts.core.clock import ClockPolicy, EventClock


def clock(**policy):
    return EventClock(ClockPolicy(**{"allowed_lateness": 100.0, "jump_threshold": 1000.0, "jump_confirmations": 3, **policy}))


def test_watermark_is_newest_minus_lateness_in_ticks():
    c = clock()
    assert c.watermark == -math.inf
    c.observe(1000.4)
    assert c.watermark == 900.0
    c.observe(950.0)  # older: the watermark never goes back
    assert c.watermark == 900.0
    c.observe(1500.9)
    assert c.watermark == 1400.0
    c.finish()
    assert c.watermark == math.inf


@pytest.mark.parametrize(
    ("ends", "newest", "held"),
    [
        ([1000, 1500, 1999], 1999, 0),  # within the threshold: believed
        ([1000, 5000, 1001], 1001, 1),  # one odd record: held, the watermark does not move
        ([1000, 5000, 5001, 1002], 1002, 2),  # two in a row are not enough (3 needed)
        ([1000, 5000, 5001, 5002], 5002, 2),  # three in a row confirm the jump
        ([1000, -9e9, 1001], 1001, 0),  # far in the past: simply older
    ],
)
def test_clock_jumps_are_held_until_confirmed(ends, newest, held):
    c = clock()
    for end in ends:
        c.observe(float(end))
    assert (c.newest, c.jumps_held) == (newest, held)


def test_confirmation_reports_the_jump():
    c = clock()
    c.observe(1000.0)
    assert not c.observe(9000.0).ok
    assert not c.observe(9001.0).ok
    confirmed = c.observe(9002.0)
    assert (confirmed.ok, confirmed.confirmed_jump, confirmed.jump_seconds) == (True, True, 8000.0)
    assert c.watermark == 8902.0
