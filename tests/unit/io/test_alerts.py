"""Alerts: one alert per (profile, window), updated as evidence keeps coming (issue 13)."""

from __future__ import annotations

from flowalerts.core.evidence import Evidence, ThreatLevel, src_ip
from flowalerts.io.alerts import AlertTracker
from tests.harness import CLIENT, T0


def ev(n, level=ThreatLevel.HIGH, confidence=1.0, twid=1, profile=CLIENT, occurrences=1, evidence_id=""):
    return Evidence(evidence_type="TEST_SEEN", description=f"e{n}", attacker=src_ip(profile), threat_level=level,
                    confidence=confidence, profile=profile, timewindow=twid, uids=[f"C{n}"], ts=T0 + n,
                    occurrences=occurrences, id=evidence_id)


def test_one_alert_per_window_raised_at_the_threshold_then_updated():
    tracker = AlertTracker(0.25, 3600)  # threshold 15
    results = [tracker.add(ev(n)) for n in range(30)]  # 0.8 each
    raised = [r for r in results if r is not None and r[1]]
    updated = [r for r in results if r is not None and not r[1]]
    assert len(raised) == 1 and len(updated) == 11
    (alert,) = tracker.all_alerts()
    assert (alert.version, len(alert.evidence_ids), alert.accumulated_threat) == (12, 30, 24.0)
    assert results.index(raised[0]) == 18  # 19 x 0.8 = 15.2 >= 15


def test_info_adds_nothing_and_windows_are_separate():
    tracker = AlertTracker(0.25, 3600)
    for n in range(40):
        tracker.add(ev(n, level=ThreatLevel.INFO))
        tracker.add(ev(100 + n, level=ThreatLevel.MEDIUM, twid=n))
    assert tracker.all_alerts() == []


def test_an_aggregated_evidence_weighs_its_occurrences_and_an_update_adds_the_difference():
    tracker = AlertTracker(0.25, 3600)
    first = ev(1, level=ThreatLevel.MEDIUM, confidence=0.5, occurrences=10, evidence_id="same")
    assert tracker.add(first) is None  # 2.5
    grown = ev(1, level=ThreatLevel.MEDIUM, confidence=0.5, occurrences=70, evidence_id="same")
    alert, raised = tracker.add(grown)  # 17.5, not 20
    assert raised and alert.accumulated_threat == 17.5 and alert.evidence_ids == ["same"]
