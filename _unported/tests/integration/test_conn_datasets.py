"""conn.log detections end to end (``flowalerts run``) on the shared datasets.

Each test states the evidence expected in a folder and the false positives the
detections must avoid there, with the reason.
"""

from __future__ import annotations

import collections
import json
import pathlib

import pytest

from flowalerts.cli import main

pytestmark = pytest.mark.integration

CONN_TYPES = {
    "LONG_CONNECTION", "CONNECTION_WITHOUT_DNS", "UNKNOWN_PORT", "DATA_UPLOAD", "TOR_EXIT_NODE",
    "PORT_0_CONNECTION", "MULTIPLE_RECONNECTION_ATTEMPTS", "CONNECTION_TO_MULTIPLE_PORTS",
    "NON_SSL_PORT_443_CONNECTION", "CONNECTION_TO_PRIVATE_IP", "DIFFERENT_LOCALNET", "DEVICE_CHANGING_IP",
}


def run(folder: pathlib.Path, out: pathlib.Path, *extra: str) -> list[dict]:
    assert main(["run", "-f", str(folder), "-o", str(out), "--offline", "-q", *extra]) == 0
    return [json.loads(line) for line in (out / "alerts.json").read_text().splitlines()]


def of(alerts: list[dict], evidence_type: str) -> list[dict]:
    return [a for a in alerts if a["evidence_type"] == evidence_type]


def victim(alert: dict) -> str | None:
    return (alert.get("victim") or {}).get("value")


def dns_answers(folder: pathlib.Path) -> set[str]:
    answers: set[str] = set()
    path = folder / "dns.log"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                answers.update(json.loads(line).get("answers") or ())
    return answers


def test_test10_conn_detections(datasets, tmp_path):
    folder = datasets / "test10-mixed-zeek-dir"
    alerts = run(folder, tmp_path)

    # 192.0.2.44 talks to 156.87.76.4 on two ports no service uses, with established TCP.
    unknown = {(a["attacker"]["value"], victim(a), a["dst_port"]): a["threat_level"] for a in of(alerts, "UNKNOWN_PORT")}
    assert unknown[("192.0.2.44", "156.87.76.4", 1337)] == "high"
    assert unknown[("192.0.2.44", "156.87.76.4", 337)] == "high"
    # The 1337/tcp sweep of 10.0.0.1-10 never got established: MEDIUM, once per destination.
    sweep = [k for k in unknown if k[0] == "192.0.2.10"]
    assert len(sweep) == 10 and {unknown[k] for k in sweep} == {"medium"}
    # Known services (443, 80, 53 ...) never count as unknown ports.
    assert not {k[2] for k in unknown} & {53, 80, 443, 123, 22}
    # At most one evidence per (source, destination, port) per window.
    keys = [(a["profile"], a["timewindow"], victim(a), a["dst_port"]) for a in of(alerts, "UNKNOWN_PORT")]
    assert len(keys) == len(set(keys))

    (multi,) = of(alerts, "CONNECTION_TO_MULTIPLE_PORTS")
    assert (multi["attacker"]["value"], victim(multi), multi["threat_level"], multi["confidence"]) == (
        "192.0.2.44", "156.87.76.4", "info", 0.5)

    non_ssl = {(a["attacker"]["value"], victim(a)) for a in of(alerts, "NON_SSL_PORT_443_CONNECTION")}
    assert ("192.0.2.44", "185.247.224.89") in non_ssl
    assert {a["threat_level"] for a in of(alerts, "NON_SSL_PORT_443_CONNECTION")} == {"medium"}

    # Connection without DNS: never to an address the capture's dns.log resolved, never to a
    # private/multicast/broadcast destination, and once per (profile, window, destination).
    answers = dns_answers(folder)
    no_dns = of(alerts, "CONNECTION_WITHOUT_DNS")
    assert no_dns
    assert not {victim(a) for a in no_dns} & answers
    assert not [a for a in no_dns if victim(a).startswith(("10.", "192.168.", "224.", "255.", "ff02:", "fe80:"))]
    keys = [(a["profile"], a["timewindow"], victim(a)) for a in no_dns]
    assert len(keys) == len(set(keys))
    # The Zeek-reported horizontal scanner (147.32.83.156) gets no UNKNOWN_PORT flood.
    assert not [a for a in of(alerts, "UNKNOWN_PORT") if a["profile"] == "147.32.83.156"]


def test_test9_private_traffic(datasets, tmp_path):
    alerts = run(datasets / "test9-mixed-zeek-dir", tmp_path)
    private = of(alerts, "CONNECTION_TO_PRIVATE_IP")
    # NetBIOS broadcasts inside 10.0.2.0/24 are private-to-private traffic (INFO).
    assert {(a["attacker"]["value"], victim(a), a["dst_port"]) for a in private} >= {
        ("10.0.2.15", "10.0.2.255", 137), ("10.0.2.15", "10.0.2.255", 138)}
    # DNS to the resolver (53) and DHCP (67/68) are exempt, as the seed says.
    assert not [a for a in private if a["dst_port"] in (53, 67, 68, 546, 547)]
    assert {a["threat_level"] for a in private} == {"info"}
    # Every host is in 10.0.2.0/24, the learned local network: no DIFFERENT_LOCALNET; nothing is
    # uploaded in bulk; no MAC is logged so no device changes IP.
    for absent in ("DIFFERENT_LOCALNET", "DATA_UPLOAD", "DEVICE_CHANGING_IP", "TOR_EXIT_NODE"):
        assert of(alerts, absent) == [], absent


