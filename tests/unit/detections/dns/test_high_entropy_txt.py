"""HIGH_ENTROPY_DNS_ANSWER (seed; spec 2.33, 4.26, 5.3 item 29; issue 13: one pair per domain and window)."""

from __future__ import annotations

import string

import pytest

from flowalerts.detections.dns.high_entropy_txt import (
    HighEntropyDnsTxt,
    HighEntropyTxtDetails,
    shannon_entropy,
)
from flowalerts.traffic.dns_names import txt_text
from tests.harness import CLIENT, T0, Harness, config, dns, in_zeek_order, summary

RESOLVER = "192.168.1.1"
RANDOM62 = string.ascii_letters + string.digits  # log2(62) = 5.95 bits per character
SPF = "v=spf1 include:_spf.google.com include:mailgun.org ~all"


def txt(text):
    return f"TXT {len(text)} {text}"


def query(answers, saddr=CLIENT, daddr=RESOLVER, name="t.example.com", uid="Ct", ts=T0, qtype="TXT", **kw):
    return dns(starttime=ts, uid=uid, saddr=saddr, daddr=daddr, query=name, qtype_name=qtype, answers=answers, **kw)


def run(*records, **kw):
    return [summary(e) for e in Harness(HighEntropyDnsTxt, **kw).feed(*records).evidence()]


def details(side, answers=1, distinct=1, entropy=5.95, texts=(RANDOM62,), queries=("t.example.com",),
            threshold=5.0, domain="example.com"):
    return {"kind": "HighEntropyTxtDetails", "domain": domain, "queries": list(queries), "answers": answers,
            "distinct_texts": distinct, "max_entropy": entropy, "threshold": threshold, "texts": list(texts),
            "resolver": RESOLVER, "side": side}


def pair(level_client="low", level_resolver="medium", confidence=0.6, count=1, **kw):
    return [
        ("HIGH_ENTROPY_DNS_ANSWER", CLIENT, 1, CLIENT, None, level_client, confidence, count, details("client", **kw)),
        ("HIGH_ENTROPY_DNS_ANSWER", RESOLVER, 1, RESOLVER, None, level_resolver, confidence, count,
         details("resolver", **kw)),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0.0), ("a" * 20, 0.0), ("ab", 1.0), ("abcd", 2.0), (RANDOM62, 5.954196310386876)],
)
def test_entropy_values(text, expected):
    assert shannon_entropy(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("record", "result"),
    [
        (query(["A 1.2.3.4", txt(RANDOM62)]), pair()),
        (query([txt(RANDOM62)], qtype="ANY"), pair()),
        (query([txt(SPF)]), []),  # about 4.5 bits per character
        (query([txt("a" * 64)]), []),
        (query([RANDOM62]), []),  # not a TXT answer
        (query(["TXT 0 "]), []),
        (query([txt(RANDOM62)], qtype="A"), []),  # an A query returns no TXT
        (query([txt(RANDOM62)], saddr="224.0.0.251"), []),  # mDNS
        (query([txt(RANDOM62)], saddr="ff02::fb"), []),
        (query([txt(RANDOM62)], saddr="192.168.1.50", daddr="224.0.0.251", dport=5353), []),
        (query([txt(RANDOM62)], saddr="192.168.1.50", daddr="ff02::fb", dport=5353), []),
    ],
)
def test_detection(record, result):
    assert run(record) == result


def test_pair_is_linked_and_carries_the_uid():
    client, resolver = Harness(HighEntropyDnsTxt).feed(query([txt(RANDOM62)])).evidence()
    assert (client.rel_id, resolver.rel_id) == ([resolver.id], [client.id])
    assert (client.uids, resolver.uids, client.ts) == (["Ct"], ["Ct"], T0)
    assert (client.attacker.direction.value, resolver.attacker.direction.value) == ("SRC", "DST")


