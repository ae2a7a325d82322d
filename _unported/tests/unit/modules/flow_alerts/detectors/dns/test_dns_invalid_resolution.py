"""Invalid DNS resolution (spec 2.38; only blocking answers, 5.3 item 24)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, EvidenceType, IoCType, ThreatLevel
from tests.harness import CLIENT, T0, Pipeline, dns


@pytest.mark.parametrize(
    ("query", "answers", "invalid"),
    [
        ("example.com", ["127.0.0.1"], ["127.0.0.1"]),
        ("example.com", ["0.0.0.0"], ["0.0.0.0"]),
        ("example.com", ["127.255.0.9"], ["127.255.0.9"]),
        ("example.com", ["::"], ["::"]),
        ("example.com", ["::1"], ["::1"]),
        ("example.com", ["0.0.0.0", "127.0.0.1"], ["0.0.0.0", "127.0.0.1"]),
        ("example.com", ["8.8.8.8"], []),
        ("example.com", ["10.1.2.3"], []),  # split horizon
        ("example.com", ["192.168.1.1"], []),
        ("example.com", ["172.16.0.1"], []),
        ("localhost", ["127.0.0.1"], []),
        ("printer.local", ["127.0.0.1"], []),
        ("1.0.0.127.in-addr.arpa", ["127.0.0.1"], []),
        ("example.com", ["cname.example.net"], []),
    ],
)
def test_invalid_answers(query, answers, invalid):
    pipe = Pipeline()
    pipe.feed(dns(query=query, answers=answers, uid="Cinv"))
    evs = pipe.of_type("INVALID_DNS_RESOLUTION")
    assert [e.description.rsplit(" ", 1)[-1] for e in evs] == invalid
    for ev in evs:
        assert ev.evidence_type is EvidenceType.INVALID_DNS_RESOLUTION
        assert (ev.threat_level, ev.confidence) == (ThreatLevel.INFO, 0.8)
        assert (ev.attacker.direction, ev.attacker.ioc_type, ev.attacker.value) == (Direction.SRC, IoCType.IP, CLIENT)
        assert (ev.victim.direction, ev.victim.ioc_type, ev.victim.value) == (Direction.DST, IoCType.DOMAIN, query)
        assert (ev.profile, ev.timewindow, ev.uids) == (CLIENT, 1, ["Cinv"])
    # Not stored as resolutions.
    for ip in invalid:
        assert pipe.facts.resolution_of(ip) is None


def test_deduplicated_per_query_and_answer():
    pipe = Pipeline()
    pipe.feed(*[dns(starttime=T0 + i, uid=f"C{i}", answers=["0.0.0.0"]) for i in range(4)])
    pipe.feed(dns(starttime=T0 + 9, uid="C9", query="other.example.com", answers=["0.0.0.0"]))
    assert [e.uids for e in pipe.of_type("INVALID_DNS_RESOLUTION")] == [["C0"], ["C9"]]
