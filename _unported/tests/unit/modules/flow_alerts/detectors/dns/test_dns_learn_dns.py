"""The DNS learner: resolutions, CNAMEs, rDNS, local network, DNS servers."""

from __future__ import annotations

import pytest

from tests.harness import CLIENT, T0, Pipeline, dns


@pytest.mark.parametrize(
    ("query", "qtype", "rcode", "answers", "expected"),
    [
        ("example.com", "A", "NOERROR", ["93.184.216.34"], {"93.184.216.34": ["example.com"]}),
        ("example.com", "AAAA", "NOERROR", ["2606:2800:220:1::1"], {"2606:2800:220:1::1": ["example.com"]}),
        # CNAME chain: the IPs are recorded for the query and every CNAME.
        ("www.example.com", "A", "NOERROR", ["cdn.example.net", "edge.example.org", "1.2.3.4"],
         {"1.2.3.4": ["www.example.com", "cdn.example.net", "edge.example.org"]}),
        # Blocking answers are not resolutions ...
        ("ads.example.com", "A", "NOERROR", ["0.0.0.0"], {}),
        ("ads.example.com", "A", "NOERROR", ["127.0.0.1"], {}),
        ("ads.example.com", "AAAA", "NOERROR", ["::"], {}),
        ("ads.example.com", "AAAA", "NOERROR", ["::1"], {}),
        # ... except for localhost.
        ("localhost", "A", "NOERROR", ["127.0.0.1"], {"127.0.0.1": ["localhost"]}),
        # Split-horizon private answers are normal resolutions.
        ("intranet.corp.example", "A", "NOERROR", ["10.1.2.3"], {"10.1.2.3": ["intranet.corp.example"]}),
        ("example.com", "A", "NXDOMAIN", ["1.2.3.4"], {}),
        ("example.com", "TXT", "NOERROR", ["TXT 5 hello"], {}),
        ("4.3.2.1.in-addr.arpa", "A", "NOERROR", ["1.2.3.4"], {}),
        ("Example.COM.", "A", "NOERROR", ["1.2.3.4"], {"1.2.3.4": ["example.com"]}),
    ],
)
def test_resolutions(query, qtype, rcode, answers, expected):
    pipe = Pipeline()
    pipe.feed(dns(query=query, qtype_name=qtype, rcode_name=rcode, answers=answers))
    got = {ip: res.domains for ip, res in pipe.facts.resolutions.items()}
    assert got == expected
    for ip in expected:
        assert pipe.facts.resolution_of(ip).resolved_by == [CLIENT]
    assert pipe.errors() == {}


def test_cnames_and_ips_of_domain():
    pipe = Pipeline()
    pipe.feed(dns(query="www.example.com", answers=["cdn.example.net", "1.2.3.4", "5.6.7.8"]))
    assert pipe.facts.cnames.get("www.example.com") == ["cdn.example.net"]
    assert pipe.facts.ips_of_domain("www.example.com") == {"1.2.3.4", "5.6.7.8"}
    assert pipe.facts.ips_of_domain("cdn.example.net") == {"1.2.3.4", "5.6.7.8"}


@pytest.mark.parametrize(
    ("query", "answers", "ip", "name"),
    [
        ("34.216.184.93.in-addr.arpa", ["host.example.com"], "93.184.216.34", "host.example.com"),
        ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", ["v6.example.com."],
         "2001:db8::1", "v6.example.com"),
        ("bogus.in-addr.arpa", ["x.example.com"], None, None),
    ],
)
def test_ptr_records_rdns(query, answers, ip, name):
    pipe = Pipeline()
    pipe.feed(dns(query=query, qtype_name="PTR", answers=answers))
    if ip is None:
        assert len(pipe.facts.rdns) == 0
    else:
        assert pipe.facts.rdns_of(ip) == name


@pytest.mark.parametrize(
    ("daddr", "dport", "answers", "learned"),
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
def test_dns_server_heuristic(daddr, dport, answers, learned):
    pipe = Pipeline()
    pipe.feed(dns(daddr=daddr, dport=dport, answers=answers), dns(uid="C2", daddr=daddr, dport=dport, answers=answers))
    assert pipe.facts.is_dns_server(daddr) is learned
    expected_notes = [f"Detected DNS server by traffic heuristic: {daddr}"] if learned else []
    assert pipe.notes == expected_notes  # once, not per query


def test_local_network_learned_from_private_source():
    pipe = Pipeline()
    pipe.feed(dns(saddr="8.8.4.4"))
    assert pipe.facts.local_network is None
    pipe.feed(dns(saddr="192.168.5.7", starttime=T0 + 1))
    assert str(pipe.facts.local_network) == "192.168.5.0/24"


@pytest.mark.parametrize(
    "answers",
    [["\x1b[31m", "a" * 5000, "..", "TXT", "TXT x", "-", ""], ["1.2.3.4.5", "::::", "256.1.1.1"]],
)
def test_hostile_answers_do_not_crash(answers):
    pipe = Pipeline()
    pipe.feed(dns(answers=answers), dns(qtype_name="PTR", query="\x00.in-addr.arpa", answers=answers))
    assert pipe.errors() == {}
