"""The base fills what a Finding leaves out: time, uids, count, growth, weight and id."""

from __future__ import annotations

from typing import Any

import pytest

from flowalerts.core.evidence import FIXED, EvidenceKind, Growth, ThreatLevel, dst_ip, uuid_shaped
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from tests.harness import Harness, conn

REPEATED = EvidenceKind("TEST_FINDING_REPEATED", ThreatLevel.MEDIUM, 0.5, slips="")


class Repeated(Detection[NoConfig, Tally], register=False):
    """One evidence per destination; the Finding's options come from the test."""

    id = "test_finding_repeated"
    channels = ("new_flow",)
    evidence = (REPEATED,)
    options: dict[str, Any] = {}

    def handle(self, msg: Message[ConnRecord]) -> None:
        self.tally(msg, msg.flow.daddr)

    def report_tally(self, profile: str, twid: int, key: str, tally: Tally) -> list[Finding]:
        own = Finding(victim=dst_ip(key), details=REPEATED.details(), description="seen", **self.options)
        theirs = Finding(victim=None, details=REPEATED.details(), description="seen by the destination",
                         profile=key, attacker=dst_ip(key), id_key=("seen", profile))
        return [own, theirs]


def run(connections: int, **options: Any):
    Repeated.options = options
    records = [conn(uid=f"C{i}", starttime=1000.0 + i, saddr="10.0.0.1", daddr="10.0.0.2") for i in range(connections)]
    return Harness(Repeated).feed(*records).evidence()


@pytest.mark.parametrize(
    ("connections", "options", "expected"),
    [
        (1, {}, (ThreatLevel.MEDIUM, 0.5, 1)),
        (8, {}, (ThreatLevel.HIGH, 0.8, 8)),  # the kind's growth, by the count
        (8, {"grown_by": (1, 1)}, (ThreatLevel.MEDIUM, 0.5, 8)),  # by something else; still weighs each
        (8, {"grown_by": (64, 4)}, (ThreatLevel.CRITICAL, 0.9, 8)),  # n = 16: two levels
        (8, {"grows": Growth(confidence=False)}, (ThreatLevel.HIGH, 0.5, 8)),
        (8, {"grows": FIXED, "occurrences": 1}, (ThreatLevel.MEDIUM, 0.5, 1)),
        (8, {"level": ThreatLevel.LOW, "confidence": 0.3}, (ThreatLevel.MEDIUM, 0.6, 8)),
    ],
)
def test_the_base_grows_and_weighs_a_finding(connections, options, expected):
    own = next(e for e in run(connections, **options) if e.profile == "10.0.0.1")
    assert (own.threat_level, own.confidence, own.occurrences) == expected
    assert own.count == connections
    assert own.uids == sorted(f"C{i}" for i in range(connections))
    assert own.ts == 1000.0


def test_each_evidence_of_a_linked_pair_has_the_id_of_its_owner():
    own, theirs = sorted(run(3), key=lambda e: e.profile)
    assert own.id == uuid_shaped(REPEATED.name, "10.0.0.1", str(own.timewindow), repr("10.0.0.2"))
    assert theirs.profile == "10.0.0.2"
    assert theirs.id == uuid_shaped(REPEATED.name, "10.0.0.2", str(own.timewindow), repr(("10.0.0.1", ("seen", "10.0.0.1"))))
