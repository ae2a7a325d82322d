"""DNS_OVER_HTTPS (spec 2.39, 4.31) under its own type, not sent to Slips; one
evidence per (profile, window, server)."""

from __future__ import annotations

import msgspec
import pytest

from flowalerts.core.evidence import KINDS
from flowalerts.detections.tls.dns_over_https import DnsOverHttps, DnsOverHttpsDetails
from tests.harness import CLIENT, SERVER, T0, Harness, ssl, summary


def row(server_names, zeek, count=1, server=SERVER):
    d = msgspec.to_builtins(DnsOverHttpsDetails(server=server, server_names=list(server_names), marked_by_zeek=zeek))
    return ("DNS_OVER_HTTPS", CLIENT, 1, server, CLIENT, "info", 0.9, count, d)


@pytest.mark.parametrize(
    ("is_doh", "server_name", "expected"),
    [
        (True, "example.com", [row(["example.com"], True)]),  # marked by zeek-scripts/detect_doh.zeek
        (True, "", [row([], True)]),
        (False, "dns.google", [row(["dns.google"], False)]),
        (False, "Cloudflare-DNS.com", [row(["cloudflare-dns.com"], False)]),
        (False, "mozilla.cloudflare-dns.com.", [row(["mozilla.cloudflare-dns.com"], False)]),
        (False, "example.com", []),
        (False, "notdns.google.evil", []),  # contains a resolver's name, is not one
        (False, "", []),
    ],
)
def test_doh_table(is_doh, server_name, expected):
    found = Harness(DnsOverHttps).feed(ssl(is_DoH=is_doh, server_name=server_name)).evidence()
    assert [summary(e) for e in found] == expected
    for evidence in found:
        assert (evidence.attacker.direction.value, evidence.victim.direction.value) == ("DST", "SRC")
        assert evidence.uids == ["Cssl1"]


def test_not_sent_to_slips():
    assert KINDS["DNS_OVER_HTTPS"].slips_type is None


def test_one_evidence_per_server_and_window():
    records = [ssl(uid=f"C{i}", starttime=T0 + i, server_name="dns.google") for i in range(5)]
    records.append(ssl(uid="C9", starttime=T0 + 9, is_DoH=True, server_name="", daddr="1.1.1.1"))
    found = Harness(DnsOverHttps).feed(*records).evidence()
    assert [summary(e) for e in found] == [row(["dns.google"], False, count=5), row([], True, server="1.1.1.1")]
    assert found[0].uids == ["C0", "C1", "C2", "C3", "C4"]


def test_dns_over_tls_on_port_853_is_not_dns_over_https():
    """CTU-Normal-44 day 2: the Windows host's DNS over TLS to Cloudflare
    (ssl.log: 1.1.1.2:853, SNI cloudflare-dns.com, TLSv12, established)."""
    dot = ssl(starttime=1655965729.763848, uid="CDRur7wLIIF7THsU6", saddr="147.32.83.161", sport=19011,
              daddr="1.1.1.2", dport=853, version="TLSv12", server_name="cloudflare-dns.com", established=True)
    doh = ssl(starttime=1655965730.0, uid="Cdoh", saddr="147.32.83.161", daddr="1.1.1.2", dport=443,
              server_name="cloudflare-dns.com")
    found = Harness(DnsOverHttps).feed(dot, doh).evidence()
    details = msgspec.to_builtins(DnsOverHttpsDetails(server="1.1.1.2", server_names=["cloudflare-dns.com"],
                                                      marked_by_zeek=False))
    assert sorted(summary(e) for e in found) == [
        ("DNS_OVER_HTTPS", "147.32.83.161", 1, "1.1.1.2", "147.32.83.161", "info", 0.9, 1, details),
        ("DNS_OVER_TLS", "147.32.83.161", 1, "1.1.1.2", "147.32.83.161", "info", 0.9, 1, details),
    ]
    assert KINDS["DNS_OVER_TLS"].slips_type is None
