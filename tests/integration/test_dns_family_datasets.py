"""The dns.log, smtp, notice, software, tunnel, login, http and ssh detections on the shared
datasets: the exact evidence (type, profile, window, attacker, victim, level, confidence,
count, details) of each, with the real Slips 1.1.21's count beside it (traffic/README.md).
Only these detections run (plus what they need), so other families cannot break this test."""

from __future__ import annotations

import pytest

from flowalerts.catalog import load_components
from flowalerts.io.input.folder import FolderReader
from tests.harness import Harness, summary

pytestmark = pytest.mark.integration

FAMILY = ("arpa_scan", "dga", "dns_different_localnet", "high_entropy_txt", "invalid_resolution",
          "dns_without_connection", "young_domain", "bad_smtp_login", "smtp_bruteforce", "zeek_notices",
          "ssh_versions", "gre", "login", "weird_http_method", "pastebin_http", "ssh_successful")


def run(folder):
    detections = load_components()[0]
    reader = FolderReader(str(folder))
    harness = Harness(*(detections[ident] for ident in FAMILY), available_logs=reader.available_logs)
    return sorted((summary(e) for e in harness.feed(*reader).evidence()), key=repr)


def smtp(kind, count, level, details):
    return (kind, "10.1.11.101", 456089, "10.1.11.101", "80.75.42.226", level, 1.0, count, details)


BAD_SMTP = smtp("BAD_SMTP_LOGIN", 4, "critical", {"kind": "BadSmtpLoginDetails", "failures": 4,
                                                  "server": "80.75.42.226",
                                                  "last_reply": "554 5.7.1 bad smtp-auth user"})
SMTP_BRUTEFORCE = smtp("SMTP_LOGIN_BRUTEFORCE", 4, "high", {"kind": "SmtpBruteforceDetails", "failures": 4,
                                                            "threshold": 3, "window": 10.0, "server": "80.75.42.226"})


def scan(port, n, duration):
    return ("HORIZONTAL_PORT_SCAN", "147.32.83.156", 1, "147.32.83.156", None, "high", 1.0, n,
            {"kind": "PortScanDetails", "notices": n, "port": port, "scanned_host": "",
             "message": f"147.32.83.156 scanned at least 25 unique hosts on port {port}/tcp in {duration}"})


EXPECTED = {
    # Slips: BAD_SMTP_LOGIN 4 (one per failure), SMTP_LOGIN_BRUTEFORCE 1, MULTIPLE_SSH_VERSIONS 1.
    "test9-mixed-zeek-dir": [
        BAD_SMTP,
        ("MULTIPLE_SSH_VERSIONS", "192.168.1.247", 453418, "192.168.1.247", None, "medium", 0.9, 1,
         {"kind": "SshVersionsDetails", "role": "client", "changes": 1, "versions": ["8.1", "9.1"],
          "software": "OpenSSH"}),
        SMTP_BRUTEFORCE,
    ],
    # Slips: HORIZONTAL_PORT_SCAN 12 (one per notice: 5 on 23, 4 on 8080, 3 on 2323),
    # HIGH_ENTROPY_DNS_ANSWER 10 (mDNS printer announcements to 224.0.0.251: exempt here),
    # DNS_WITHOUT_CONNECTION 0 (never emitted by Slips 1.1.21). The one here is a dual-stack
    # host that resolved over IPv6 and connected over IPv4 (no MAC in conn.log to link them).
    "test10-mixed-zeek-dir": [
        ("DNS_WITHOUT_CONNECTION", "2001:718:2:1663:dc58:6d9:ef13:51a5", 1, "2001:718:2:1663:dc58:6d9:ef13:51a5",
         "virtual.secai.com", "info", 0.8, 2,
         {"kind": "WithoutConnectionDetails", "query": "virtual.secai.com",
          "answers": ["3.232.121.231", "34.239.190.38", "52.7.92.40"], "cnames": ["sslevents.bizzabo.com"],
          "queries": 2, "wait": 1800.0}),
        scan(23, 5, "1m14s"),
        scan(2323, 3, "3m24s"),
        scan(8080, 4, "2m51s"),
    ],
    "test13-malicious-dhcpscan-zeek-dir": [],
    # Slips: BAD_SMTP_LOGIN 4, SMTP_LOGIN_BRUTEFORCE 1, GRE_SCAN 1, GRE_TUNNEL 1.
    "test14-malicious-zeek-dir": [
        BAD_SMTP,
        ("GRE_SCAN", "10.0.2.15", 1, "10.0.2.15", "115.112.11.30", "low", 1.0, 1,
         {"kind": "GreScanDetails", "discoveries": 1, "destinations": ["115.112.11.30"], "distinct_destinations": 1}),
        ("GRE_TUNNEL", "10.0.2.15", 1, "10.0.2.15", "115.112.11.30", "low", 1.0, 1,
         {"kind": "GreTunnelDetails", "records": 1, "actions": ["Tunnel::EXPIRE"]}),
        SMTP_BRUTEFORCE,
    ],
}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_dataset(datasets, dataset):
    assert run(datasets / dataset) == sorted(EXPECTED[dataset], key=repr)
