"""WEIRD_HTTP_METHOD (spec 2.28) from weird.log."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, weird
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


@pytest.mark.parametrize(
    ("name", "addl", "fires"),
    [
        ("unknown_HTTP_method", "BADMETHOD", True),
        ("HTTP_method_mismatch", "PROPFIND", True),
        ("bad_HTTP_request", "X\nY\x1b[31m", True),
        ("unknown_protocol", "BADMETHOD", False),
        ("", "", False),
    ],
)
def test_weird_http_method_table(name, addl, fires):
    pipe = OwnPipeline()
    found = pipe.of_type("WEIRD_HTTP_METHOD", pipe.feed(weird(name=name, addl=addl)))
    assert len(found) == (1 if fires else 0)
    if fires:
        [ev] = found
        assert ev.attacker == src_ip(CLIENT) and ev.victim == dst_ip(SERVER)
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
            ThreatLevel.MEDIUM, 0.9, CLIENT, 1, ["Cweird1"])
        assert addl in ev.description  # raw here; escaped by the sink at output


def test_weird_without_addresses_is_ignored():
    pipe = OwnPipeline()
    assert pipe.feed(weird(name="unknown_HTTP_method", saddr="", daddr="")) == []
    assert pipe.errors() == {}
