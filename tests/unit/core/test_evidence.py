"""How an evidence kind grows with the occurrences it stands for (EvidenceKind.grown)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import FIXED, GROWS, EvidenceKind, Growth, ThreatLevel

HIGH = EvidenceKind("TEST_GROWN_HIGH", ThreatLevel.HIGH, 0.5)
LOW = EvidenceKind("TEST_GROWN_LOW", ThreatLevel.LOW, 0.6)
INFO = EvidenceKind("TEST_GROWN_INFO", ThreatLevel.INFO, 0.5)
CONFIDENCE_ONLY = EvidenceKind("TEST_GROWN_CONFIDENCE", ThreatLevel.MEDIUM, 0.4, grows=Growth(level=False))
STILL = EvidenceKind("TEST_GROWN_FIXED", ThreatLevel.LOW, 0.9, grows=FIXED)
PER_THRESHOLD = EvidenceKind("TEST_GROWN_THRESHOLD", ThreatLevel.MEDIUM, 0.5, grows=Growth(weighs="threshold"))


@pytest.mark.parametrize(
    ("kind", "count", "threshold", "level", "confidence", "expected"),
    [
        (HIGH, 1, 1, None, None, (ThreatLevel.HIGH, 0.5, 1)),
        (HIGH, 3, 1, None, None, (ThreatLevel.HIGH, 0.6, 3)),  # a doubling: +0.1
        (HIGH, 4, 1, None, None, (ThreatLevel.CRITICAL, 0.7, 4)),  # x4: one level
        (HIGH, 1000, 1, None, None, (ThreatLevel.CRITICAL, 1.0, 1000)),  # capped
        (HIGH, 4, 1, ThreatLevel.LOW, None, (ThreatLevel.MEDIUM, 0.7, 4)),  # from another starting level
        (LOW, 64, 1, None, None, (ThreatLevel.CRITICAL, 1.0, 64)),  # x64: three levels, low -> critical
        (HIGH, 64, 1, ThreatLevel.LOW, None, (ThreatLevel.MEDIUM, 1.0, 64)),  # never more steps than the kind can rise
        (HIGH, 16, 2, ThreatLevel.MEDIUM, None, (ThreatLevel.HIGH, 0.8, 16)),  # n = count / threshold = 8
        (HIGH, 1, 4, None, None, (ThreatLevel.HIGH, 0.5, 1)),  # below the threshold: n is at least 1
        (HIGH, 2, 1, None, 0.95, (ThreatLevel.HIGH, 1.0, 2)),  # from another starting confidence, capped at 1
        (INFO, 1000, 1, None, None, (ThreatLevel.INFO, 1.0, 1000)),  # INFO stays INFO, the confidence grows
        (CONFIDENCE_ONLY, 16, 1, None, None, (ThreatLevel.MEDIUM, 0.8, 16)),
        (STILL, 500, 1, None, None, (ThreatLevel.LOW, 0.9, 500)),  # FIXED still weighs each occurrence
        (PER_THRESHOLD, 10, 3, None, None, (ThreatLevel.MEDIUM, 0.6, 3)),  # one per threshold crossed
        (PER_THRESHOLD, 2, 3, None, None, (ThreatLevel.MEDIUM, 0.5, 1)),  # at least one
    ],
)
def test_a_kind_grows_by_its_declared_growth(kind, count, threshold, level, confidence, expected):
    assert kind.grown(count, threshold, level, confidence) == expected


@pytest.mark.parametrize(
    ("growth", "expected"),
    [
        (None, (ThreatLevel.CRITICAL, 0.7, 4)),  # the kind's own
        (Growth(confidence=False), (ThreatLevel.CRITICAL, 0.5, 4)),
        (FIXED, (ThreatLevel.HIGH, 0.5, 4)),
        (GROWS, (ThreatLevel.CRITICAL, 0.7, 4)),
    ],
)
def test_a_growth_given_for_one_evidence_replaces_the_kinds(growth, expected):
    assert HIGH.grown(4, 1, growth=growth) == expected
