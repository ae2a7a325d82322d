"""MALICIOUS_SSL_CERT (spec 2.19 INTENT, 4.15): the server is the attacker."""

from __future__ import annotations

import dataclasses

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import FeedEntry, ThreatFeeds
from tests.harness import CLIENT, SERVER, T0, files, ssl, x509
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline

BAD = "8800350f53cb7bfc883962e965461d94ab5d2616"
OTHER = "1111111111111111111111111111111111111111"


def knowledge(level=ThreatLevel.HIGH) -> Knowledge:
    entry = FeedEntry(description="Dridex C&C", threat_level=level, tags=("malicious",), source="sslbl")
    return dataclasses.replace(Knowledge.empty(), feeds=ThreatFeeds(ssl_sha1={BAD: entry}))


@pytest.mark.parametrize(
    ("record", "fires"),
    [
        (files(sha1=BAD), True),
        (files(sha1=BAD.upper()), True),
        (files(sha1=OTHER), False),
        (files(sha1=BAD, source="HTTP"), False),  # a downloaded file, not a certificate
        (files(sha1=""), False),
        (ssl(cert_chain_fps=[BAD]), True),
        (ssl(cert_chain_fps=[OTHER]), False),
    ],
)
def test_sources_table(record, fires):
    pipe = OwnPipeline(knowledge=knowledge())
    found = pipe.of_type("MALICIOUS_SSL_CERT", pipe.feed(record))
    assert len(found) == (2 if fires else 0)
    if fires:
        server, client = found
        assert server.attacker == dst_ip(SERVER) and server.profile == SERVER
        assert server.threat_level is ThreatLevel.HIGH and server.confidence == 1.0
        assert client.attacker == src_ip(CLIENT) and client.profile == CLIENT
        assert client.threat_level is ThreatLevel.LOW and client.confidence == 1.0
        assert server.rel_id == [client.id] and client.rel_id == [server.id]
        assert server.timewindow == client.timewindow == 1
        assert BAD in server.description and "Dridex C&C" in server.description


def test_x509_fingerprint_joined_to_its_ssl_connection():
    pipe = OwnPipeline(knowledge=knowledge(ThreatLevel.MEDIUM))
    pipe.feed(ssl(cert_chain_fuids=["Fcert1", "Fca"]))
    server, client = pipe.feed(x509(uid="Fcert1", fingerprint=BAD, starttime=T0 + 0.01))
    assert (server.attacker, server.profile, server.threat_level) == (dst_ip(SERVER), SERVER, ThreatLevel.MEDIUM)
    assert (client.attacker, client.profile) == (src_ip(CLIENT), CLIENT)
    assert server.uids == ["Cssl1", "Fcert1"]


def test_x509_without_join_is_silent():
    pipe = OwnPipeline(knowledge=knowledge())
    assert pipe.feed(x509(uid="Funknown", fingerprint=BAD)) == []


def test_once_per_server_sha1_window():
    pipe = OwnPipeline(knowledge=knowledge())
    pipe.feed(ssl(cert_chain_fuids=["Fcert1"], cert_chain_fps=[BAD]),
              files(uid="Fcert1", sha1=BAD, starttime=T0 + 0.01),
              x509(uid="Fcert1", fingerprint=BAD, starttime=T0 + 0.02))
    assert len(pipe.of_type("MALICIOUS_SSL_CERT")) == 2
    pipe.feed(files(uid="F2", sha1=BAD, saddr="5.6.7.8", tx_hosts=["5.6.7.8"], starttime=T0 + 1))
    assert len(pipe.of_type("MALICIOUS_SSL_CERT")) == 4
