"""MALICIOUS_JA3/JA3S/JA4/JA4S (spec 2.9, 2.10, 4.8) with a fixture feed."""

from __future__ import annotations

import dataclasses

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import FeedEntry, ThreatFeeds
from tests.harness import CLIENT, SERVER, ssl
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline

BAD_JA3 = "e7d705a3286e19ea42f587b344ee6865"
BAD_JA3S = "623de93db17d313345d7ea481e7443cf"
BAD_JA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
BAD_JA4S = "t130200_1301_234ea6891581"
GOOD = "00000000000000000000000000000000"


def knowledge(level=ThreatLevel.HIGH, tags=("malicious",)) -> Knowledge:
    entry = FeedEntry(description="Tofsee", threat_level=level, tags=tags, source="ja3_fingerprints.csv")
    medium = FeedEntry(description="Dridex", threat_level=ThreatLevel.MEDIUM, tags=(), source="x")
    feeds = ThreatFeeds(ja3={BAD_JA3: entry, BAD_JA3S: entry, BAD_JA4: medium, BAD_JA4S: medium})
    return dataclasses.replace(Knowledge.empty(), feeds=feeds)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, []),
        ({"ja3": GOOD, "ja3s": GOOD}, []),
        ({"ja3": BAD_JA3}, ["MALICIOUS_JA3"]),
        ({"ja3s": BAD_JA3S}, ["MALICIOUS_JA3S", "MALICIOUS_JA3S"]),
        ({"ja3": BAD_JA3, "ja3s": BAD_JA3S}, ["MALICIOUS_JA3", "MALICIOUS_JA3S", "MALICIOUS_JA3S"]),
        ({"ja3": BAD_JA3.upper()}, ["MALICIOUS_JA3"]),
        ({"ja4": BAD_JA4}, ["MALICIOUS_JA4"]),
        ({"ja4s": BAD_JA4S}, ["MALICIOUS_JA4S", "MALICIOUS_JA4S"]),
    ],
)
def test_fingerprint_table(fields, expected):
    pipe = OwnPipeline(knowledge=knowledge())
    assert pipe.types(pipe.feed(ssl(**fields))) == expected


def test_ja3_client_evidence_shape():
    pipe = OwnPipeline(knowledge=knowledge())
    [ev] = pipe.feed(ssl(ja3=BAD_JA3))
    assert ev.threat_level is ThreatLevel.HIGH and ev.confidence == 1.0
    assert ev.attacker == src_ip(CLIENT) and ev.victim == dst_ip(SERVER)
    assert (ev.profile, ev.timewindow, ev.uids, ev.src_port, ev.dst_port) == (CLIENT, 1, ["Cssl1"], 50001, 443)
    assert BAD_JA3 in ev.description and "Tofsee" in ev.description and "malicious" in ev.description


def test_ja4_uses_feed_level_and_omits_empty_tags():
    pipe = OwnPipeline(knowledge=knowledge())
    [ev] = pipe.feed(ssl(ja4=BAD_JA4))
    assert ev.threat_level is ThreatLevel.MEDIUM
    assert "Tags" not in ev.description and "Dridex" in ev.description


def test_ja3s_paired_server_and_client():
    pipe = OwnPipeline(knowledge=knowledge())
    server, client = pipe.feed(ssl(ja3s=BAD_JA3S))
    assert server.attacker == dst_ip(SERVER) and server.victim is None
    assert (server.profile, server.threat_level) == (SERVER, ThreatLevel.HIGH)
    assert client.attacker == src_ip(CLIENT) and client.victim is None
    assert (client.profile, client.threat_level) == (CLIENT, ThreatLevel.LOW)
    assert server.rel_id == [client.id] and client.rel_id == [server.id]
    assert server.uids == client.uids == ["Cssl1"]


def test_deduplicated_per_window_and_server():
    pipe = OwnPipeline(knowledge=knowledge())
    pipe.feed(ssl(ja3=BAD_JA3), ssl(ja3=BAD_JA3, uid="C2"), ssl(ja3=BAD_JA3, uid="C3", daddr="1.2.3.4"))
    assert [e.victim.value for e in pipe.of_type("MALICIOUS_JA3")] == [SERVER, "1.2.3.4"]


def test_empty_feed_is_silent():
    pipe = OwnPipeline()
    assert pipe.feed(ssl(ja3=BAD_JA3, ja3s=BAD_JA3S)) == []
