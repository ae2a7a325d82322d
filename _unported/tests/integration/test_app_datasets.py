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


def test_test9_certificates(test9):
    # The crafted connection: a www.microsoft.com certificate served for
    # www.netflix.com from a non-Microsoft IP: incompatible CN (server blamed)
    # and a CN-URL mismatch pair.
    cn = [a for a in of(test9, "INCOMPATIBLE_CN") if a["uids"] == ["CCaRFW2mHr5QjSxnQk"]]
    assert [(a["attacker"]["value"], a["victim"]["value"], a["profile"]) for a in cn] == [
        ("123.33.22.11", "10.0.2.15", "10.0.2.15")]
    mismatch = of(test9, "CN_URL_MISMATCH")
    assert sorted((a["attacker"]["ioc_type"], a["attacker"]["value"], a["threat_level"], a["profile"])
                  for a in mismatch) == [("DOMAIN", "www.netflix.com", "medium", "123.33.22.11"),
                                         ("IP", "10.0.2.15", "low", "10.0.2.15")]
    # Avoided false positive: the bing.com certificate served for
    # ieonline.microsoft.com lists that name in its SANs (x509.log join).
    assert not any("ieonline" in a["description"] for a in mismatch)
    # The capture's clock is near epoch 0, so Zeek says "certificate is not
    # yet valid": invalid (not self-signed) certificates, in pairs, once per
    # server and status.
    invalid = of(test9, "INVALID_CERTIFICATE")
    assert invalid and len(invalid) % 2 == 0
    assert all("not yet valid" in a["description"] for a in invalid)
    clients = [a for a in invalid if a["attacker"]["direction"] == "SRC"]
    servers = [a["attacker"]["value"] for a in invalid if a["attacker"]["direction"] == "DST"]
    assert len(servers) == len(set(servers)) == len(clients)
    assert of(test9, "SELF_SIGNED_CERTIFICATE") == []


def test_test9_avoided_false_positives(test9):
    # sha1 8800350f... is in the shipped sample SSL feed, but in files.log it
    # is an HTTP download (source HTTP), not a certificate.
    assert of(test9, "MALICIOUS_SSL_CERT") == []
    # ICMP::* scan notices are not Scan::Port_Scan / Scan::Address_Scan.
    assert of(test9, "HORIZONTAL_PORT_SCAN") == of(test9, "VERTICAL_PORT_SCAN") == []
    # No pastebin host, no DoH server, no ssh.log, no login.log, no weird.log.
    for kind in ("PASTEBIN_DOWNLOAD", "DNS_OVER_HTTPS", "SSH_SUCCESSFUL", "LOGIN", "WEIRD_HTTP_METHOD"):
        assert of(test9, kind) == []
    # The sample JA3 feed lists none of test9's fingerprints.
    assert of(test9, "MALICIOUS_JA3") == of(test9, "MALICIOUS_JA3S") == []


def test_test9_with_fixture_feeds(datasets, tmp_path):
    ja3 = tmp_path / "ja3.csv"
    ja3.write_text("# ja3_md5,Firstseen,Lastseen,Listingreason\n"
                   "6734f37431670b3ab4292b8f60f29984,2020-01-01 00:00:00,2024-01-01 00:00:00,TestBot\n"
                   "e7d705a3286e19ea42f587b344ee6865,2020-01-01 00:00:00,2024-01-01 00:00:00,TestC2\n")
    sslbl = tmp_path / "ssl.csv"
    sslbl.write_text("# Listingdate,SHA1,Listingreason\n"
                     "2024-01-01 00:00:00,738b62fa6466539f378924c2d47d0934787a6b60,Test C&C\n"
                     "2024-01-01 00:00:00,8800350f53cb7bfc883962e965461d94ab5d2616,Not a certificate\n")
    cfg = tmp_path / "slips.yaml"
    cfg.write_text(f"threatintelligence:\n  ja3_feed: {ja3}\n  ssl_feed: {sslbl}\n"
                   f"  tor_exit_nodes: {tmp_path / 'none.txt'}\n")
    alerts = run(datasets / "test9-mixed-zeek-dir", tmp_path / "out", "-c", str(cfg))
    [client] = of(alerts, "MALICIOUS_JA3")
    assert (client["attacker"]["value"], client["victim"]["value"], client["threat_level"]) == (
        "10.0.2.15", "22.22.33.22", "high")
    assert "TestBot" in client["description"]
    server, peer = of(alerts, "MALICIOUS_JA3S")
    assert (server["attacker"]["value"], server["profile"], server["threat_level"]) == ("123.33.22.11", "123.33.22.11", "high")
    assert (peer["attacker"]["value"], peer["profile"], peer["threat_level"]) == ("10.0.2.15", "10.0.2.15", "low")
    assert server["rel_id"] == [peer["id"]]
    certs = of(alerts, "MALICIOUS_SSL_CERT")
    # The listed Bing certificate is served by two servers: one pair per server
    # (the HTTP file with the other listed SHA1 stays silent).
    assert sorted((a["attacker"]["direction"], a["attacker"]["value"], a["threat_level"], a["profile"])
                  for a in certs) == [
        ("DST", "13.107.21.200", "high", "13.107.21.200"), ("DST", "204.79.197.200", "high", "204.79.197.200"),
        ("SRC", "10.0.2.15", "low", "10.0.2.15"), ("SRC", "10.0.2.15", "low", "10.0.2.15")]
    assert certs[0]["uids"] == ["FKMTO94tQEsBTFbPgc", "CmjEJ14q2fMkVjIrjh"]


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
