"""DNS_OVER_HTTPS (spec 2.39, 4.31) under its own type, and the learner's DoH marking."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, ssl
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


@pytest.mark.parametrize(
    ("is_doh", "server_name", "fires"),
    [
        (True, "example.com", True),
        (False, "dns.google", True),
        (False, "Cloudflare-DNS.com", True),
        (False, "mozilla.cloudflare-dns.com", True),
        (False, "example.com", False),
        (False, "notdns.google.evil", False),
    ],
)
def test_doh_table(is_doh, server_name, fires):
    pipe = OwnPipeline()
    new = pipe.feed(ssl(is_DoH=is_doh, server_name=server_name))
    assert pipe.facts.is_doh_server(SERVER) is fires
    found = pipe.of_type("DNS_OVER_HTTPS", new)
    assert len(found) == (1 if fires else 0)
    if fires:
        [ev] = found
        assert ev.attacker == dst_ip(SERVER) and ev.victim == src_ip(CLIENT)
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
            ThreatLevel.INFO, 0.9, CLIENT, 1, ["Cssl1"])


def test_doh_once_per_server_and_window():
    pipe = OwnPipeline()
    pipe.feed(ssl(is_DoH=True), ssl(is_DoH=True, uid="C2"), ssl(is_DoH=True, uid="C3", daddr="1.1.1.1"))
    assert [e.attacker.value for e in pipe.of_type("DNS_OVER_HTTPS")] == [SERVER, "1.1.1.1"]


def test_learner_records_sni():
    pipe = OwnPipeline()
    pipe.feed(ssl(server_name="www.example.org"))
    assert pipe.facts.sni_of(SERVER) == "www.example.org"
