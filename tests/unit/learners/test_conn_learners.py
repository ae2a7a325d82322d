"""Learners of conn.log facts: conn records by uid, contacts, MAC table, local network."""

from __future__ import annotations

import ipaddress

import pytest

from flowalerts.learners.conn import ConnByUid, ConnsByUid, Contacts, ContactSpans, LayerTwo, MacTable
from flowalerts.learners.localnet import LocalNet
from tests.harness import CLIENT, SERVER, T0, Harness, config, conn


def facts_after(*records, client_ips=()):
    harness = Harness(learners=[ConnByUid, Contacts, LayerTwo], cfg=config(parameters={"client_ips": list(client_ips)}))
    harness.feed(*records).so_far()
    return harness.driver.facts


def test_records_uid_contact_and_mac():
    facts = facts_after(conn(uid="Cu1", dport=443, appproto="ssl", smac="AA:BB:CC:00:00:01", sbytes=7, dbytes=9))
    summary = facts.store(ConnsByUid).conn_of_uid("Cu1")
    assert (summary.saddr, summary.daddr, summary.sbytes, summary.dbytes) == (CLIENT, SERVER, 7, 9)
    assert facts.store(ContactSpans).contact_span(CLIENT, SERVER) == (T0, T0 + 1.0)  # (first start, last end)
    assert facts.store(MacTable).ips_of_mac("aa:bb:cc:00:00:01") == [CLIENT]


@pytest.mark.parametrize(
    ("dport", "appproto", "kept"),
    [(22, "", True), (2222, "ssh", True), (8443, "ssl", True), (443, "", True), (80, "http", True),
     (53, "dns", False), (5353, "", False)],
)
def test_only_connections_other_logs_join_to_are_kept_by_uid(dport, appproto, kept):
    assert (facts_after(conn(uid="Cj", dport=dport, appproto=appproto)).store(ConnsByUid).conn_of_uid("Cj") is not None) is kept


@pytest.mark.parametrize(
    ("client_ips", "sources", "expected"),
    [
        ([], ["8.8.8.8", "10.1.2.3", "192.168.5.5"], "10.0.0.0/8"),  # the first private source's RFC 1918 block
        ([], ["0.0.0.0", "192.168.5.5"], "192.168.0.0/16"),  # 0.0.0.0 never teaches the network
        ([], ["172.20.1.1"], "172.16.0.0/12"),
        (["172.16.0.0/12"], ["192.168.5.5"], "172.16.0.0/12"),  # a client_ips CIDR wins
        (["10.8.0.0/16"], ["10.9.5.5"], "10.8.0.0/16"),  # as given
        (["192.168.5.9"], ["10.1.2.3"], "192.168.0.0/16"),  # a configured host: its block
        ([], ["8.8.8.8"], None),
    ],
)
def test_local_network(client_ips, sources, expected):
    facts = facts_after(*[conn(uid=f"C{i}", saddr=src, starttime=T0 + i) for i, src in enumerate(sources)],
                        client_ips=client_ips)
    assert facts.store(LocalNet).local_network == (ipaddress.ip_network(expected) if expected else None)
