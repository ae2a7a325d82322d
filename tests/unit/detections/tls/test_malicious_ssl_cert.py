"""MALICIOUS_SSL_CERT (seed; spec 2.19 INTENT, 4.15): the server is the attacker; the
SHA1 from files.log (Zeek < 5, or Zeek 5+ with X509::log_x509_in_files_log) or from
ssl.log SHA1 fingerprints (Zeek 5+); one pair per (client, window, server, SHA1)."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from flowalerts.core.evidence import ThreatLevel
from flowalerts.core.records import FilesRecord
from flowalerts.detections.tls.malicious_ssl_cert import MaliciousSslCert, MaliciousSslCertDetails
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import FeedEntry, ThreatFeeds
from tests.harness import CLIENT, SERVER, T0, Harness, files, from_zeek, in_zeek_order, ssl, summary

BAD = "8800350f53cb7bfc883962e965461d94ab5d2616"
OTHER = "1111111111111111111111111111111111111111"
SHA256 = "a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778"
DRIDEX = FeedEntry(description="Dridex C&C", threat_level=ThreatLevel.HIGH, tags=("malicious",), source="sslblacklist.csv")


def knowledge(entry=DRIDEX) -> Knowledge:
    return dataclasses.replace(Knowledge.empty(), feeds=ThreatFeeds(ssl_sha1={BAD: entry}))


def run(*records, entry=DRIDEX):
    return Harness(MaliciousSslCert, knowledge=knowledge(entry)).feed(*in_zeek_order(records)).evidence()


def pair(sources, level="high", client_level="low", count=1, confidence=1.0, server=SERVER):
    d = msgspec.to_builtins(MaliciousSslCertDetails(sha1=BAD, server=server, sources=list(sources),
                                                    feed_description="Dridex C&C", feed_source="sslblacklist.csv",
                                                    feed_tags=["malicious"]))
    return [("MALICIOUS_SSL_CERT", server, 1, server, None, level, confidence, count, d),
            ("MALICIOUS_SSL_CERT", CLIENT, 1, CLIENT, None, client_level, confidence, count, d)]


@pytest.mark.parametrize(
    ("record", "sources"),
    [
        (files(sha1=BAD), ["files.log"]),
        (files(sha1=BAD.upper()), ["files.log"]),
        (files(sha1=OTHER), None),
        (files(sha1=BAD, source="HTTP"), None),  # a downloaded file, not a certificate
        (files(sha1=""), None),
        (ssl(cert_chain_fps=[BAD]), ["ssl.log"]),  # Zeek 5+ with SHA1 fingerprints
        (ssl(cert_chain_fps=[SHA256, BAD]), ["ssl.log"]),  # a listed certificate anywhere in the chain
        (ssl(cert_chain_fps=[SHA256]), None),  # Zeek's default SHA256 cannot match a SHA1 feed
        (ssl(cert_chain_fps=[OTHER]), None),
    ],
)
def test_sources_table(record, sources):
    found = run(record)
    assert [summary(e) for e in found] == (pair(sources) if sources else [])
    if sources:
        server, client = found
        assert (server.attacker.direction.value, client.attacker.direction.value) == ("DST", "SRC")
        assert server.rel_id == [client.id] and client.rel_id == [server.id]
        assert BAD in server.description and "Dridex C&C" in server.description


def test_zeek_files_log_shapes():
    # Zeek 4 (tx_hosts/rx_hosts) and Zeek 6 with log_x509_in_files_log (id.* with is_orig false).
    old = from_zeek(FilesRecord, {"ts": T0, "fuid": "Fcert1", "tx_hosts": [SERVER], "rx_hosts": [CLIENT],
                                  "conn_uids": ["Cssl1"], "source": "SSL", "depth": 0, "analyzers": ["MD5", "SHA1", "X509"],
                                  "mime_type": "application/x-x509-user-cert", "is_orig": False, "sha1": BAD})
    new = from_zeek(FilesRecord, {"ts": T0, "fuid": "Fcert1", "uid": "Cssl1", "id.orig_h": CLIENT, "id.orig_p": 50001,
                                  "id.resp_h": SERVER, "id.resp_p": 443, "source": "SSL", "depth": 0,
                                  "analyzers": ["SHA1", "X509", "SHA256", "MD5"],
                                  "mime_type": "application/x-x509-user-cert", "is_orig": False, "sha1": BAD})
    assert [summary(e) for e in run(old)] == [summary(e) for e in run(new)] == pair(["files.log"])


def test_feed_level_and_counts_grow_together():
    medium = FeedEntry(description="Dridex C&C", threat_level=ThreatLevel.MEDIUM, tags=("malicious",),
                       source="sslblacklist.csv")
    records = [ssl(uid=f"C{i}", starttime=T0 + i, cert_chain_fps=[BAD]) for i in range(4)]
    assert [summary(e) for e in run(*records, entry=medium)] == pair(["ssl.log"], level="high",
                                                                     client_level="medium", count=4)


def test_a_connection_in_both_logs_counts_once():
    records = [ssl(uid="Cssl1", cert_chain_fps=[BAD]),
               files(uid="Fcert1", sha1=BAD, conn_uids=["Cssl1"], starttime=T0 + 0.01),
               files(uid="Fcert2", sha1=BAD, conn_uids=["Cssl2"], starttime=T0 + 1)]
    found = run(*records)
    assert [summary(e) for e in found] == pair(["files.log", "ssl.log"], count=2, confidence=1.0)
    assert found[0].uids == ["Cssl1", "Cssl2", "Fcert2"]


def test_one_pair_per_server():
    records = [files(uid="F1", sha1=BAD), files(uid="F2", sha1=BAD, saddr="5.6.7.8", starttime=T0 + 1)]
    assert [(e.profile, e.count) for e in run(*records)] == [(SERVER, 1), (CLIENT, 1), ("5.6.7.8", 1), (CLIENT, 1)]
