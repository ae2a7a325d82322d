"""Alerts: evidence accumulated per (profile, time window), like Slips.

Each evidence adds ``threat_level.weight x confidence`` to the window of the
profile that owns it (INFO adds nothing). When the sum reaches
``detection.evidence_detection_threshold x width / 60`` (0.25 x 3600 / 60 = 15
with the defaults) an alert is raised for that (profile, window), listing the
evidence behind it. The sum then starts again from zero, so further evidence
in the same window can raise a further alert, each with its own evidence.

Alerts are not evidence: they go to their own file (``alerts_summary.json``,
one JSON object per line) and to the top of ``alerts.log``, so ``alerts.json``
stays evidence-only.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import msgspec

from flowalerts.core.evidence import Evidence, escape_text


class Alert(msgspec.Struct, kw_only=True):
    """One alert: a (profile, window) whose accumulated evidence crossed the threshold."""

    type: str = "alert"
    id: str
    profile: str
    timewindow: int
    accumulated_threat: float
    threshold: float
    timestamp: str
    evidence_ids: list[str]
    evidence_types: dict[str, int]


class _Pending:
    __slots__ = ("ids", "total", "types")

    def __init__(self) -> None:
        self.total = 0.0
        self.ids: list[str] = []
        self.types: Counter[str] = Counter()


def alert_threshold(evidence_detection_threshold: float, width: float) -> float:
    """Slips's alert threshold for a window of ``width`` seconds."""
    return evidence_detection_threshold * width / 60.0


class AlertTracker:
    """Accumulates evidence weights and raises alerts."""

    def __init__(self, evidence_detection_threshold: float = 0.25, width: float = 3600.0) -> None:
        self.threshold = alert_threshold(evidence_detection_threshold, width)
        self._pending: dict[tuple[str, int], _Pending] = {}
        self.alerts: list[Alert] = []
        # Bounded state for long live runs: sums of windows older than the
        # newest window minus ``keep_windows`` are dropped.
        self.keep_windows = 2
        self._newest_window: int | None = None

    def add(self, evidence: Evidence) -> Alert | None:
        """Account one evidence; the alert it triggers, if any."""
        weight = evidence.weight
        if weight <= 0:
            return None
        key = (evidence.profile, evidence.timewindow)
        if self._newest_window is None or evidence.timewindow > self._newest_window:
            self._newest_window = evidence.timewindow
            oldest = evidence.timewindow - self.keep_windows
            for stale in [k for k in self._pending if k[1] < oldest]:
                del self._pending[stale]
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending()
        pending.total += weight
        pending.ids.append(evidence.id)
        pending.types[evidence.evidence_type.value] += 1
        # A tiny tolerance so 0.5 x 0.3 x 100 sums do not miss by a rounding error.
        if pending.total + 1e-9 < self.threshold:
            return None
        del self._pending[key]
        digest = hashlib.blake2b("|".join(pending.ids).encode(), digest_size=16).hexdigest()
        alert = Alert(
            id=f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}",
            profile=evidence.profile,
            timewindow=evidence.timewindow,
            accumulated_threat=round(pending.total, 4),
            threshold=self.threshold,
            timestamp=evidence.timestamp,
            evidence_ids=pending.ids,
            evidence_types=dict(sorted(pending.types.items())),
        )
        self.alerts.append(alert)
        return alert

    @property
    def open_sums(self) -> int:
        return len(self._pending)

    def top_profiles(self, limit: int = 5) -> list[tuple[str, int]]:
        counts: Counter[str] = Counter(alert.profile for alert in self.alerts)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def render_alert(alert: Alert) -> str:
    """One human-readable line for an alert."""
    types = ", ".join(f"{name} x{count}" for name, count in alert.evidence_types.items())
    text = (
        f"ALERT {alert.timestamp} | profile {alert.profile} timewindow {alert.timewindow} | "
        f"accumulated threat {alert.accumulated_threat:g} >= {alert.threshold:g} | "
        f"{len(alert.evidence_ids)} evidence ({types}) | evidence ids: {', '.join(alert.evidence_ids)}"
    )
    return escape_text(text, limit=100_000)


_encoder = msgspec.json.Encoder()


def alert_json(alert: Alert) -> bytes:
    return _encoder.encode(alert)
