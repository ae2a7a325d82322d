from __future__ import annotations

from typing import ClassVar

from harness import Pipeline, conn, tunnel

from flowalerts.evidence import EvidenceType
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import REGISTRY, Detector
from flowalerts.modules.flow_alerts.module import FlowAlerts, load_detector_classes


def test_every_detector_declares_channels_and_evidence():
    classes = load_detector_classes()
    assert classes, "no detector registered"
    for cls in classes:
        assert cls.__doc__, f"{cls.__name__} has no docstring"
        assert cls.channels, f"{cls.__name__} consumes no channel"
        if cls.priority > 10:
            assert cls.evidence_types, f"{cls.__name__} declares no evidence type"
            assert all(isinstance(t, EvidenceType) for t in cls.evidence_types)


def test_detectors_are_registered_by_declaration_only_once():
    names = [f"{cls.__module__}.{cls.__name__}" for cls in load_detector_classes()]
    assert len(names) == len(set(names))


class _Exploding(Detector):
    """Raises on every message (test double, registered then removed)."""

    channels: ClassVar = ("new_tunnel",)
    evidence_types: ClassVar = (EvidenceType.GRE_SCAN,)

    def handle(self, msg):
        raise RuntimeError("boom")


REGISTRY.remove(_Exploding)


def test_a_failing_detector_is_isolated_and_counted():
    pipe = Pipeline()
    classes = [*load_detector_classes(), _Exploding]
    pipe.module = FlowAlerts(pipe.ctx, classes)
    evidence = pipe.feed(tunnel(action="Tunnel::DISCOVER"), tunnel(action="Tunnel::EXPIRE", uid="C2"))
    # The real GRE detector still produced both evidences.
    assert sorted(pipe.types(evidence)) == ["GRE_SCAN", "GRE_TUNNEL"]
    assert pipe.module.errors == {"_Exploding:new_tunnel": 2}
    assert pipe.module.processed["new_tunnel"] == 2


def test_watermark_is_the_newest_ts_of_any_channel():
    pipe = Pipeline()
    pipe.feed(conn(starttime=2_000_000_000.0), tunnel(starttime=1_999_999_000.0))
    assert pipe.module.watermark == 2_000_000_000.0


def test_unknown_channel_is_counted_not_routed():
    pipe = Pipeline()
    pipe.module.handle("new_something", Message(profile="1.2.3.4", twid=1, flow=conn()))
    assert pipe.module.processed["new_something"] == 1