def test_test13_dhcp_scan(datasets, tmp_path):
    alerts = run(datasets / "test13-malicious-dhcpscan-zeek-dir", tmp_path)
    # DHCP traffic (67/68) is never private-IP evidence and the DHCP server learned from
    # dhcp.log never gets CONNECTION_WITHOUT_DNS.
    assert not [a for a in of(alerts, "CONNECTION_TO_PRIVATE_IP") if a["dst_port"] in (67, 68)]
    assert of(alerts, "CONNECTION_WITHOUT_DNS") == []
    # 192.168.1.5 is outside the local network learned from the first private source
    # (10.0.2.0/24): a LOW source-side DIFFERENT_LOCALNET.
    assert [(a["attacker"]["value"], a["threat_level"], a["profile"]) for a in of(alerts, "DIFFERENT_LOCALNET")] == [
        ("192.168.1.5", "low", "192.168.1.5")]


def test_horizontal_scan_folder(datasets, tmp_path):
    alerts = run(datasets / "port-scans" / "horizontal", tmp_path)
    # The scanner contacts many web servers by address only: connection without DNS, once each.
    no_dns = of(alerts, "CONNECTION_WITHOUT_DNS")
    assert len(no_dns) >= 20
    assert {a["attacker"]["value"] for a in no_dns} == {"10.0.2.112"}
    assert len({victim(a) for a in no_dns}) == len(no_dns)
    # Port 80 is a known service: UNKNOWN_PORT only for the odd ports.
    assert 80 not in {a["dst_port"] for a in of(alerts, "UNKNOWN_PORT")}


def test_vertical_scan_folder(datasets, tmp_path):
    alerts = run(datasets / "port-scans" / "vertical", tmp_path)
    unknown = of(alerts, "UNKNOWN_PORT")
    assert unknown and {victim(a) for a in unknown} == {"45.33.32.156"}
    # A port gets at most one evidence per window, and scan probes that were never
    # established are MEDIUM.
    keys = [(a["timewindow"], a["dst_port"]) for a in unknown]
    assert len(keys) == len(set(keys))
    assert {a["threat_level"] for a in unknown} <= {"medium", "high"}
    # A vertical scan probes each port once: no reconnection attempts to one port.
    assert of(alerts, "MULTIPLE_RECONNECTION_ATTEMPTS") == []


@pytest.mark.redis
def test_test10_conn_evidence_same_on_real_redis(datasets, tmp_path, redis_url):
    folder = datasets / "test10-mixed-zeek-dir"
    embedded = run(folder, tmp_path / "embedded")
    real = run(folder, tmp_path / "real", "--redis", redis_url)

    def conn_only(alerts):
        return sorted(json.dumps(a, sort_keys=True) for a in alerts if a["evidence_type"] in CONN_TYPES)

    assert conn_only(real) == conn_only(embedded)
    counts = collections.Counter(a["evidence_type"] for a in real)
    assert counts["UNKNOWN_PORT"] and counts["CONNECTION_TO_MULTIPLE_PORTS"] and counts["NON_SSL_PORT_443_CONNECTION"]


def _conn_line(ts: float, uid: str, orig: str, resp: str, port: int, **extra) -> str:
    record = {"ts": ts, "uid": uid, "id.orig_h": orig, "id.orig_p": 40000, "id.resp_h": resp, "id.resp_p": port,
              "proto": "tcp", "duration": 1.0, "orig_bytes": 100, "resp_bytes": 100, "conn_state": "SF",
              "orig_pkts": 5, "resp_pkts": 5, **extra}
    return json.dumps(record)


def test_synthetic_mac_upload_and_reconnections(tmp_path):
    """Zeek's orig_l2_addr reaches the record, so DEVICE_CHANGING_IP fires end to end (it never
    does in the reference); a 120 MB upload and 5 rejected attempts fire too."""
    folder = tmp_path / "zeek"
    folder.mkdir()
    t0 = 1_600_000_000.0
    lines = [
        _conn_line(t0, "Cmac1", "192.168.1.2", "192.168.1.1", 80, orig_l2_addr="00:11:22:33:44:55"),
        _conn_line(t0 + 10, "Cmac2", "192.168.1.3", "192.168.1.1", 80, orig_l2_addr="00:11:22:33:44:55"),
        _conn_line(t0 + 20, "Cup", "192.168.1.2", "8.8.4.4", 443, orig_bytes=120_000_000, service="ssl"),
    ]
    lines += [_conn_line(t0 + 30 + i, f"Crej{i}", "192.168.1.2", "8.8.4.4", 8080, conn_state="REJ", orig_bytes=0,
                         resp_bytes=0, orig_pkts=1, resp_pkts=1) for i in range(5)]
    (folder / "conn.log").write_text("\n".join(lines) + "\n")
    alerts = run(folder, tmp_path / "out")

    (device,) = of(alerts, "DEVICE_CHANGING_IP")
    assert (device["attacker"]["value"], device["threat_level"], device["uids"]) == ("192.168.1.3", "medium", ["Cmac2"])
    upload = of(alerts, "DATA_UPLOAD")
    assert sorted((a["profile"], a["threat_level"]) for a in upload) == [("192.168.1.2", "info"), ("8.8.4.4", "high")]
    (reconnect,) = of(alerts, "MULTIPLE_RECONNECTION_ATTEMPTS")
    assert reconnect["uids"] == [f"Crej{i}" for i in range(5)]
