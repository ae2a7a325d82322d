"""``flowalerts run`` on the shared datasets, TLS detections only: what must fire,
the false positives that must not (each with its reason), and the capture-clock
warning (issue 13)."""

from __future__ import annotations

import json
import pathlib

import pytest

from flowalerts.cli.main import main

pytestmark = pytest.mark.integration

TLS_TYPES = {
    "SELF_SIGNED_CERTIFICATE", "INVALID_CERTIFICATE", "INCOMPATIBLE_CN", "CN_URL_MISMATCH", "MALICIOUS_JA3",
    "MALICIOUS_JA3S", "MALICIOUS_JA4", "MALICIOUS_JA4S", "MALICIOUS_SSL_CERT", "DNS_OVER_HTTPS", "PASTEBIN_DOWNLOAD",
}


def run(path: pathlib.Path, out: pathlib.Path, capsys, *extra: str) -> tuple[list[dict], str]:
    assert main(["run", "-f", str(path), "-o", str(out), "--offline", "-q", *extra]) == 0
    # An evidence updated at its window's close appears again with the same id: keep the last version.
    final = {}
    for line in (out / "alerts.json").read_text().splitlines():
        evidence = json.loads(line)
        final[evidence["id"]] = evidence
    return [a for a in final.values() if a["evidence_type"] in TLS_TYPES], capsys.readouterr().err


def of(alerts: list[dict], kind: str) -> list[dict]:
    return [a for a in alerts if a["evidence_type"] == kind]


@pytest.fixture
def test9(datasets, tmp_path, capsys) -> tuple[list[dict], str]:
    return run(datasets / "test9-mixed-zeek-dir", tmp_path, capsys)


def test_test9_evidence(test9):
    alerts, _ = test9
    assert sorted(a["evidence_type"] for a in alerts) == ["CN_URL_MISMATCH", "CN_URL_MISMATCH", "INCOMPATIBLE_CN"]
    # The crafted connection: a www.microsoft.com certificate served for
    # www.netflix.com from a non-Microsoft, non-CDN IP.
    [cn] = of(alerts, "INCOMPATIBLE_CN")
    assert (cn["attacker"]["value"], cn["victim"]["value"], cn["profile"], cn["uids"], cn["count"]) == (
        "123.33.22.11", "10.0.2.15", "10.0.2.15", ["CCaRFW2mHr5QjSxnQk"], 1)
    assert cn["details"]["org"] == "microsoft"
    mismatch = of(alerts, "CN_URL_MISMATCH")
    assert sorted((a["attacker"]["ioc_type"], a["attacker"]["value"], a["threat_level"], a["profile"])
                  for a in mismatch) == [("DOMAIN", "www.netflix.com", "medium", "123.33.22.11"),
                                         ("IP", "10.0.2.15", "low", "10.0.2.15")]
    assert mismatch[0]["details"]["san_count"] == 7


def test_test9_avoided_false_positives(test9):
    alerts, _ = test9
    # Microsoft certificates for mem.gfx.ms and assets.onestore.ms served from
    # Akamai (AS20940, AS16625), a CDN Microsoft uses: the certificate covers
    # the SNI (CN, or a SAN from x509.log).
    assert not any(a["attacker"]["value"] in ("23.38.85.187", "104.96.160.12") for a in alerts)
    # The bing.com certificate served for ieonline.microsoft.com lists that name in its SANs.
    assert not any("ieonline" in a["description"] for a in alerts)
    # sha1 8800350f... is in the shipped sample SSL feed, but in files.log it
    # is an HTTP download (source HTTP), not a certificate.
    assert of(alerts, "MALICIOUS_SSL_CERT") == []


def test_test9_capture_clock_gives_one_warning_instead_of_154_invalid_certificates(test9):
    alerts, err = test9
    assert of(alerts, "INVALID_CERTIFICATE") == of(alerts, "SELF_SIGNED_CERTIFICATE") == []
    warnings = [line for line in err.splitlines() if "certificate validation" in line]
    assert len(warnings) == 1
    assert "154 'expired' / 'not yet valid' result(s) for 66 server(s)" in warnings[0]
    assert "before 2000" in warnings[0]


def test_test9_with_fixture_feeds(datasets, tmp_path, capsys):
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
    alerts, _ = run(datasets / "test9-mixed-zeek-dir", tmp_path / "out", capsys, "-c", str(cfg))
    [client] = of(alerts, "MALICIOUS_JA3")
    assert (client["attacker"]["value"], client["victim"]["value"], client["threat_level"], client["count"]) == (
        "10.0.2.15", "22.22.33.22", "high", 1)
    assert client["details"]["feed_description"] == "TestBot"
    server, peer = of(alerts, "MALICIOUS_JA3S")
    assert (server["attacker"]["value"], server["profile"], server["threat_level"]) == (
        "123.33.22.11", "123.33.22.11", "high")
    assert (peer["attacker"]["value"], peer["profile"], peer["threat_level"]) == ("10.0.2.15", "10.0.2.15", "low")
    assert server["rel_id"] == [peer["id"]]
    # The listed Bing certificate, seen twice on each of two servers (files.log):
    # one pair per server with both connections (the HTTP file with the other
    # listed SHA1 stays silent).
    certs = of(alerts, "MALICIOUS_SSL_CERT")
    assert sorted((a["attacker"]["direction"], a["attacker"]["value"], a["threat_level"], a["profile"], a["count"])
                  for a in certs) == [
        ("DST", "13.107.21.200", "high", "13.107.21.200", 2), ("DST", "204.79.197.200", "high", "204.79.197.200", 2),
        ("SRC", "10.0.2.15", "low", "10.0.2.15", 2), ("SRC", "10.0.2.15", "low", "10.0.2.15", 2)]
    assert sorted(certs[0]["uids"]) == ["CbAzVq2nHIj5QEkXLa", "CmjEJ14q2fMkVjIrjh", "F9BMVSS9qUwW4Jge7",
                                        "FKMTO94tQEsBTFbPgc"]


def test_test10_validated_certificates_give_nothing(datasets, tmp_path, capsys):
    alerts, err = run(datasets / "test10-mixed-zeek-dir", tmp_path, capsys)
    assert alerts == []
    assert "certificate validation" not in err
