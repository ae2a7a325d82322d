"""PASTEBIN_DOWNLOAD over TLS (spec 2.20 INTENT, 4.16): dbytes of the joined conn record."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, src_ip
from tests.harness import CLIENT, T0, config, conn, ssl
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


@pytest.mark.parametrize(
    ("server_name", "dbytes", "fires"),
    [
        ("pastebin.com", 700, True),        # threshold inclusive
        ("www.PasteBin.com", 15000, True),
        ("pastebin.com", 699, False),
        ("www.example.com", 15000, False),
        ("", 15000, False),
    ],
)
def test_pastebin_tls_table(server_name, dbytes, fires):
    pipe = OwnPipeline()
    pipe.facts.record_conn(conn(uid="Cssl1", dport=443, dbytes=dbytes))
    new = pipe.feed(ssl(server_name=server_name))
    found = pipe.of_type("PASTEBIN_DOWNLOAD", new + pipe.finish())
    assert len(found) == (1 if fires else 0)
    if fires:
        [ev] = found
        assert ev.attacker == src_ip(CLIENT) and ev.victim is None
        assert (ev.threat_level, ev.confidence) == (ThreatLevel.INFO, 1.0)
        assert (ev.profile, ev.timewindow, ev.uids, ev.dst_port) == (CLIENT, 1, ["Cssl1"], 443)
        assert f"{dbytes / 1e6:g} MB" in ev.description


def test_conn_arriving_later_settles_on_watermark():
    pipe = OwnPipeline(cfg=config(flow_alerts={"pastebin_download_threshold": 12000}))
    assert pipe.feed(ssl(server_name="pastebin.com")) == []
    assert pipe.advance_to(T0 + 100) == []
    pipe.facts.record_conn(conn(uid="Cssl1", dport=443, dbytes=1_048_576))
    [ev] = pipe.advance_to(T0 + 101)
    assert "1.04858 MB" in ev.description


def test_missing_conn_gives_up_after_wait_and_at_finish():
    pipe = OwnPipeline()
    pipe.feed(ssl(server_name="pastebin.com"))
    assert pipe.advance_to(T0 + 301) == []
    pipe.facts.record_conn(conn(uid="Cssl1", dport=443, dbytes=100_000))
    assert pipe.finish() == []


def test_once_per_uid():
    pipe = OwnPipeline()
    pipe.facts.record_conn(conn(uid="Cssl1", dport=443, dbytes=5000))
    pipe.feed(ssl(server_name="pastebin.com"), ssl(server_name="pastebin.com", starttime=T0 + 1))
    pipe.finish()
    assert len(pipe.of_type("PASTEBIN_DOWNLOAD")) == 1
