"""Threat feeds: JA3/JA4 and SSL SHA1 CSVs, Tor exit list."""

from __future__ import annotations

import pytest

from flowalerts.config import Config, ThreatIntelligence
from flowalerts.evidence import ThreatLevel
from flowalerts.knowledge.feeds import (
    FeedEntry,
    ThreatFeeds,
    parse_ja3_feed,
    parse_ssl_feed,
    parse_tor_exits,
)
from tests.conftest import REPO

JA3_TEXT = """\
################################################################
# abuse.ch-style sample                                        #
################################################################
#
# ja3_md5,Firstseen,Lastseen,Listingreason
1AA7BF8B97E540CA5EDD75F7B8384BFA,2019-01-04 10:11:12,2024-05-01 08:00:00,TrickBot
3b5074b1b5d032e5620f69f9f700ff0e,2018-11-20 09:00:00,2024-04-28 21:13:45,Dridex
t13d1516h2_8daaf6152771_e5627efa2ab1,2024-01-01 00:00:00,2024-02-01 00:00:00,Sliver
t130200_1301_234ea6891581,2024-01-01 00:00:00,2024-02-01 00:00:00,Sliver server
not-a-hash,2024-01-01,2024-01-01,Junk
abcdef,2024-01-01,2024-01-01,Too short
1aa7bf8b97e540ca5edd75f7b8384bfaff,2024-01-01,2024-01-01,Too long
"unterminated,quote
# Total number of entries: 4
"""


def test_parse_ja3_feed():
    entries = parse_ja3_feed(JA3_TEXT, "ja3.csv", "medium", ["malicious", "c2"])
    entry = FeedEntry(description="", threat_level=ThreatLevel.MEDIUM, tags=("malicious", "c2"), source="ja3.csv")
    assert entries == {
        "1aa7bf8b97e540ca5edd75f7b8384bfa": _with(entry, "TrickBot"),
        "3b5074b1b5d032e5620f69f9f700ff0e": _with(entry, "Dridex"),
        "t13d1516h2_8daaf6152771_e5627efa2ab1": _with(entry, "Sliver"),
        "t130200_1301_234ea6891581": _with(entry, "Sliver server"),
    }


def _with(entry: FeedEntry, description: str) -> FeedEntry:
    return FeedEntry(description=description, threat_level=entry.threat_level, tags=entry.tags, source=entry.source)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No header: the last column is the description.
        ("3b5074b1b5d032e5620f69f9f700ff0e,a,b,Dridex\n", {"3b5074b1b5d032e5620f69f9f700ff0e": "Dridex"}),
        # Hash not in the first column.
        ("2024-01-01,3b5074b1b5d032e5620f69f9f700ff0e,Emotet\n", {"3b5074b1b5d032e5620f69f9f700ff0e": "Emotet"}),
        # Only the hash: empty description.
        ("3b5074b1b5d032e5620f69f9f700ff0e\n", {"3b5074b1b5d032e5620f69f9f700ff0e": ""}),
        ("", {}),
        ("\x00\x01garbage\n,,,\n", {}),
        ("a" * 10000 + "\n", {}),
    ],
)
def test_parse_ja3_feed_shapes(text, expected):
    assert {k: v.description for k, v in parse_ja3_feed(text).items()} == expected


def test_unknown_threat_level_label_defaults_to_high():
    entries = parse_ja3_feed("3b5074b1b5d032e5620f69f9f700ff0e,x\n", threat_level="bogus")
    assert entries["3b5074b1b5d032e5620f69f9f700ff0e"].threat_level is ThreatLevel.HIGH


SSL_TEXT = """\
# Listingdate,SHA1,Listingreason
2024-04-30 14:02:11,5FCB5B5F6E5FD1D2A0A5E9B0C7C2F3F87B9D4E21,QakBot C&C
2024-04-29 08:45:00,8800350f53cb7bfc883962e965461d94ab5d2616,"AsyncRAT, C&C"
2024-04-29 08:45:00,8800350f53cb7bfc883962e965461d94ab5d26,Short sha1
2024-04-29 08:45:00,3b5074b1b5d032e5620f69f9f700ff0e,An md5
"""


