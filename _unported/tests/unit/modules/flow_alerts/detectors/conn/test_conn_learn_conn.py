"""ConnLearner: facts from conn.log."""

from __future__ import annotations

import ipaddress

import pytest

from tests.harness import T0, Pipeline, config, conn


def test_records_uid_contact_and_mac():
    pipe = Pipeline()
    pipe.feed(conn(uid="Cu1", dport=443, appproto="ssl", smac="AA:BB:CC:00:00:01", sbytes=7, dbytes=9))
    assert pipe.errors() == {}
    summary = pipe.facts.conn_of_uid("Cu1")
    assert (summary.saddr, summary.daddr, summary.sbytes, summary.dbytes) == ("192.168.1.10", "93.184.216.34", 7, 9)
    assert pipe.facts.last_contact("192.168.1.10", "93.184.216.34") == T0
    assert pipe.facts.ips_of_mac("aa:bb:cc:00:00:01") == ["192.168.1.10"]


@pytest.mark.parametrize(
    ("dport", "appproto", "kept"),
    [(22, "", True), (2222, "ssh", True), (8443, "ssl", True), (443, "", True), (80, "http", False), (53, "dns", False)],
)
def test_only_ssh_and_tls_conns_are_kept_for_uid_joins(dport, appproto, kept):
    # Only ssh.log and ssl.log detections join to conn records: keeping the
    # others would cost memory for nothing.
    pipe = Pipeline()
    pipe.feed(conn(uid="Cj", dport=dport, appproto=appproto))
    assert (pipe.facts.conn_of_uid("Cj") is not None) is kept


@pytest.mark.parametrize(
    ("client_ips", "sources", "expected"),
    [
        ([], ["8.8.8.8", "10.1.2.3", "192.168.5.5"], "10.1.2.0/24"),  # first private source
        ([], ["0.0.0.0", "192.168.5.5"], "192.168.5.0/24"),  # 0.0.0.0 never teaches the network
        (["172.16.0.0/12"], ["192.168.5.5"], "172.16.0.0/12"),  # client_ips CIDR wins
        ([], ["8.8.8.8"], None),
    ],
)
def test_local_network(client_ips, sources, expected):
    pipe = Pipeline(cfg=config(parameters={"client_ips": client_ips}))
    for i, src in enumerate(sources):
        pipe.feed(conn(uid=f"C{i}", saddr=src, starttime=T0 + i))
    assert pipe.facts.local_network == (ipaddress.ip_network(expected) if expected else None)


def test_learners_run_before_detectors():
    from flowalerts.modules.flow_alerts.detectors.conn.learn_conn import ConnLearner
    from flowalerts.modules.flow_alerts.detectors.dhcp.learn_dhcp import DhcpLearner

    assert ConnLearner.priority == DhcpLearner.priority == 10


@pytest.mark.parametrize(
    "fields",
    [
        dict(proto="", appproto="", dport=0, sport=0),
        dict(proto="TCP\x1b[31m", appproto="ssl,\u202ehttp" * 1000, state="WEIRD", smac="zz:\n:zz"),
        dict(daddr="", saddr="192.168.1.10"),
        dict(daddr="not-an-ip", dport=443, appproto="x", state="SF"),
        dict(saddr="bogus", daddr="8.8.8.8", dport=0, dur=5000.0, sbytes=10**9, state="REJ", smac="aa:aa"),
        dict(dur=float("inf"), sbytes=10**15, dbytes=-5, dport=65535, proto="udp"),
        dict(saddr="fe80::1%eth0", daddr="ff02::1", smac="AA"),
    ],
)
def test_hostile_fields_never_crash_a_detector(fields):
    pipe = Pipeline(cfg=config(parameters={"client_ips": ["not a cidr", "10.0.0.0/8"]}))
    pipe.feed(conn(uid="Cx", **fields), conn(uid="Cy", starttime=T0 + 1, **fields))
    pipe.finish()
    assert pipe.errors() == {}
