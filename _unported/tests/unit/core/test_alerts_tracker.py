"""Alerts: weighted evidence per (profile, window) against Slips's threshold."""

from __future__ import annotations

import json

import pytest

from flowalerts.alerts import AlertTracker, alert_threshold
from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.modules.flow_alerts.detector import make_evidence
from flowalerts.sink import EvidenceSink
from tests.harness import CLIENT, SERVER, T0


def evidence(n: int, level: ThreatLevel = ThreatLevel.HIGH, confidence: float = 1.0, profile: str = CLIENT, twid: int = 1):
    return make_evidence(
        EvidenceType.LONG_CONNECTION,
        description=f"long connection number {n}",
        attacker=src_ip(profile),
        victim=dst_ip(SERVER),
        threat_level=level,
        confidence=confidence,
        profile=profile,
        twid=twid,
        timestamp=T0 + n,
        uids=[f"C{n}"],
    )


@pytest.mark.parametrize(
    ("threshold", "width", "expected"),
    [(0.25, 3600.0, 15.0), (0.25, 60.0, 0.25), (1.0, 600.0, 10.0)],
)
def test_threshold_formula(threshold, width, expected):
    assert alert_threshold(threshold, width) == pytest.approx(expected)
    assert AlertTracker(threshold, width).threshold == pytest.approx(expected)


@pytest.mark.parametrize(
    ("level", "confidence", "count", "alerts"),
    [
        (ThreatLevel.HIGH, 1.0, 18, 0),  # 18 x 0.8 = 14.4 < 15
        (ThreatLevel.HIGH, 1.0, 19, 1),  # 19 x 0.8 = 15.2 >= 15
        (ThreatLevel.CRITICAL, 1.0, 14, 0),  # 14 < 15
        (ThreatLevel.CRITICAL, 1.0, 15, 1),  # reaching the threshold exactly alerts
        (ThreatLevel.MEDIUM, 0.5, 59, 0),  # 59 x 0.25 = 14.75
        (ThreatLevel.MEDIUM, 0.5, 60, 1),  # 60 x 0.25 = 15
        (ThreatLevel.INFO, 1.0, 1000, 0),  # info never adds anything
        (ThreatLevel.CRITICAL, 1.0, 30, 2),  # the sum restarts after an alert
    ],
)
def test_both_sides_of_threshold(level, confidence, count, alerts):
    tracker = AlertTracker(0.25, 3600.0)
    raised = [a for n in range(count) if (a := tracker.add(evidence(n, level, confidence))) is not None]
    assert len(raised) == alerts
    assert tracker.alerts == raised


def test_alert_lists_its_evidence_and_owner():
    tracker = AlertTracker(0.25, 60.0)  # threshold 0.25
    first = evidence(1, ThreatLevel.LOW, 1.0)  # 0.2
    assert tracker.add(first) is None
    second = evidence(2, ThreatLevel.LOW, 1.0)  # 0.4 >= 0.25
    alert = tracker.add(second)
    assert alert is not None
    assert (alert.profile, alert.timewindow) == (CLIENT, 1)
    assert alert.evidence_ids == [first.id, second.id]
    assert alert.evidence_types == {"LONG_CONNECTION": 2}
    assert alert.accumulated_threat == pytest.approx(0.4)
    assert alert.timestamp == second.timestamp


@pytest.mark.parametrize(
    ("other_profile", "other_twid"),
    [("192.168.1.11", 1), (CLIENT, 2)],
)
def test_profiles_and_windows_accumulate_separately(other_profile, other_twid):
    tracker = AlertTracker(0.25, 60.0)
    assert tracker.add(evidence(1, ThreatLevel.LOW)) is None
    assert tracker.add(evidence(2, ThreatLevel.LOW, profile=other_profile, twid=other_twid)) is None
    assert tracker.alerts == []


def test_sink_writes_alerts_separately_and_first_in_log(tmp_path):
    sink = EvidenceSink(None, str(tmp_path), alerts=AlertTracker(0.25, 60.0))
    items = [evidence(n, ThreatLevel.LOW) for n in range(3)]
    for item in items:
        assert sink.add(item)
    sink.close()
    evidence_lines = [json.loads(line) for line in (tmp_path / "alerts.json").read_text().splitlines()]
    assert [e["id"] for e in evidence_lines] == [e.id for e in items]
    assert all("type" not in e for e in evidence_lines)
    alerts = [json.loads(line) for line in (tmp_path / "alerts_summary.json").read_text().splitlines()]
    assert len(alerts) == 1
    assert alerts[0]["type"] == "alert"
    assert alerts[0]["evidence_ids"] == [items[0].id, items[1].id]
    log = (tmp_path / "alerts.log").read_text().splitlines()
    assert log[0].startswith("ALERTS: 1 ")
    assert log[1].startswith("ALERT ") and items[0].id in log[1] and items[1].id in log[1]
    assert log[2] == "EVIDENCE: 3"
    assert len(log) == 3 + 3
    assert all("LONG_CONNECTION" in line for line in log[3:])


def test_old_window_sums_are_dropped_so_state_stays_bounded():
    tracker = AlertTracker(0.25, 3600.0)
    for twid in range(1, 50):
        tracker.add(evidence(twid, ThreatLevel.LOW, twid=twid))
    assert tracker.open_sums == 3  # windows 47, 48, 49
    # A window two behind the newest still accumulates.
    assert tracker.add(evidence(99, ThreatLevel.LOW, twid=47)) is None
    assert tracker.open_sums == 3
