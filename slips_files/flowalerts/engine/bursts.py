"""Bursts: events that fall in some window of ``seconds`` holding ``threshold``
or more of them (or of distinct names), for the detections that count
"N things within S seconds" (ARPA scans, SMTP brute force).

Those detections report a burst as soon as they see it, with a sliding window
over the records as they arrive. That is exact when records arrive in time
order; records a little out of order can make it miss part of a burst. So at
window close they recount with ``burst_members`` over every event of the
window sorted by time, which gives the same answer whatever the arrival order
(issue 12: any order within the lateness gives the same evidence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


def burst_members(events: Sequence[tuple[float, str]], seconds: float, threshold: int) -> list[bool]:
    """For events sorted by time, (ts, name): which are in a window of
    ``seconds`` (inclusive) that holds ``threshold`` or more distinct names.

    Two pointers over the sorted events: O(n). Pass a unique name per event
    (e.g. its index) to count events instead of distinct names.
    """
    n = len(events)
    member = [False] * n
    names: Counter[str] = Counter()
    right = 0  # events[left:right] is the window starting at events[left]
    covered = 0  # events before this index are already marked
    for left in range(n):
        limit = events[left][0] + seconds
        while right < n and events[right][0] <= limit:
            names[events[right][1]] += 1
            right += 1
        if len(names) >= threshold:
            for index in range(max(left, covered), right):
                member[index] = True
            covered = max(covered, right)
        name = events[left][1]
        names[name] -= 1
        if names[name] <= 0:
            del names[name]
    return member
