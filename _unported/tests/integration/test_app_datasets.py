"""End-to-end ``flowalerts run`` on the shared datasets for the TLS, notice,
SSH, SMTP, HTTP, software and tunnel detections: what must fire, and the
false positives that must not (each with the reason)."""

from __future__ import annotations

import json
import pathlib

import pytest

from flowalerts.cli import main

pytestmark = pytest.mark.integration

OWN_TYPES = {
    "SSH_SUCCESSFUL", "MALICIOUS_JA3", "MALICIOUS_JA3S", "MALICIOUS_JA4", "MALICIOUS_JA4S",
    "VERTICAL_PORT_SCAN", "HORIZONTAL_PORT_SCAN", "SELF_SIGNED_CERTIFICATE", "INVALID_CERTIFICATE",
    "MALICIOUS_SSL_CERT", "PASTEBIN_DOWNLOAD", "BAD_SMTP_LOGIN", "SMTP_LOGIN_BRUTEFORCE",
    "MULTIPLE_SSH_VERSIONS", "INCOMPATIBLE_CN", "CN_URL_MISMATCH", "WEIRD_HTTP_METHOD", "GRE_TUNNEL",
    "GRE_SCAN", "LOGIN", "DNS_OVER_HTTPS",
}
SMTP_CLIENT, SMTP_SERVER = "10.1.11.101", "80.75.42.226"


def run(path: pathlib.Path, out: pathlib.Path, *extra: str) -> list[dict]:
    assert main(["run", "-f", str(path), "-o", str(out), "--offline", "-q", *extra]) == 0
    return [json.loads(line) for line in (out / "alerts.json").read_text().splitlines()]


def of(alerts: list[dict], kind: str) -> list[dict]:
    return [a for a in alerts if a["evidence_type"] == kind]


def own(alerts: list[dict]) -> list[dict]:
    return [a for a in alerts if a["evidence_type"] in OWN_TYPES]


@pytest.fixture(scope="module")
def test9(datasets, tmp_path_factory) -> list[dict]:
    return run(datasets / "test9-mixed-zeek-dir", tmp_path_factory.mktemp("t9"))


def test_test9_software_smtp(test9):
    [ssh] = of(test9, "MULTIPLE_SSH_VERSIONS")
    assert (ssh["attacker"]["value"], ssh["profile"], ssh["threat_level"], ssh["confidence"]) == (
        "192.168.1.247", "192.168.1.247", "medium", 0.9)
    assert "8.1 to 9.1" in ssh["description"]
    # Four "554 5.7.1 bad smtp-auth user" replies; the "220 OK" one is not a bad login.
    bad = of(test9, "BAD_SMTP_LOGIN")
    assert len(bad) == 4
    assert {(a["attacker"]["value"], a["victim"]["value"], a["threat_level"]) for a in bad} == {
        (SMTP_CLIENT, SMTP_SERVER, "high")}
    # 3 within 7.2 s: one brute force; the 4th (1.3 s later) is the same burst.
    [brute] = of(test9, "SMTP_LOGIN_BRUTEFORCE")
    assert (brute["profile"], brute["uids"]) == (SMTP_CLIENT, ["CAyhWs12ySSqPUEjJ3"])


def test_test9_avoided_false_positives(test9):
    # ICMP::* scan notices are not Scan::Port_Scan / Scan::Address_Scan.
    assert of(test9, "HORIZONTAL_PORT_SCAN") == of(test9, "VERTICAL_PORT_SCAN") == []
    # No pastebin host, no DoH server, no ssh.log, no login.log, no weird.log.
    for kind in ("PASTEBIN_DOWNLOAD", "SSH_SUCCESSFUL", "LOGIN", "WEIRD_HTTP_METHOD"):
        assert of(test9, kind) == []
    # (The TLS detections' dataset tests are in tests/integration/test_tls_datasets.py.)


def test_test14_smtp_and_gre(datasets, tmp_path):
    alerts = run(datasets / "test14-malicious-zeek-dir", tmp_path)
    assert len(of(alerts, "BAD_SMTP_LOGIN")) == 4
    assert len(of(alerts, "SMTP_LOGIN_BRUTEFORCE")) == 1
    assert sorted(a["evidence_type"] for a in alerts if a["evidence_type"].startswith("GRE")) == ["GRE_SCAN", "GRE_TUNNEL"]
    # http.log has no pastebin host and no weird.log exists.
    assert of(alerts, "PASTEBIN_DOWNLOAD") == of(alerts, "WEIRD_HTTP_METHOD") == []


def test_test10_address_scans(datasets, tmp_path):
    alerts = run(datasets / "test10-mixed-zeek-dir", tmp_path)
    scans = of(alerts, "HORIZONTAL_PORT_SCAN")
    assert len(scans) == 12
    assert {(a["attacker"]["value"], a["profile"], a["threat_level"], a.get("victim")) for a in scans} == {
        ("147.32.83.156", "147.32.83.156", "high", None)}
    # The SSH password-guessing notice belongs to brute-force detection elsewhere.
    assert of(alerts, "VERTICAL_PORT_SCAN") == []


@pytest.mark.redis
def test_test9_same_evidence_on_real_redis(datasets, tmp_path, redis_url, test9):
    real = run(datasets / "test9-mixed-zeek-dir", tmp_path / "real", "--redis", redis_url)
    assert own(real) == own(test9)
    assert {a["evidence_type"] for a in own(real)} >= {
        "MULTIPLE_SSH_VERSIONS", "BAD_SMTP_LOGIN", "SMTP_LOGIN_BRUTEFORCE", "INCOMPATIBLE_CN", "CN_URL_MISMATCH",
        "INVALID_CERTIFICATE"}
