"""Bounded samples of values for evidence details (methods, names, users ...).

A detection that lists "the first N values seen" would list different values
depending on the order the records arrive. ``keep_earliest`` keeps the N
values seen earliest in *flow time* instead (ties by value), each once, so the
details are the same whatever the arrival order.
"""

from __future__ import annotations

import bisect
from typing import Any


def keep_earliest(sample: list[tuple[float, Any]], ts: float, value: Any, size: int) -> None:
    """Add (ts, value) to ``sample`` (sorted, at most ``size``, one entry per value)."""
    for index, (seen_ts, seen) in enumerate(sample):
        if seen == value:
            if ts < seen_ts:
                del sample[index]
                bisect.insort(sample, (ts, value))
            return
    if len(sample) < size or (ts, value) < sample[-1]:
        bisect.insort(sample, (ts, value))
        del sample[size:]


def values(sample: list[tuple[float, Any]]) -> list[Any]:
    """The values of a sample, earliest first."""
    return [value for _, value in sample]
