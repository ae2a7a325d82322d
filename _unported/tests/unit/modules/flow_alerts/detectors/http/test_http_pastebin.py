"""PASTEBIN_DOWNLOAD over HTTP (spec 2.20, HTTP path)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, src_ip
from tests.harness import CLIENT, http
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


@pytest.mark.parametrize(
    ("method", "host", "size", "fires"),
    [
        ("GET", "pastebin.com", 700, True),
        ("GET", "PASTEBIN.com", 20000, True),
        ("GET", "pastebin.com", 699, False),
        ("POST", "pastebin.com", 20000, False),
        ("GET", "example.com", 20000, False),
    ],
)
def test_pastebin_http_table(method, host, size, fires):
    pipe = OwnPipeline()
    found = pipe.of_type("PASTEBIN_DOWNLOAD", pipe.feed(http(method=method, host=host, response_body_len=size)))
    assert len(found) == (1 if fires else 0)
    if fires:
        [ev] = found
        assert ev.attacker == src_ip(CLIENT) and ev.victim is None
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
            ThreatLevel.INFO, 1.0, CLIENT, 1, ["Chttp1"])


def test_pastebin_http_once_per_uid():
    pipe = OwnPipeline()
    pipe.feed(http(host="pastebin.com", response_body_len=5000), http(host="pastebin.com", response_body_len=5000),
              http(uid="Chttp2", host="pastebin.com", response_body_len=5000))
    assert [e.uids for e in pipe.of_type("PASTEBIN_DOWNLOAD")] == [["Chttp1"], ["Chttp2"]]
