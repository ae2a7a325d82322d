"""DNS ARPA scan (spec 2.24, 5.2 item 12): >= 10 distinct in-addr.arpa
queries inside any sliding 2-second window; once per burst."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, EvidenceType, IoCType, ThreatLevel
from tests.harness import CLIENT, T0, Pipeline, dns


def ptr(i: int, ts: float, query: str | None = None, **kw):
    return dns(starttime=ts, uid=f"Cp{i}", query=query or f"{i}.1.168.192.in-addr.arpa", qtype_name="PTR",
               answers=[], **kw)


@pytest.mark.parametrize(
    ("count", "span", "fires"),
    [(5, 0.8, False), (9, 0.9, False), (10, 0.9, True), (10, 2.0, True), (10, 2.7, False), (25, 24.0, False)],
)
def test_threshold_and_window(count, span, fires):
    pipe = Pipeline()
    step = span / (count - 1)
    pipe.feed(*[ptr(i, T0 + i * step) for i in range(count)])
    evs = pipe.of_type("DNS_ARPA_SCAN")
    assert len(evs) == (1 if fires else 0)
    if fires:
        ev = evs[0]
        assert ev.evidence_type is EvidenceType.DNS_ARPA_SCAN
        assert (ev.threat_level, ev.confidence) == (ThreatLevel.MEDIUM, 0.7)
        assert (ev.attacker.direction, ev.attacker.ioc_type, ev.attacker.value) == (Direction.SRC, IoCType.IP, CLIENT)
        assert (ev.profile, ev.timewindow, ev.victim) == (CLIENT, 1, None)
        assert ev.uids == [f"Cp{i}" for i in range(count)]
        assert "10 different" in ev.description


def test_window_slides():
    """Slow queries first, then a fast burst later: the reference never fires here."""
    pipe = Pipeline()
    pipe.feed(*[ptr(i, T0 + 5 * i) for i in range(5)])
    pipe.feed(*[ptr(100 + i, T0 + 100 + 0.1 * i) for i in range(10)])
    assert len(pipe.of_type("DNS_ARPA_SCAN")) == 1


def test_once_per_burst_and_rearm_after_quiet_gap():
    pipe = Pipeline()
    pipe.feed(*[ptr(i, T0 + 0.1 * i) for i in range(40)])  # one continuous burst
    assert len(pipe.of_type("DNS_ARPA_SCAN")) == 1
    pipe.feed(*[ptr(200 + i, T0 + 10 + 0.1 * i) for i in range(12)])  # after > 2 s of quiet
    evs = pipe.of_type("DNS_ARPA_SCAN")
    assert len(evs) == 2
    assert "12 different" not in evs[1].description and "10 different" in evs[1].description


@pytest.mark.parametrize(
    "query",
    ["same.1.168.192.in-addr.arpa", None],
)
def test_repeats_and_ipv6_do_not_count(query):
    pipe = Pipeline()
    if query:
        pipe.feed(*[ptr(i, T0 + 0.1 * i, query=query) for i in range(15)])
    else:
        pipe.feed(*[ptr(i, T0 + 0.1 * i, query=f"{i:x}.0.0.0.ip6.arpa") for i in range(15)])
    assert pipe.of_type("DNS_ARPA_SCAN") == []


def test_per_profile():
    pipe = Pipeline()
    pipe.feed(*[ptr(i, T0 + 0.1 * i, saddr=f"192.168.1.{20 + i % 2}") for i in range(18)])
    assert pipe.of_type("DNS_ARPA_SCAN") == []


def test_state_bounded():
    pipe = Pipeline()
    pipe.feed(*[ptr(i, T0 + 0.5 * i) for i in range(400)])
    state = pipe.state.peek_window("arpa_scan", CLIENT, 1)
    assert len(state["recent"]) <= 5
