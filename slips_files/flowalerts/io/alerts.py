"""Alerts: evidence accumulated per (profile, time window), one alert each.

Each evidence adds its weight (threat level value x confidence, times the
occurrences it stands for; INFO adds nothing) to the (profile, window) that
owns it, when it says what that profile did (``Evidence.weight``,
``flowalerts.core.evidence.profile_acted``): evidence about a profile as a
destination (a server's certificate, an address others uploaded to) or as a
victim is reported but adds nothing, so a scanned or visited server never
alerts for what its clients did. When the sum reaches ``detection.evidence_detection_threshold x
width / 60`` (0.25 x 3600 / 60 = 15 with the defaults) an alert is raised for
that (profile, window). Evidence that keeps coming in that window **updates**
the same alert (same id): its evidence ids, types and accumulated threat grow,
and its ``version`` goes up. So a host hammering the network gives one alert
per window an analyst can read, not one alert per few evidence.

An evidence reported again with the same id (an aggregated evidence whose
count grew, or a redelivery) replaces the earlier version: only the
difference in weight is added.

Alerts are not evidence: they go to ``alerts_summary.json`` and to the top of
``alerts.log``.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Evidence, escape_text, uuid_shaped


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
    # 1 when raised, +1 for every update.
    version: int = 1


class _Window:
    __slots__ = ("alert", "first_timestamp", "total", "types", "weights")

    def __init__(self) -> None:
        self.total = 0.0
        self.weights: dict[str, float] = {}
        self.types: dict[str, str] = {}
        self.alert: Alert | None = None
        self.first_timestamp = ""


def alert_threshold(evidence_detection_threshold: float, width: float) -> float:
    """Slips's alert threshold for a window of ``width`` seconds."""
    return evidence_detection_threshold * width / 60.0


class AlertTracker:
    """Accumulates evidence weights per (profile, window) and keeps one alert each."""

    def __init__(self, evidence_detection_threshold: float = 0.25, width: float = 3600.0, keep_windows: int = 4) -> None:
        self.threshold = alert_threshold(evidence_detection_threshold, width)
        self._windows: dict[tuple[str, int], _Window] = {}
        self.alerts: dict[str, Alert] = {}
        # Bounded state on long live runs: sums of windows older than the
        # newest one minus ``keep_windows`` are forgotten (their alerts stay).
        self.keep_windows = keep_windows
        self._newest_window: int | None = None

    def add(self, evidence: Evidence) -> tuple[Alert, bool] | None:
        """Account one evidence. Returns (alert, raised_now) when it raised or
        updated an alert, else None."""
        key = (evidence.profile, evidence.timewindow)
        if self._newest_window is None or evidence.timewindow > self._newest_window:
            self._newest_window = evidence.timewindow
            oldest = evidence.timewindow - self.keep_windows
            for stale in [k for k in self._windows if k[1] < oldest]:
                del self._windows[stale]
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        weight = evidence.weight
        previous = window.weights.get(evidence.id)
        if previous is None and weight <= 0:
            return None
        window.total += weight - (previous or 0.0)
        window.weights[evidence.id] = weight
        window.types[evidence.id] = evidence.evidence_type
        if not window.first_timestamp:
            window.first_timestamp = evidence.timestamp
        alert = window.alert
        if alert is None:
            # A tiny tolerance so 0.5 x 0.3 x 100 sums do not miss by a rounding error.
            if window.total + 1e-9 < self.threshold:
                return None
            alert = window.alert = Alert(
                id=uuid_shaped("alert", evidence.profile, str(evidence.timewindow)),
                profile=evidence.profile,
                timewindow=evidence.timewindow,
                accumulated_threat=0.0,
                threshold=self.threshold,
                timestamp=evidence.timestamp,
                evidence_ids=[],
                evidence_types={},
            )
            self.alerts[alert.id] = alert
            raised = True
        else:
            alert.version += 1
            raised = False
        alert.evidence_ids = [eid for eid, w in window.weights.items() if w > 0]
        counts: dict[str, int] = {}
        for eid in alert.evidence_ids:
            counts[window.types[eid]] = counts.get(window.types[eid], 0) + 1
        alert.evidence_types = dict(sorted(counts.items()))
        alert.accumulated_threat = round(window.total, 4)
        return alert, raised

    def all_alerts(self) -> list[Alert]:
        return list(self.alerts.values())


def render_alert(alert: Alert, updated: bool = False) -> str:
    """One human-readable line for an alert (or an update of it)."""
    types = ", ".join(f"{name} x{count}" for name, count in alert.evidence_types.items())
    head = "ALERT UPDATE" if updated else "ALERT"
    text = (
        f"{head} {alert.timestamp} | profile {alert.profile} timewindow {alert.timewindow} | id {alert.id} "
        f"version {alert.version} | accumulated threat {alert.accumulated_threat:g} >= {alert.threshold:g} | "
        f"{len(alert.evidence_ids)} evidence ({types})"
    )
    return escape_text(text, limit=100_000)


_encoder = msgspec.json.Encoder()


def alert_json(alert: Alert) -> bytes:
    return _encoder.encode(alert)
