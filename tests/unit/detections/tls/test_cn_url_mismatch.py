"""CN_URL_MISMATCH (seed; spec 2.27 INTENT, 4.22; spec 5 item 19): RFC 6125 matching,
SANs from x509.log, one pair per (client, window, SNI, server)."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from flowalerts.detections.tls.cn_url_mismatch import CnUrlMismatch, CnUrlMismatchDetails
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from flowalerts.traffic.tls_names import parse_dn, registrable_domain, wildcard_match
from tests.harness import CLIENT, SERVER, T0, Harness, in_zeek_order, ssl, summary, x509


def knowledge() -> Knowledge:
    orgs = Organizations(domains={"google": ["google.com", "gstatic.com", "youtube.com"]})
    return dataclasses.replace(Knowledge.empty(), orgs=orgs)


def with_x509(subject, server_name, uid="Cssl1", fuid="Fleaf", san_dns=(), start=T0, **kw):
    """An ssl record and its certificate's x509 record (no SANs unless given)."""
    return [ssl(uid=uid, starttime=start, subject=subject, server_name=server_name, cert_chain_fuids=[fuid], **kw),
            x509(uid=fuid, starttime=start + 0.01, subject=subject, san_dns=list(san_dns))]


def run(*records, in_order=True):
    records = in_zeek_order(records) if in_order else list(records)
    return Harness(CnUrlMismatch, knowledge=knowledge()).feed(*records).evidence()


def pair(sni, cn, count=1, san_count=0, server=SERVER, low=("low", 0.8), medium=("medium", 0.8), cn_only=False):
    d = msgspec.to_builtins(CnUrlMismatchDetails(server_name=sni, server=server, cns=[cn], san_count=san_count,
                                                 cn_only=cn_only))
    return [
        ("CN_URL_MISMATCH", CLIENT, 1, CLIENT, sni, *low, count, d),
        ("CN_URL_MISMATCH", server, 1, sni, CLIENT, *medium, count, d),
    ]


@pytest.mark.parametrize(
    ("subject", "server_name", "fires"),
    [
        ("CN=example.com", "example.com", False),  # equal
        ("CN=Example.COM", "example.com.", False),  # case and trailing dot
        ("CN=example.com", "sub.example.com", False),  # same registrable domain
        ("CN=*.example.net", "www.example.net", False),  # wildcard
        ("CN=example.com", "another.com", True),
        ("CN=google.com", "google.com.attacker.net", True),  # the reference's prefix match
        ("CN=*.a.b.example.org", "x.y.a.b.other.org", True),
        ("CN=www.gstatic.com", "www.youtube.com", False),  # the same supported organisation
        ("CN=example.co.uk", "evil.co.uk", True),  # a public suffix is not a shared domain
        ("", "example.com", False),
        ("CN=example.com", "", False),
        ("CN=example.com", "10.0.0.1", False),  # an IP as SNI
        ("O=Example LLC,OU=IT", "example.com", False),  # no CN
        ("CN=Plex Media Server", "plex.example.com", False),  # the CN is not a DNS name
        ("OU=IT,CN=sub.example.com,CN=other.org", "x.example.com", False),  # the first CN counts
    ],
)
def test_names_table(subject, server_name, fires):
    found = run(*with_x509(subject, server_name))
    sni = server_name.lower().rstrip(".")
    assert [summary(e) for e in found] == (pair(sni, parse_dn(subject)["CN"][0].lower()) if fires else [])
    if fires:
        client, name = found
        assert (client.attacker.ioc_type.value, client.victim.ioc_type.value) == ("IP", "DOMAIN")
        assert client.rel_id == [name.id] and name.rel_id == [client.id]
        assert client.uids == name.uids == ["Cssl1"] and client.dst_port == 443


def test_without_the_x509_record_the_cn_alone_is_judged_with_lower_confidence():
    # The SANs are unknown (no x509.log, or inside Slips): the seed's rule on the CN alone, said so.
    found = run(ssl(subject="CN=example.com", server_name="another.com"))
    assert [summary(e) for e in found] == pair("another.com", "example.com", low=("low", 0.4),
                                               medium=("medium", 0.4), cn_only=True)
    assert all("judged from the CN alone" in e.description for e in found)
    # Related names are still not a mismatch: the same registrable domain, or the same organisation.
    assert run(ssl(subject="CN=www.example.com", server_name="cdn.example.com")) == []
    assert run(ssl(subject="CN=*.google.com", server_name="www.youtube.com")) == []


