"""SSH_SUCCESSFUL (spec 2.2 / 4.2, INTENT: JSON boolean true takes the Zeek path)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, T0, config, conn, ssh
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline

THRESHOLD = 4290


@pytest.mark.parametrize(
    ("auth_success", "sbytes", "dbytes", "expected_method"),
    [
        (True, 10, 10, "Zeek"),            # Zeek verdict, any size
        (None, 2000, 2291, "byte count"),  # 4291 > 4290
        (False, 2000, 2291, "byte count"),
        (None, 2000, 2290, None),          # 4290 is not above the threshold
        (False, 0, 0, None),
    ],
)
def test_ssh_successful_methods(auth_success, sbytes, dbytes, expected_method):
    pipe = OwnPipeline()
    pipe.facts.record_conn(conn(uid="Cssh1", dport=22, sbytes=sbytes, dbytes=dbytes))
    new = pipe.feed(ssh(auth_success=auth_success))
    found = pipe.of_type("SSH_SUCCESSFUL", new)
    if expected_method is None:
        assert found == []
        assert pipe.of_type("SSH_SUCCESSFUL", pipe.finish()) == []
        return
    [ev] = found
    assert ev.threat_level is ThreatLevel.INFO
    assert ev.confidence == 0.8
    assert ev.attacker == src_ip(CLIENT)
    assert ev.victim == dst_ip(SERVER)
    assert (ev.profile, ev.timewindow, ev.uids) == (CLIENT, 1, ["Cssh1"])
    assert expected_method in ev.description
    assert str(sbytes + dbytes) in ev.description


def test_ssh_conn_arriving_later_settles_on_flow_time():
    pipe = OwnPipeline(cfg=config(flow_alerts={"ssh_succesful_detection_threshold": 1000}))
    assert pipe.feed(ssh(auth_success=False)) == []
    # The conn record becomes known later (conn.log is written at connection end).
    pipe.facts.record_conn(conn(uid="Cssh1", dport=22, sbytes=2000, dbytes=2000))
    assert pipe.of_type("SSH_SUCCESSFUL", pipe.advance_to(T0 + 10)) != []
    [ev] = pipe.of_type("SSH_SUCCESSFUL")
    assert "4000" in ev.description and "byte count" in ev.description


def test_ssh_zeek_success_without_conn_waits_then_fires_at_deadline():
    pipe = OwnPipeline()
    assert pipe.feed(ssh(auth_success=True)) == []
    assert pipe.advance_to(T0 + 299) == []
    [ev] = pipe.of_type("SSH_SUCCESSFUL", pipe.advance_to(T0 + 301))
    assert ev.uids == ["Cssh1"] and "Zeek" in ev.description


def test_ssh_settled_at_finish_and_once_per_uid():
    pipe = OwnPipeline()
    pipe.feed(ssh(auth_success=True), ssh(auth_success=True, starttime=T0 + 1))
    assert len(pipe.of_type("SSH_SUCCESSFUL", pipe.finish())) == 1
    pipe2 = OwnPipeline()
    pipe2.feed(ssh(auth_success=False))
    assert pipe2.of_type("SSH_SUCCESSFUL", pipe2.finish()) == []


def test_ssh_without_uid_is_ignored():
    pipe = OwnPipeline()
    pipe.feed(ssh(uid="", auth_success=True))
    pipe.finish()
    assert pipe.of_type("SSH_SUCCESSFUL") == []
