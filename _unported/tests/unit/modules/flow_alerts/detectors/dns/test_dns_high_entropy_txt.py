"""High-entropy DNS TXT answers (spec 2.33; entropy of the text itself)."""

from __future__ import annotations

import string

import pytest

from flowalerts.evidence import Direction, EvidenceType, IoCType, ThreatLevel
from flowalerts.modules.flow_alerts.detectors.dns.high_entropy_txt import shannon_entropy
from tests.harness import CLIENT, T0, Pipeline, config, dns

RESOLVER = "192.168.1.1"
RANDOM62 = string.ascii_letters + string.digits  # entropy log2(62) ~ 5.95
SPF = "v=spf1 include:_spf.google.com include:mailgun.org ~all"


def txt(text: str) -> str:
    return f"TXT {len(text)} {text}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0.0), ("a" * 20, 0.0), ("ab", 1.0), ("abcd", 2.0), (RANDOM62, 5.954196310386876)],
)
def test_entropy_values(text, expected):
    assert shannon_entropy(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("saddr", "answers", "fires"),
    [
        (CLIENT, ["A 1.2.3.4", txt(RANDOM62)], True),
        (CLIENT, [txt(SPF)], False),
        (CLIENT, [txt("a" * 64)], False),
        ("224.0.0.251", [txt(RANDOM62)], False),  # mDNS
        ("ff02::fb", [txt(RANDOM62)], False),
        (CLIENT, [RANDOM62], False),  # not a TXT answer
        (CLIENT, ["TXT 0 "], False),
    ],
)
def test_detection(saddr, answers, fires):
    pipe = Pipeline()
    pipe.feed(dns(saddr=saddr, daddr=RESOLVER, qtype_name="TXT", query="t.example.com", answers=answers, uid="Ct"))
    evs = pipe.of_type("HIGH_ENTROPY_DNS_ANSWER")
    if not fires:
        assert evs == []
        return
    resolver, client = evs
    assert (resolver.attacker.direction, resolver.attacker.ioc_type, resolver.attacker.value) == (
        Direction.DST, IoCType.IP, RESOLVER)
    assert (resolver.threat_level, resolver.profile) == (ThreatLevel.MEDIUM, RESOLVER)
    assert (client.attacker.direction, client.attacker.value) == (Direction.SRC, CLIENT)
    assert (client.threat_level, client.profile) == (ThreatLevel.LOW, CLIENT)
    for ev in evs:
        assert ev.evidence_type is EvidenceType.HIGH_ENTROPY_DNS_ANSWER
        assert (ev.confidence, ev.timewindow, ev.uids, ev.victim) == (0.6, 1, ["Ct"], None)
        assert "5.95" in ev.description
    assert resolver.rel_id == [client.id] and client.rel_id == [resolver.id]


@pytest.mark.parametrize(("threshold", "fires"), [(2.0, True), (2.01, False)])
def test_threshold_edges_on_text_not_prefix(threshold, fires):
    # "abcd" has exactly 2 bits/char; with the "TXT 4 " prefix it would be higher.
    pipe = Pipeline(cfg=config(flow_alerts={"entropy_threshold": threshold}))
    pipe.feed(dns(qtype_name="TXT", answers=[txt("abcd")]))
    assert len(pipe.of_type("HIGH_ENTROPY_DNS_ANSWER")) == (2 if fires else 0)


def test_same_answer_deduplicated_in_window():
    pipe = Pipeline()
    pipe.feed(*[dns(starttime=T0 + i, uid=f"C{i}", qtype_name="TXT", answers=[txt(RANDOM62)]) for i in range(5)])
    assert len(pipe.of_type("HIGH_ENTROPY_DNS_ANSWER")) == 2


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
    from flowalerts.modules.flow_alerts.detectors.dns.names import txt_text

    assert txt_text(answer) == text


@pytest.mark.parametrize("daddr", ["224.0.0.251", "ff02::fb"])
def test_mdns_responses_to_multicast_groups_skipped(daddr):
    pipe = Pipeline()
    pipe.feed(dns(saddr="192.168.1.50", daddr=daddr, dport=5353, qtype_name="TXT", answers=[txt(RANDOM62)]))
    assert pipe.of_type("HIGH_ENTROPY_DNS_ANSWER") == []
