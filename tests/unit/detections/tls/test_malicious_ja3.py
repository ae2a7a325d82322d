"""MALICIOUS_JA3/JA3S/JA4/JA4S (seed; spec 2.9, 2.10, 4.8) with a fixture feed; one
evidence (or pair) per (client, window, fingerprint, server)."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from flowalerts.core.evidence import KINDS, ThreatLevel
from flowalerts.detections.tls.malicious_ja3 import MaliciousFingerprintDetails, MaliciousJa3
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import FeedEntry, ThreatFeeds
from tests.harness import CLIENT, SERVER, T0, Harness, ssl, summary

BAD_JA3 = "e7d705a3286e19ea42f587b344ee6865"
BAD_JA3S = "623de93db17d313345d7ea481e7443cf"
BAD_JA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
BAD_JA4S = "t130200_1301_234ea6891581"
GOOD = "00000000000000000000000000000000"
TOFSEE = FeedEntry(description="Tofsee", threat_level=ThreatLevel.HIGH, tags=("malicious",), source="ja3_fingerprints.csv")
DRIDEX = FeedEntry(description="Dridex", threat_level=ThreatLevel.MEDIUM, tags=(), source="other.csv")


def knowledge() -> Knowledge:
    feeds = ThreatFeeds(ja3={BAD_JA3: TOFSEE, BAD_JA3S: TOFSEE, BAD_JA4: DRIDEX, BAD_JA4S: DRIDEX})
    return dataclasses.replace(Knowledge.empty(), feeds=feeds)


def run(*records, feeds=True):
    return Harness(MaliciousJa3, knowledge=knowledge() if feeds else None).feed(*records).evidence()


def details(method, fingerprint, entry):
    return msgspec.to_builtins(MaliciousFingerprintDetails(
        fingerprint=fingerprint, method=method, server=SERVER, feed_description=entry.description,
        feed_source=entry.source, feed_tags=list(entry.tags)))


def client_row(kind, method, fingerprint, entry, level, confidence=1.0, count=1):
    return (kind, CLIENT, 1, CLIENT, SERVER, level, confidence, count, details(method, fingerprint, entry))


def server_rows(kind, method, fingerprint, entry, level, count=1, client_level="low"):
    d = details(method, fingerprint, entry)
    return [(kind, SERVER, 1, SERVER, None, level, 1.0, count, d), (kind, CLIENT, 1, CLIENT, None, client_level, 1.0, count, d)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, []),
        ({"ja3": GOOD, "ja3s": GOOD}, []),
        ({"ja3": BAD_JA3}, [client_row("MALICIOUS_JA3", "JA3", BAD_JA3, TOFSEE, "high")]),
        ({"ja3": BAD_JA3.upper()}, [client_row("MALICIOUS_JA3", "JA3", BAD_JA3, TOFSEE, "high")]),
        ({"ja3s": BAD_JA3S}, server_rows("MALICIOUS_JA3S", "JA3S", BAD_JA3S, TOFSEE, "high")),
        ({"ja4": BAD_JA4}, [client_row("MALICIOUS_JA4", "JA4", BAD_JA4, DRIDEX, "medium")]),
        ({"ja4s": BAD_JA4S}, server_rows("MALICIOUS_JA4S", "JA4S", BAD_JA4S, DRIDEX, "medium")),
        ({"ja3": BAD_JA3, "ja3s": BAD_JA3S}, [client_row("MALICIOUS_JA3", "JA3", BAD_JA3, TOFSEE, "high"),
                                              *server_rows("MALICIOUS_JA3S", "JA3S", BAD_JA3S, TOFSEE, "high")]),
    ],
)
def test_fingerprint_table(fields, expected):
    assert [summary(e) for e in run(ssl(**fields))] == expected


def test_shapes_links_and_texts():
    client = run(ssl(ja3=BAD_JA3))[0]
    assert (client.attacker.direction.value, client.victim.direction.value) == ("SRC", "DST")
    assert (client.uids, client.src_port, client.dst_port) == (["Cssl1"], None, 443)
    assert "Tofsee" in client.description
    server, other = run(ssl(ja4s=BAD_JA4S))
    assert server.rel_id == [other.id] and other.rel_id == [server.id]
    assert server.victim is None and other.victim is None
    assert "Tags" not in server.description  # the Dridex entry has none


def test_ja4_kinds_reach_slips_as_ja3_kinds():
    assert KINDS["MALICIOUS_JA4"].slips_type == "MALICIOUS_JA3"
    assert KINDS["MALICIOUS_JA4S"].slips_type == "MALICIOUS_JA3S"
    assert KINDS["MALICIOUS_JA3"].slips_type == "MALICIOUS_JA3"


def test_one_evidence_per_fingerprint_and_server_growing_with_the_count():
    records = [ssl(uid=f"C{i}", starttime=T0 + i, ja3=BAD_JA3) for i in range(4)]
    records.append(ssl(uid="Cx", starttime=T0 + 9, ja3=BAD_JA3, daddr="1.2.3.4"))
    found = run(*records)
    assert [(e.victim.value, e.count, e.threat_level.value, e.uids) for e in found] == [
        (SERVER, 4, "critical", ["C0", "C1", "C2", "C3"]),
        ("1.2.3.4", 1, "high", ["Cx"]),
    ]


def test_server_pair_grows_on_both_sides():
    found = run(*[ssl(uid=f"C{i}", starttime=T0 + i, ja3s=BAD_JA3S) for i in range(4)])
    assert [summary(e) for e in found] == server_rows("MALICIOUS_JA3S", "JA3S", BAD_JA3S, TOFSEE, "critical", count=4,
                                                      client_level="medium")


def test_empty_feed_is_silent():
    assert run(ssl(ja3=BAD_JA3, ja3s=BAD_JA3S), feeds=False) == []