def test_slips_test9_netflix_sni_on_a_microsoft_certificate_from_ssl_log_alone():
    """test9 (Slips's folder): 123.33.22.11 answered SNI www.netflix.com with
    CN=www.microsoft.com; without its x509 record the CN alone shows it."""
    record = ssl(uid="CCaRFW2mHr5QjSxnQk", saddr=CLIENT, sport=49243, daddr="123.33.22.11", dport=443,
                 version="TLSv10", server_name="www.netflix.com", established=True,
                 cert_chain_fuids=["FAqZiovJiKx2hjVog", "FjIi3A4UVoAkvFLRd6"],
                 subject="CN=www.microsoft.com,OU=MSCOM,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US",
                 issuer="CN=Symantec Class 3 Secure Server CA - G4,OU=Symantec Trust Network,"
                        "O=Symantec Corporation,C=US")
    assert [summary(e) for e in run(record)] == pair("www.netflix.com", "www.microsoft.com", server="123.33.22.11",
                                                      low=("low", 0.4), medium=("medium", 0.4), cn_only=True)


def test_a_san_from_x509_covers_the_sni():
    records = [ssl(subject="CN=www.bing.com", server_name="ieonline.microsoft.com", cert_chain_fuids=["Fleaf"]),
               x509(uid="Fleaf", starttime=T0 + 0.01, san_dns=["www.bing.com", "ieonline.microsoft.com"])]
    assert run(*records) == []


def test_sans_that_do_not_cover_are_counted():
    records = [ssl(subject="CN=www.bing.com", server_name="evil.example", cert_chain_fuids=["Fleaf"]),
               x509(uid="Fleaf", starttime=T0 + 0.01, san_dns=["*.bing.com", "bing.com"])]
    assert [summary(e) for e in run(*records)] == pair("evil.example", "www.bing.com", san_count=2)


def test_a_candidate_waits_for_its_x509_record_then_settles_on_flow_time():
    harness = Harness(CnUrlMismatch, knowledge=knowledge())
    harness.feed(ssl(subject="CN=a.example", server_name="b.example", cert_chain_fuids=["Fleaf"]))
    assert harness.so_far() == []
    harness.advance(T0 + 59 + 3600)  # the watermark (newest time - lateness) is still before ts + 60
    assert harness.so_far() == []
    harness.advance(T0 + 61 + 3600)  # no x509 record came: the SANs are unknown, the CN alone is judged
    assert [summary(e) for e in harness.so_far()] == pair("b.example", "a.example", low=("low", 0.4),
                                                          medium=("medium", 0.4), cn_only=True)


def test_the_x509_record_settles_at_once():
    harness = Harness(CnUrlMismatch, knowledge=knowledge())
    harness.feed(ssl(subject="CN=a.example", server_name="b.example", cert_chain_fuids=["Fleaf"]),
                 x509(uid="Fleaf", starttime=T0 + 0.01, san_dns=["a.example"]))
    assert [summary(e) for e in harness.so_far()] == pair("b.example", "a.example", san_count=1)


def test_one_pair_per_sni_and_server_growing_in_confidence():
    records = [r for i in range(4) for r in with_x509("CN=a.example", "b.example", uid=f"C{i}", fuid=f"F{i}", start=T0 + i)]
    records += with_x509("CN=c.example", "b.example", uid="C9", fuid="F9", start=T0 + 9)
    records += with_x509("CN=a.example", "b.example", uid="Cx", fuid="Fx", start=T0 + 5, daddr="1.2.3.4")
    found = run(*records)
    d = msgspec.to_builtins(CnUrlMismatchDetails(server_name="b.example", server=SERVER,
                                                 cns=["a.example", "c.example"], san_count=0))
    assert [summary(e) for e in found][:2] == [
        ("CN_URL_MISMATCH", CLIENT, 1, CLIENT, "b.example", "low", 1.0, 5, d),
        ("CN_URL_MISMATCH", SERVER, 1, "b.example", CLIENT, "medium", 1.0, 5, d),
    ]
    assert found[0].uids == ["C0", "C1", "C2", "C3", "C9"]
    assert [summary(e) for e in found][2:] == pair("b.example", "a.example", server="1.2.3.4")


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


def test_name_helpers():
    assert parse_dn("CN=a\\,b, O=X") == {"CN": ["a,b"], "O": ["X"]}
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("1.2.3.4") == "" and registrable_domain("co.uk") == ""
