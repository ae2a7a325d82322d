"""CN_URL_MISMATCH (spec 2.27 INTENT, 4.22; spec 5 item 19): RFC 6125 matching."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_domain, src_ip
from flowalerts.modules.flow_alerts.detectors.tls.names import parse_dn, registrable_domain, wildcard_match
from tests.harness import CLIENT, SERVER, T0, ssl, x509
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline, knowledge_with_orgs


@pytest.mark.parametrize(
    ("subject", "server_name", "fires"),
    [
        ("CN=example.com", "example.com", False),               # equal
        ("CN=Example.COM", "example.com.", False),              # case and trailing dot
        ("CN=example.com", "sub.example.com", False),           # same registrable domain
        ("CN=*.example.net", "www.example.net", False),         # wildcard
        ("CN=example.com", "another.com", True),
        ("CN=google.com", "google.com.attacker.net", True),     # reference's prefix match defect
        ("CN=*.a.b.example.org", "x.y.a.b.other.org", True),
        ("CN=www.gstatic.com", "www.youtube.com", False),       # same supported org
        ("CN=example.co.uk", "evil.co.uk", True),               # public suffix is not a domain
        ("", "example.com", False),
        ("CN=example.com", "", False),
        ("O=Example LLC,OU=IT", "example.com", False),          # no CN
        ("CN=Plex Media Server", "plex.example.com", False),    # CN is not a DNS name
        ("OU=IT,CN=sub.example.com,CN=other.org", "x.example.com", False),  # first CN wins
    ],
)
def test_cn_url_table(subject, server_name, fires):
    pipe = OwnPipeline(knowledge=knowledge_with_orgs())
    pipe.feed(ssl(subject=subject, server_name=server_name))
    pipe.finish()
    found = pipe.of_type("CN_URL_MISMATCH")
    assert len(found) == (2 if fires else 0)
    if fires:
        client, name = found
        assert client.attacker == src_ip(CLIENT) and client.victim == dst_domain(server_name.lower())
        assert (client.threat_level, client.profile) == (ThreatLevel.LOW, CLIENT)
        assert name.attacker == dst_domain(server_name.lower()) and name.victim == src_ip(CLIENT)
        assert (name.threat_level, name.profile) == (ThreatLevel.MEDIUM, SERVER)
        for ev in found:
            assert (ev.confidence, ev.timewindow, ev.uids, ev.dst_port) == (0.8, 1, ["Cssl1"], 443)
        assert client.rel_id == [name.id] and name.rel_id == [client.id]


def test_san_from_x509_prevents_mismatch():
    pipe = OwnPipeline()
    assert pipe.feed(ssl(subject="CN=www.bing.com", server_name="ieonline.microsoft.com",
                         cert_chain_fuids=["Fleaf"])) == []
    pipe.feed(x509(uid="Fleaf", starttime=T0 + 0.01, san_dns=["www.bing.com", "ieonline.microsoft.com"]))
    pipe.finish()
    assert pipe.of_type("CN_URL_MISMATCH") == []


def test_x509_without_matching_san_settles_immediately():
    pipe = OwnPipeline()
    pipe.feed(ssl(subject="CN=www.bing.com", server_name="evil.example", cert_chain_fuids=["Fleaf"]))
    new = pipe.feed(x509(uid="Fleaf", starttime=T0 + 0.01, san_dns=["*.bing.com"]))
    assert pipe.types(new) == ["CN_URL_MISMATCH", "CN_URL_MISMATCH"]
    assert "1 SAN" in new[0].description


def test_pending_settles_on_flow_time_without_x509():
    pipe = OwnPipeline()
    pipe.feed(ssl(subject="CN=a.example", server_name="b.example", cert_chain_fuids=["Fleaf"]))
    assert pipe.advance_to(T0 + 59) == []
    assert pipe.types(pipe.advance_to(T0 + 61)) == ["CN_URL_MISMATCH", "CN_URL_MISMATCH"]


def test_dedup_per_window_sni_cn():
    pipe = OwnPipeline()
    pipe.feed(ssl(subject="CN=a.example", server_name="b.example"),
              ssl(uid="C2", subject="CN=a.example", server_name="b.example"))
    pipe.finish()
    assert len(pipe.of_type("CN_URL_MISMATCH")) == 2


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "example.com", False),
        ("*.com", "example.com", False),
        ("a*.example.com", "ab.example.com", False),
        ("*.example.com", "1.example.com", True),
        ("example.com", "EXAMPLE.com", True),
        ("", "example.com", False),
    ],
)
def test_wildcard_rules(pattern, host, ok):
    assert wildcard_match(pattern, host) is ok


def test_helpers():
    assert parse_dn("CN=a\\,b, O=X") == {"CN": ["a,b"], "O": ["X"]}
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("1.2.3.4") == "" and registrable_domain("co.uk") == ""
