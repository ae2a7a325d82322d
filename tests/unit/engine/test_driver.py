"""The module driver: routing, error isolation, late records, disabled types,
enrichment, and detections skipped for missing logs (issues 12, 14, 16)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import AsInfo, Details, Direction, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.engine.detection import Detection
from flowalerts.engine.driver import DetectionFailed, ModuleDriver
from flowalerts.learners.tls import ServerName
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn, dns

SEEN = EvidenceKind("TEST_SEEN", ThreatLevel.LOW, 0.5)


class Seen(Detection, register=False):
    id = "test_seen"
    channels = ("new_flow",)
    evidence = (SEEN,)

    def handle(self, msg):
        window = self.window(msg)
        window["n"] = window.get("n", 0) + 1
        self.report(SEEN, msg=msg, attacker=src_ip(msg.flow.saddr), victim=dst_ip(msg.flow.daddr), description="seen")


class Boom(Detection, register=False):
    id = "test_boom"
    channels = ("new_flow",)
    evidence = (EvidenceKind("TEST_BOOM", ThreatLevel.LOW, 0.5),)

    def handle(self, msg):
        raise RuntimeError("boom")


def test_a_failing_detection_is_isolated_counted_and_marks_the_run_degraded():
    driver = ModuleDriver(config(), detections=[Boom, Seen])
    out = driver.handle(Message(profile=CLIENT, twid=1, flow=conn()))
    assert [e.evidence_type for e in out] == ["TEST_SEEN"]
    assert driver.health.degraded and driver.health.errors == {"test_boom:handle": 1}
    assert "RuntimeError: boom" in driver.health.first_traceback["test_boom:handle"]
    assert driver.health.failing_components() == ["test_boom"]


def test_strict_mode_reraises():
    with pytest.raises(DetectionFailed):
        Harness(Boom).feed(conn()).evidence()


def test_late_records_use_a_throwaway_window_and_are_counted():
    driver = ModuleDriver(config(), detections=[Seen])
    driver.handle(Message(profile=CLIENT, twid=1, flow=conn(), late=True))
    assert driver.state.peek_window("test_seen", CLIENT, 1) is None
    assert (driver.health.late_records["new_flow"], driver.health.late_window_use["test_seen"]) == (1, 1)


def test_disabled_evidence_types_are_dropped_and_counted():
    driver = ModuleDriver(config(DisabledAlerts={"disabled_detections": ["test_seen"]}), detections=[Seen])
    assert driver.handle(Message(profile=CLIENT, twid=1, flow=conn())) == []
    assert driver.health.disabled_evidence == {"TEST_SEEN": 1}


def test_detections_needing_an_absent_log_are_skipped_with_the_reason():
    driver = ModuleDriver(config(), detections=[Seen], available_logs={"dns"})
    assert driver.detections == [] and driver.health.skipped == {"test_seen": "needs conn.log"}


def test_evidence_is_enriched_from_facts_at_report_time():
    class Orgs:
        def asn_of(self, ip):
            return (15133, "EDGECAST") if ip == SERVER else None

    driver = ModuleDriver(config(), detections=[Seen])
    driver.knowledge.orgs = Orgs()
    driver.apply_facts([ServerName(ip=SERVER, name="example.com", ts=T0)])
    (evidence,) = driver.handle(Message(profile=CLIENT, twid=1, flow=conn()))
    assert ("example.com", AsInfo(number=15133, org="EDGECAST")) == (evidence.victim.SNI, evidence.victim.AS)
    assert evidence.attacker.AS is None


def test_an_sni_enriches_only_the_destination_side():
    # The client once answered TLS for a name (it was asked for it): its own evidence does not show that name.
    driver = ModuleDriver(config(), detections=[Seen])
    driver.apply_facts([ServerName(ip=CLIENT, name="client.example", ts=T0),
                        ServerName(ip=SERVER, name="example.com", ts=T0)])
    (evidence,) = driver.handle(Message(profile=CLIENT, twid=1, flow=conn()))
    assert (evidence.attacker.direction, evidence.attacker.SNI) == (Direction.SRC, None)
    assert (evidence.victim.direction, evidence.victim.SNI) == (Direction.DST, "example.com")


def test_report_refuses_undeclared_kinds_and_wrong_details():
    class Other(Details):
        x: int = 0

    class Wrong(Detection, register=False):
        id = "test_wrong"
        channels = ("new_dns",)
        evidence = (SEEN,)

        def handle(self, msg):
            self.report(SEEN, msg=msg, attacker=src_ip(CLIENT), description="x", details=Other())

    with pytest.raises(DetectionFailed):
        Harness(Wrong).feed(dns()).evidence()


def test_declaration_errors_are_caught_at_class_creation():
    with pytest.raises(TypeError, match="channels"):
        class NoChannel(Detection, register=False):
            id = "test_nochannel"
            channels = ("new_nothing",)
            evidence = (SEEN,)
    with pytest.raises(TypeError, match="no evidence"):
        class NoKinds(Detection, register=False):
            id = "test_nokinds"
            channels = ("new_flow",)