def test_parse_ssl_feed():
    entries = parse_ssl_feed(SSL_TEXT, "ssl.csv", "high", ["malicious"])
    assert entries == {
        "5fcb5b5f6e5fd1d2a0a5e9b0c7c2f3f87b9d4e21": FeedEntry(
            description="QakBot C&C", threat_level=ThreatLevel.HIGH, tags=("malicious",), source="ssl.csv"
        ),
        "8800350f53cb7bfc883962e965461d94ab5d2616": FeedEntry(
            description="AsyncRAT, C&C", threat_level=ThreatLevel.HIGH, tags=("malicious",), source="ssl.csv"
        ),
    }


TOR_TEXT = """\
# exit list
185.220.101.34
171.25.193.77   # trailing comment
  199.249.230.88
10.0.0.1
192.168.1.1
127.0.0.1
224.0.0.1
0.0.0.0
255.255.255.255
169.254.1.1
2001:db8::1
2a0b:f4c2::23
not-an-ip
999.1.1.1

"""


def test_parse_tor_exits_keeps_only_global_unicast():
    assert parse_tor_exits(TOR_TEXT) == frozenset({"185.220.101.34", "171.25.193.77", "199.249.230.88", "2a0b:f4c2::23"})


def test_load_from_config_files(tmp_path):
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "ja3.csv").write_text(JA3_TEXT)
    (feeds / "ssl.csv").write_text(SSL_TEXT)
    (feeds / "tor.txt").write_text(TOR_TEXT)
    config = Config(
        base_dir=str(tmp_path),
        threatintelligence=ThreatIntelligence(
            ja3_feed="feeds/ja3.csv",
            ja3_feed_threat_level="critical",
            ja3_feed_tags=["botnet"],
            ssl_feed=str(feeds / "ssl.csv"),  # absolute path
            ssl_feed_threat_level="LOW",
            tor_exit_nodes="feeds/tor.txt",
        ),
    )
    notes: list[str] = []
    loaded = ThreatFeeds.load(config, notify=notes.append)
    assert notes == []
    assert loaded.ja3["1aa7bf8b97e540ca5edd75f7b8384bfa"] == FeedEntry(
        description="TrickBot", threat_level=ThreatLevel.CRITICAL, tags=("botnet",), source="ja3.csv"
    )
    assert loaded.ja3_entry("1AA7BF8B97E540CA5EDD75F7B8384BFA ") == loaded.ja3["1aa7bf8b97e540ca5edd75f7b8384bfa"]
    assert loaded.ja3_entry("0" * 32) is None
    assert loaded.ssl_entry("5FCB5B5F6E5FD1D2A0A5E9B0C7C2F3F87B9D4E21").description == "QakBot C&C"
    assert loaded.ssl_sha1["5fcb5b5f6e5fd1d2a0a5e9b0c7c2f3f87b9d4e21"].threat_level is ThreatLevel.LOW
    assert loaded.is_tor_exit("185.220.101.34")
    assert loaded.is_tor_exit("2a0b:f4c2:0::23")
    assert not loaded.is_tor_exit("10.0.0.1")


def test_missing_files_give_empty_feeds_and_notes(tmp_path):
    notes: list[str] = []
    loaded = ThreatFeeds.load(Config(base_dir=str(tmp_path)), notify=notes.append)
    assert loaded.ja3 == {} and loaded.ssl_sha1 == {} and loaded.tor_exits == frozenset()
    assert len(notes) == 3
    assert all("not loaded" in note for note in notes)


def test_repo_sample_feeds_load():
    loaded = ThreatFeeds.load(Config(base_dir=str(REPO)), notify=pytest.fail)
    assert loaded.ja3["1aa7bf8b97e540ca5edd75f7b8384bfa"].description == "TrickBot"
    assert loaded.ssl_sha1["8800350f53cb7bfc883962e965461d94ab5d2616"].description == "AsyncRAT C&C"
    assert loaded.tor_exits == frozenset({"171.25.193.77", "185.220.101.34", "199.249.230.88"})


# The online refresh tests moved to tests/reliability/test_feed_refresh.py.
