"""Every conn.log detection on hostile or odd records: no crash (the harness re-raises), no evidence
from records that are not traffic between two addresses."""

from __future__ import annotations

import pytest

from flowalerts.catalog import load_components
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import ThreatFeeds
from tests.harness import T0, Harness, config, conn, ssl

CONN_DETECTIONS = sorted(
    (cls for cls in load_components()[0].values() if cls.__module__.split(".")[-2] == "conn"),
    key=lambda cls: cls.id,
)


@pytest.mark.parametrize(
    "fields",
    [
        dict(proto="", appproto="", dport=0, sport=0),
        dict(proto="TCP\x1b[31m", appproto="ssl,\u202ehttp" * 1000, state="WEIRD", smac="zz:\n:zz"),
        dict(daddr="", saddr="192.168.1.10"),
        dict(daddr="not-an-ip", dport=443, appproto="x", state="SF"),
        dict(saddr="bogus", daddr="8.8.8.8", dport=0, dur=5000.0, sbytes=10**9, state="REJ", smac="aa:aa"),
        dict(dur=1e9, sbytes=10**15, dbytes=-5, dport=65535, proto="udp"),  # (the reader refuses inf)
        dict(saddr="fe80::1%eth0", daddr="ff02::1", smac="AA"),
        dict(saddr="::ffff:10.0.2.15", daddr="::FFFF:8.8.8.8", dport=443, history="", state=""),
    ],
)
@pytest.mark.parametrize("detection", CONN_DETECTIONS, ids=lambda cls: cls.id)
def test_hostile_fields_never_crash(detection, fields):
    knowledge = Knowledge.empty()
    knowledge.feeds = ThreatFeeds(tor_exits=frozenset({"8.8.8.8"}))
    harness = Harness(detection, knowledge=knowledge,
                      cfg=config(parameters={"client_ips": ["not a cidr", "10.0.0.0/8"]}))
    harness.feed(conn(uid="Cx", **fields), conn(uid="Cy", starttime=T0 + 1, **fields),
                 ssl(uid="Sx", saddr=fields.get("saddr", "192.168.1.10"), daddr=fields.get("daddr", "1.1.1.1")))
    for evidence in harness.evidence():
        assert evidence.attacker.value and evidence.uids


def test_every_conn_detection_is_covered():
    assert {cls.id for cls in CONN_DETECTIONS} >= {
        "connection_without_dns", "data_upload", "device_changing_ip", "different_localnet", "multiple_ports",
        "non_ssl_443", "port_zero", "private_ip", "tor_exit_node", "unknown_port"}


@pytest.mark.parametrize("detection", CONN_DETECTIONS, ids=lambda cls: cls.id)
def test_a_source_that_is_not_an_ip_never_crashes_a_report(detection):
    # Other hosts (Slips, a Redis publisher) may not validate addresses like our reader does.
    records = [conn(uid=f"B{i}", saddr="bogus", daddr="93.184.216.34", sport=0 if i == 0 else 40000 + i,
                    dport=9000 + i, sbytes=200_000_000, starttime=T0 + i, smac="aa:bb:cc:dd:ee:ff")
               for i in range(6)]
    assert Harness(detection).feed(*records).evidence() == []
