"""Zeek notices (spec 2.14, 4.11): scans, and SSL::Invalid_Server_Cert (2.15, 2.16)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, notice, ssl
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline

SCANNER = "192.168.1.1"
VMSG = "192.168.1.1 scanned at least 15 unique ports of host 10.0.0.5 in 0m3s"


@pytest.mark.parametrize(
    ("note", "msg", "expected_type", "victim"),
    [
        ("Scan::Port_Scan", VMSG, "VERTICAL_PORT_SCAN", "10.0.0.5"),
        ("Scan::Port_Scan", "192.168.1.1 scanned at least 15 unique ports", "VERTICAL_PORT_SCAN", None),
        ("Scan::Port_Scan", "x ports of host not-an-ip in 1m", "VERTICAL_PORT_SCAN", None),
        ("Scan::Port_Scan", "", "VERTICAL_PORT_SCAN", None),
        ("Scan::Address_Scan", "192.168.1.1 scanned at least 25 unique hosts on port 23/tcp in 1m14s",
         "HORIZONTAL_PORT_SCAN", None),
        ("Other::Note", VMSG, None, None),
        ("ICMP::ICMPAddressScan", "192.168.1.1 performed ICMP address scan on 5 hosts", None, None),
    ],
)
def test_scan_notices(note, msg, expected_type, victim):
    pipe = OwnPipeline()
    record = notice(note=note, msg=msg, scanning_ip=SCANNER, saddr=SCANNER, daddr=SCANNER, uid="Cn1")
    new = pipe.feed(record)
    marked = pipe.state.peek_window("port_scanner", SCANNER, 1)
    if expected_type is None:
        assert new == [] and marked is None
        return
    [ev] = new
    assert ev.evidence_type.value == expected_type
    assert ev.attacker == src_ip(SCANNER)
    assert ev.victim == (dst_ip(victim) if victim else None)
    assert (ev.threat_level, ev.confidence) == (ThreatLevel.HIGH, 1.0)
    assert (ev.profile, ev.timewindow, ev.uids) == (SCANNER, 1, ["Cn1"])
    assert marked == {"flag": True}


def test_scan_without_valid_scanner_is_skipped():
    pipe = OwnPipeline()
    assert pipe.feed(notice(note="Scan::Port_Scan", msg=VMSG, scanning_ip="", saddr="")) == []
    assert pipe.errors() == {}


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        ("SSL certificate validation failed with (self signed certificate)", "SELF_SIGNED_CERTIFICATE"),
        ("SSL certificate validation failed with (certificate has expired)", "INVALID_CERTIFICATE"),
        ("SSL certificate validation failed with (ok)", None),
    ],
)
def test_invalid_server_cert_notice(msg, expected):
    pipe = OwnPipeline()
    new = pipe.feed(notice(note="SSL::Invalid_Server_Cert", msg=msg, saddr=CLIENT, daddr=SERVER, uid="Cx"))
    if expected is None:
        assert new == []
        return
    client, server = new
    assert client.evidence_type.value == server.evidence_type.value == expected
    assert (client.attacker, client.profile) == (src_ip(CLIENT), CLIENT)
    assert (server.attacker, server.profile) == (dst_ip(SERVER), SERVER)
    assert client.threat_level is ThreatLevel.LOW and client.confidence == 0.5 and client.uids == ["Cx"]


def test_notice_and_ssl_report_the_same_failure_once():
    pipe = OwnPipeline()
    pipe.feed(ssl(validation_status="certificate has expired"),
              notice(note="SSL::Invalid_Server_Cert", saddr=CLIENT, daddr=SERVER,
                     msg="SSL certificate validation failed with (certificate has expired)"))
    assert pipe.types() == ["INVALID_CERTIFICATE", "INVALID_CERTIFICATE"]
