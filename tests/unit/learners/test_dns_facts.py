"""The dns.log learner (``dns_facts``): resolutions, CNAMEs, rDNS, DNS servers, the local network."""

from __future__ import annotations

import pytest

from flowalerts.detections.dns.invalid_resolution import InvalidDnsResolution
from flowalerts.learners.dns import DnsFacts, DnsNames
from flowalerts.learners.localnet import LocalNet
from flowalerts.learners.servers import ServerRoles
from tests.harness import CLIENT, T0, Harness, dns


def learned(*records):
    """The facts after the records (no end of input: facts expire at +inf)."""
    harness = Harness(InvalidDnsResolution, learners=[DnsFacts]).feed(*records)
    harness.so_far()
    return harness


@pytest.mark.parametrize(
    ("query", "qtype", "rcode", "answers", "expected"),
    [
        ("example.com", "A", "NOERROR", ["93.184.216.34"], {"93.184.216.34": ["example.com"]}),
        ("example.com", "AAAA", "NOERROR", ["2606:2800:220:1::1"], {"2606:2800:220:1::1": ["example.com"]}),
        # CNAME chain: the IPs are recorded for the query and every CNAME.
        ("www.example.com", "A", "NOERROR", ["cdn.example.net", "edge.example.org", "1.2.3.4"],
         {"1.2.3.4": ["www.example.com", "cdn.example.net", "edge.example.org"]}),
        # Blocking answers are not resolutions ...
        ("ads.example.com", "A", "NOERROR", ["0.0.0.0"], {"0.0.0.0": []}),
        ("ads.example.com", "A", "NOERROR", ["127.0.0.1"], {"127.0.0.1": []}),
        ("ads.example.com", "AAAA", "NOERROR", ["::"], {"::": []}),
        ("ads.example.com", "AAAA", "NOERROR", ["::1"], {"::1": []}),
        # ... except for localhost.
        ("localhost", "A", "NOERROR", ["127.0.0.1"], {"127.0.0.1": ["localhost"]}),
        # Split-horizon private answers are normal resolutions.
        ("intranet.corp.example", "A", "NOERROR", ["10.1.2.3"], {"10.1.2.3": ["intranet.corp.example"]}),
        ("example.com", "A", "NXDOMAIN", ["1.2.3.4"], {"1.2.3.4": []}),
        ("example.com", "TXT", "NOERROR", ["TXT 5 hello"], {}),
        ("4.3.2.1.in-addr.arpa", "A", "NOERROR", ["1.2.3.4"], {"1.2.3.4": []}),
        ("Example.COM.", "A", "NOERROR", ["1.2.3.4"], {"1.2.3.4": ["example.com"]}),
    ],
)
def test_resolutions(query, qtype, rcode, answers, expected):
    facts = learned(dns(query=query, qtype_name=qtype, rcode_name=rcode, answers=answers)).driver.facts.store(DnsNames)
    assert {ip: facts.domains_of_ip(ip) for ip in expected} == expected
    for ip, domains in expected.items():
        if domains:
            assert facts.names_of_ip(ip).clients == [CLIENT]


def test_cnames_and_ips_of_domain():
    facts = learned(dns(query="www.example.com", answers=["cdn.example.net", "1.2.3.4", "5.6.7.8"])).driver.facts.store(DnsNames)
    assert facts.cnames_of("www.example.com") == ["cdn.example.net"]
    assert facts.ips_of_domain("www.example.com") == {"1.2.3.4", "5.6.7.8"}
    assert facts.ips_of_domain("cdn.example.net") == {"1.2.3.4", "5.6.7.8"}


@pytest.mark.parametrize(
    ("query", "answers", "ip", "name"),
    [
        ("34.216.184.93.in-addr.arpa", ["host.example.com"], "93.184.216.34", "host.example.com"),
        ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", ["v6.example.com."],
         "2001:db8::1", "v6.example.com"),
        ("bogus.in-addr.arpa", ["x.example.com"], "93.184.216.34", None),
    ],
)
def test_ptr_records_give_rdns(query, answers, ip, name):
    assert learned(dns(query=query, qtype_name="PTR", answers=answers)).driver.facts.store(DnsNames).ptr_of(ip) == name


@pytest.mark.parametrize(
    ("daddr", "dport", "answers", "server"),
    [
        ("192.168.1.1", 53, ["1.2.3.4"], True),
        ("10.0.0.53", 53, ["1.2.3.4"], True),
        ("fd00::1", 53, ["1.2.3.4"], True),
        ("fe80::1", 53, ["1.2.3.4"], True),
        ("192.168.1.1", 53, [], False),  # no answer: not (yet) a server
        ("192.168.1.1", 5353, ["1.2.3.4"], False),
        ("8.8.8.8", 53, ["1.2.3.4"], False),  # public resolvers are not "private DNS servers"
    ],
)
def test_dns_server_heuristic_announced_once(daddr, dport, answers, server):
    harness = learned(dns(daddr=daddr, dport=dport, answers=answers),
                      dns(uid="C2", starttime=T0 + 1, daddr=daddr, dport=dport, answers=answers))
    assert harness.driver.facts.store(ServerRoles).is_dns_server(daddr) is server
    assert harness.notes == ([f"Detected DNS server by traffic heuristic: {daddr}"] if server else [])


def test_local_network_learned_from_the_first_private_source():
    assert learned(dns(saddr="8.8.4.4")).driver.facts.store(LocalNet).local_network is None
    facts = learned(dns(saddr="8.8.4.4"), dns(saddr="192.168.5.7", starttime=T0 + 1)).driver.facts.store(LocalNet)
    assert str(facts.local_network) == "192.168.0.0/16"


@pytest.mark.parametrize(
    "answers",
    [["\x1b[31m", "a" * 5000, "..", "TXT", "TXT x", "-", ""], ["1.2.3.4.5", "::::", "256.1.1.1"]],
)
def test_hostile_answers_do_not_crash(answers):
    harness = learned(dns(answers=answers), dns(qtype_name="PTR", query="\x00.in-addr.arpa", answers=answers))
    assert harness.driver.health.errors == {}