@pytest.mark.parametrize(("threshold", "fires"), [(2.0, True), (2.01, False)])
def test_threshold_edge_on_the_text_not_the_prefix(threshold, fires):
    # "abcd" has exactly 2 bits/char; with Zeek's "TXT 4 " prefix it would score higher.
    cfg = config(flow_alerts={"high_entropy_txt": {"threshold": threshold}})
    assert len(run(query([txt("abcd")]), cfg=cfg)) == (2 if fires else 0)


def test_slips_key():
    assert len(run(query([txt("abcd")]), cfg=config(flow_alerts={"entropy_threshold": 2.0}))) == 2


def test_same_text_again_counts_but_does_not_grow_the_level():
    # A mail server fetching one DKIM-like key many times.
    records = [query([txt(RANDOM62)], uid=f"C{i:02d}", ts=T0 + i) for i in range(20)]
    assert run(*records) == pair(count=20, answers=20)
    (client, _) = Harness(HighEntropyDnsTxt).feed(*records).evidence()
    assert (client.occurrences, client.uids) == (1, [f"C{i:02d}" for i in range(20)])


def test_a_tunnel_is_one_pair_per_domain_growing_with_distinct_texts():
    # One subdomain per message, new data in every answer.
    texts = ["".join(RANDOM62[(i * 7 + j) % 62] for j in range(62)) for i in range(16)]
    records = [query([txt(t)], name=f"m{i}.tunnel.example.com", uid=f"C{i}", ts=T0 + i) for i, t in enumerate(texts)]
    evidence = Harness(HighEntropyDnsTxt).feed(*records).evidence()
    assert [(e.profile, e.threat_level.value, e.confidence, e.count, e.occurrences) for e in evidence] == [
        (CLIENT, "high", 1.0, 16, 16), (RESOLVER, "critical", 1.0, 16, 16)]
    assert evidence[0].details == HighEntropyTxtDetails(
        domain="example.com", queries=[f"m{i}.tunnel.example.com" for i in range(10)], answers=16,
        distinct_texts=16, max_entropy=5.95, threshold=5.0, texts=texts[:3], resolver=RESOLVER, side="client")


def test_separate_domains_and_windows():
    records = [query([txt(RANDOM62)], name="a.example.com", uid="A"),
               query([txt(RANDOM62)], name="b.example.org", uid="B", ts=T0 + 1),
               query([txt(RANDOM62)], name="a.example.com", uid="W2", ts=T0 + 3600)]
    got = [(e.profile, e.timewindow, e.details.domain, e.uids) for e in Harness(HighEntropyDnsTxt).feed(*records).evidence()]
    assert got == [(CLIENT, 1, "example.com", ["A"]), (RESOLVER, 1, "example.com", ["A"]),
                   (CLIENT, 1, "example.org", ["B"]), (RESOLVER, 1, "example.org", ["B"]),
                   (CLIENT, 2, "example.com", ["W2"]), (RESOLVER, 2, "example.com", ["W2"])]


def test_any_order_gives_the_same_evidence():
    records = [query([txt(RANDOM62[i:] + RANDOM62[:i])], uid=f"C{i}", ts=T0 + i) for i in range(6)]
    assert run(*records) == run(*reversed(records)) == run(*in_zeek_order(records))


def test_hostile_text_is_escaped_in_the_description():
    text = RANDOM62 + "\x1b[2J\n|fake"
    (client, _) = Harness(HighEntropyDnsTxt).feed(query([txt(text)])).evidence()
    assert "\x1b" not in client.description and "\n" not in client.description
    assert client.details.texts == [text]


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ("TXT 9 txtvers=1 TXT 5 note= TXT 6 qtotal", "txtvers=1 note= qtotal"),
        ("TXT 11 v=spf1 ~all", "v=spf1 ~all"),
        ("TXT 100 shorter than said", "shorter than said"),
        ("TXT no-length", "no-length"),
        ("TXT 3 abc trailing", "abc trailing"),
        ("A 1.2.3.4", None),
        ("TXT 0 ", ""),
    ],
)
def test_txt_text_parsing(answer, text):
    assert txt_text(answer) == text
