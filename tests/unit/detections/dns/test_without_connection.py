"""DNS_WITHOUT_CONNECTION (seed; spec 2.4, 4.4, 5.1 item 1; issue 12: Zeek's write order and
the timer service; issue 13: one evidence per name and window)."""

from __future__ import annotations

import pytest

from flowalerts.detections.dns.without_connection import (
    DnsWithoutConnection,
    WithoutConnectionDetails,
)
from tests.harness import CLIENT, T0, Harness, config, conn, dns, in_zeek_order, ssl, summary

MIN = 60.0
IP = "203.0.113.9"
LATENESS = 3600.0  # time.allowed_lateness default


def query(ts=T0, name="evil.example", answers=(IP,), uid="Cq", **kw):
    return dns(starttime=ts, uid=uid, query=name, answers=list(answers), **kw)


def connect(ts, daddr=IP, dur=1.0, uid=None, saddr=CLIENT, **kw):
    return conn(starttime=ts, dur=dur, daddr=daddr, saddr=saddr, uid=uid or f"Cc{int(ts - T0)}", **kw)


def other_traffic(start, end, step=60.0):
    """Short connections of the same host to an unrelated server (they move flow time on)."""
    return [connect(t, daddr="198.51.100.200", uid=f"Co{int(t - T0)}") for t in _range(start, end, step)]


def _range(start, end, step):
    t = start
    while t < end:
        yield t
        t += step


def run(*records, **kw):
    return [summary(e) for e in Harness(DnsWithoutConnection, **kw).feed(*records).evidence()]


def ev(name="evil.example", answers=(IP,), cnames=(), queries=1, twid=1):
    details = {"kind": "WithoutConnectionDetails", "query": name, "answers": list(answers), "cnames": list(cnames),
               "queries": queries, "wait": 1800.0}
    return ("DNS_WITHOUT_CONNECTION", CLIENT, twid, CLIENT, name, "info", 0.8, queries, details)


def test_positive_and_evidence_fields():
    (evidence,) = Harness(DnsWithoutConnection).feed(query()).evidence()
    assert summary(evidence) == ev()
    assert (evidence.uids, evidence.ts, evidence.victim.ioc_type.value) == (["Cq"], T0, "DOMAIN")


def test_decided_when_flow_time_passes_the_wait():
    # One timer at the query's time + 30 min; it fires once the watermark
    # (newest end time - allowed lateness) passes it.
    harness = Harness(DnsWithoutConnection).feed(query())
    assert harness.advance(T0 + 30 * MIN + LATENESS - 1).so_far() == []
    assert [summary(e) for e in harness.advance(T0 + 30 * MIN + LATENESS).so_far()] == [ev()]
    assert len(harness.driver.state.timers) == 0


@pytest.mark.parametrize(
    ("offset", "dur", "fires"),
    [
        (-10 * MIN, 1.0, True),  # ended long before the query
        (-4 * MIN, 1.0, False),  # within the 5-minute lookback (a re-resolution)
        (-60 * MIN, 3600.0, False),  # a connection still open at the query
        (2.0, 1.0, False),
        (9 * MIN, 1.0, False),
        (29.9 * MIN, 1.0, False),
        (31 * MIN, 1.0, True),  # after the wait: not a use of this resolution
    ],
)
def test_contact_window(offset, dur, fires):
    records = [query(), connect(T0 + offset, dur=dur)]
    for order in (records, in_zeek_order(records)):
        assert run(*order) == ([ev()] if fires else [])


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "answers", "fires"),
    [
        ("example.com", "A", "NOERROR", [IP], True),
        ("example.com", "AAAA", "NOERROR", ["2001:db8::9"], True),
        ("cdn-only.example.com", "A", "NOERROR", ["edge.example.net"], True),  # a CNAME never resolved
        ("34.216.184.93.in-addr.arpa", "PTR", "NOERROR", ["host.example.com"], False),
        ("9.113.0.203.in-addr.arpa", "A", "NOERROR", [IP], False),
        ("x.ip6.arpa", "AAAA", "NOERROR", [IP], False),
        ("printer.local", "A", "NOERROR", [IP], False),
        ("*", "A", "NOERROR", [IP], False),
        ("*.example.com", "A", "NOERROR", [IP], False),
        ("cymru.com", "A", "NOERROR", [IP], False),
        ("1.2.3.4.origin.asn.cymru.com", "A", "NOERROR", [IP], False),
        ("WPAD", "A", "NOERROR", [IP], False),
        ("wpad", "A", "NOERROR", [IP], False),
        ("Wpad.corp.example.com", "A", "NOERROR", [IP], False),
        ("chrometestname", "A", "NOERROR", [IP], False),  # no TLD
        ("example.com", "A", "NXDOMAIN", [], False),
        ("example.com", "A", "SERVFAIL", [IP], False),
        ("example.com", "TXT", "NOERROR", ["TXT 3 abc"], False),
        ("example.com", "MX", "NOERROR", ["mail.example.com"], False),
        ("example.com", "A", "NOERROR", [], False),
        ("ads.example.com", "A", "NOERROR", ["0.0.0.0"], False),  # blocked: nothing to connect to
    ],
)
def test_eligibility(name, qtype, rcode, answers, fires):
    record = dns(query=name, qtype_name=qtype, rcode_name=rcode, answers=answers, uid="Cq")
    assert len(run(record)) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("cname_ips", "contacted", "fires"),
    [
        (["198.51.100.20"], "198.51.100.20", False),  # contacted through the CNAME
        (["198.51.100.20"], "198.51.100.21", True),
        ([], "198.51.100.20", True),
    ],
)
def test_contact_through_a_cname(cname_ips, contacted, fires):
    records = [query(name="www.example.com", answers=["edge.cdn.example.net"])]
    if cname_ips:
        records.append(query(ts=T0 + 1, name="edge.cdn.example.net", answers=cname_ips, uid="Ccname"))
    records.append(connect(T0 + 5 * MIN, daddr=contacted))
    assert ("www.example.com" in [e.victim.value for e in Harness(DnsWithoutConnection).feed(*records).evidence()]
            ) is fires


@pytest.mark.parametrize(("same_mac", "fires"), [(True, False), (False, True)])
def test_contact_by_the_other_ip_version_of_the_host(same_mac, fires):
    v6 = "2001:db8::10"
    records = [
        connect(T0 - 100, daddr="198.51.100.99", smac="aa:bb:cc:dd:ee:ff"),  # teaches the MAC of CLIENT
        connect(T0 - 90, daddr="198.51.100.99", saddr=v6, smac="aa:bb:cc:dd:ee:ff" if same_mac else "11:22:33:44:55:66"),
        query(),
        connect(T0 + 60, saddr=v6),
    ]
    assert len(run(*records)) == (1 if fires else 0)


def test_one_evidence_per_name_and_window_with_every_uid():
    records = [query(ts=T0 + i, uid=f"C{i}") for i in range(5)]
    records += [query(ts=T0 + 2, uid="Cother", name="other.example.com", answers=["198.51.100.6"])]
    records += [query(ts=T0 + 3600, uid="W2")]
    evidence = Harness(DnsWithoutConnection).feed(*records).evidence()
    assert [(e.victim.value, e.timewindow, e.count, e.uids) for e in evidence] == [
        ("evil.example", 1, 5, ["C0", "C1", "C2", "C3", "C4"]),
        ("other.example.com", 1, 1, ["Cother"]),
        ("evil.example", 2, 1, ["W2"]),
    ]


def test_repeated_queries_share_one_timer():
    harness = Harness(DnsWithoutConnection).feed(*[query(ts=T0 + i, uid=f"C{i}") for i in range(300)])
    harness.so_far()
    assert len(harness.driver.state.timers) == 1


def test_a_later_query_of_the_same_name_gets_its_full_wait():
    # Queried at 0 and 25 min; used at 50 min: within 30 min of the second query.
    records = [query(uid="C0"), query(ts=T0 + 25 * MIN, uid="C1"), connect(T0 + 50 * MIN)]
    assert run(*records) == run(*in_zeek_order(records)) == []
    assert run(*records[:2], connect(T0 + 56 * MIN)) == [ev(queries=2)]


def test_queried_again_after_the_decision_updates_the_same_evidence():
    # With 10 minutes of lateness the first query is decided at 40 minutes of
    # flow time; the name is queried again at 45 minutes, in the same window.
    records = [query(uid="C0"), *other_traffic(T0 + 60, T0 + 95 * MIN), query(ts=T0 + 45 * MIN, uid="C1")]
    records = in_zeek_order(records)
    harness = Harness(DnsWithoutConnection, cfg=config(time={"allowed_lateness": 600})).feed(*records)
    harness.so_far()
    first, last = harness.emitted  # the first decision, then its update
    assert (first.count, first.uids) == (1, ["C0"])
    assert (last.id, last.count, last.uids, last.ts) == (first.id, 2, ["C0", "C1"], T0)
    assert harness.evidence() == [last]


def test_end_of_input_settles_pending_queries():
    harness = Harness(DnsWithoutConnection).feed(query(), query(ts=T0 + 1, name="used.example.com",
                                                                answers=["198.51.100.3"]),
                                                 connect(T0 + 3 * MIN, daddr="198.51.100.3"))
    assert harness.so_far() == []
    assert [e.victim.value for e in harness.evidence()] == ["evil.example"]
    assert len(harness.driver.state.timers) == 0


# -- issue 12: Zeek's real write order ------------------------------------------------------------


def test_long_connection_written_after_the_dns_record_and_30_minutes_of_traffic():
    # A 2-hour connection to the resolved IP: Zeek writes it when it ends,
    # after the DNS record and after 30 minutes of other traffic.
    records = [query(), connect(T0 + 5, dur=7200.0, uid="Clong"), *other_traffic(T0 + 60, T0 + 30 * MIN)]
    assert in_zeek_order(records)[-1].uid == "Clong"
    assert run(*in_zeek_order(records)) == run(*sorted(records, key=lambda r: r.starttime)) == []


def test_long_tls_session_with_traffic_all_along_is_a_contact_from_ssl_log():
    # The conn record comes 2 h later, after the timer fired; ssl.log (written at
    # the handshake) already says the host contacted the IP.
    records = [query(), ssl(starttime=T0 + 6, uid="Clong", daddr=IP, server_name="evil.example"), connect(T0 + 5, dur=7200.0, uid="Clong"), *other_traffic(T0 + 60, T0 + 150 * MIN)]
    assert run(*in_zeek_order(records)) == run(*sorted(records, key=lambda r: r.starttime)) == []


def test_plain_connection_longer_than_the_lateness_needs_a_larger_lateness():
    # Known limit: a plain TCP connection lasting longer than time.allowed_lateness
    # whose only record is its conn record arrives after the decision.
    records = [query(), connect(T0 + 5, dur=7200.0, uid="Clong"), *other_traffic(T0 + 60, T0 + 150 * MIN)]
    assert run(*sorted(records, key=lambda r: r.starttime)) == []
    assert run(*in_zeek_order(records)) == [ev()]
    assert run(*in_zeek_order(records), cfg=config(time={"allowed_lateness": 7300})) == []


def test_dns_answer_written_before_a_long_connection_it_refreshes():
    # A client re-resolves a name near the end of a 2-hour connection to it:
    # the DNS record comes before the connection's record, which covers the query.
    records = [connect(T0, dur=7200.0, uid="Clong"), query(ts=T0 + 7100)]
    records += other_traffic(T0 + 30, T0 + 7100, step=300)
    assert in_zeek_order(records)[-1].uid == "Clong"
    assert run(*in_zeek_order(records)) == run(*sorted(records, key=lambda r: r.starttime)) == []


def test_decision_does_not_depend_on_the_order_within_the_lateness():
    records = [query(uid="C0"), query(ts=T0 + 10, name="b.example.com", answers=["198.51.100.7"], uid="C1"), connect(T0 + 20, daddr="198.51.100.7"), *other_traffic(T0 + 30, T0 + 60 * MIN, step=120)]
    expected = run(*records)
    assert [e[4] for e in expected] == ["evil.example"]
    assert run(*reversed(records)) == run(*in_zeek_order(records)) == expected


# -- configuration, modes --------------------------------------------------------------------------


def test_wait_from_config_and_slips_key():
    for cfg in (config(flow_alerts={"dns_without_connection": {"wait": 600}}),
                config(flow_alerts={"dns_without_connection_wait": 600})):
        harness = Harness(DnsWithoutConnection, cfg=cfg).feed(query())
        assert len(harness.advance(T0 + 600 + LATENESS).so_far()) == 1
        assert harness.evidence()[0].details == WithoutConnectionDetails(
            query="evil.example", answers=[IP], cnames=[], queries=1, wait=600.0)


@pytest.mark.parametrize(("elapsed", "decided"), [(29.9 * MIN, False), (30 * MIN, True)])
def test_live_mode_warmup_on_the_wall_clock(elapsed, decided):
    wall = {"now": 1000.0}
    harness = Harness(DnsWithoutConnection, live=True, wall_clock=lambda: wall["now"])
    harness.feed(query(uid="C0", name="first.example.com")).so_far()  # starts the warm-up clock
    wall["now"] += elapsed
    harness.feed(query(ts=T0 + 1, uid="C1"))
    assert [e.victim.value for e in harness.evidence()] == (["evil.example"] if decided else [])


def test_needs_conn_log():
    assert DnsWithoutConnection.required_logs() == ("dns", "conn")
    harness = Harness(DnsWithoutConnection, available_logs={"dns"})
    assert harness.driver.health.skipped == {"dns_without_connection": "needs conn.log"}


def test_hostile_name_escaped_in_the_description():
    (evidence,) = Harness(DnsWithoutConnection).feed(query(name="Evil\x1b[2J.example")).evidence()
    assert "\x1b" not in evidence.description and evidence.details.query == "evil\x1b[2j.example"


# -- bounded state: a full contacts table never turns into evidence --------------------------------


@pytest.mark.parametrize(("cap", "expected", "undecided"), [
    # Room for every contact: the used name is not reported, the unused one is.
    (0, ["unused.example"], {}),
    (100, ["unused.example"], {}),
    # Full: used.example was decided "contacted" when its connection arrived
    # (before later pairs evicted that contact); for unused.example "no
    # contact" would be a guess once contacts of its time were evicted, so it
    # is not reported but counted as not decided.
    (4, [], {"dns_without_connection": 1}),
])
def test_a_full_contacts_table_abstains_instead_of_guessing(cap, expected, undecided):
    # The cap is the contacts learner's setting (flow_alerts.contacts.max_pairs).
    harness = Harness(DnsWithoutConnection, cfg=config(flow_alerts={"contacts": {"max_pairs": cap}}))
    records = [query(name="used.example", answers=["198.51.100.3"], uid="Cq1"), connect(T0 + 1, daddr="198.51.100.3"),
               query(ts=T0 + 2, name="unused.example", answers=["198.51.100.4"], uid="Cq2")]
    records += [connect(T0 + 3 + i, daddr=f"198.51.100.{100 + i}") for i in range(8)]
    assert [e.victim.value for e in harness.feed(*records).evidence()] == expected
    assert dict(harness.driver.health.undecided) == undecided


# -- deciding "contacted" early: a conn record to an answer frees the pending query ---------------


def test_a_connection_to_an_answer_decides_at_once_and_frees_the_timer():
    harness = Harness(DnsWithoutConnection).feed(query())
    assert len(harness.advance(T0 + 1).driver.state.timers) == 1
    timers = harness.feed(connect(T0 + 2)).advance(T0 + 3).driver.state.timers
    assert len(timers) == 0
    assert harness.driver.state.values["dns_without_connection.awaiting"] == {}
    assert harness.evidence() == []


def test_a_connection_known_before_the_answer_decides_without_a_timer():
    # A connection still open when the name is resolved again.
    harness = Harness(DnsWithoutConnection).feed(connect(T0 - 10 * MIN, dur=3600.0), query()).advance(T0 + 1)
    assert len(harness.driver.state.timers) == 0
    assert harness.evidence() == []


def test_a_connection_outside_the_range_keeps_the_query_pending():
    harness = Harness(DnsWithoutConnection).feed(query(), connect(T0 - 10 * MIN)).advance(T0 + 1)
    assert len(harness.driver.state.timers) == 1
    assert [summary(e) for e in harness.evidence()] == [ev()]


def test_later_queries_join_a_name_decided_contacted_as_they_joined_the_pending_one():
    # The first query is contacted; the second, 20 minutes later, is not, but
    # it joins the first (the wait of the pair is not over): no evidence, as
    # when both waited for the timer together.
    records = [query(uid="C1"), connect(T0 + 2), query(ts=T0 + 20 * MIN, uid="C2"),
               *other_traffic(T0 + 30, T0 + 200 * MIN, step=300)]
    assert run(*records) == []
    assert run(*in_zeek_order(records)) == []


@pytest.mark.parametrize("gap", [40 * MIN, 100 * MIN])
def test_a_query_after_the_contacted_decision_is_decided_on_its_own(gap):
    # The first name's timer would fire once flow time passes its wait plus
    # the lateness (T0 + 90 min); a later query joins it until then (40 min:
    # covered by the contact), and is decided on its own after (100 min).
    records = [query(uid="C1"), connect(T0 + 2), query(ts=T0 + gap, uid="C2"),
               *other_traffic(T0 + 30, T0 + 300 * MIN, step=300)]
    if gap < 90 * MIN:
        assert run(*records) == []
        return
    (evidence,) = Harness(DnsWithoutConnection).feed(*records).evidence()
    assert summary(evidence) == ev(twid=2) and evidence.uids == ["C2"]


def test_a_merged_query_with_new_answers_is_decided_by_a_connection_to_them():
    other = "198.51.100.77"
    harness = Harness(DnsWithoutConnection).feed(query(uid="C1"), query(ts=T0 + 5, uid="C2", answers=[other]),
                                                  connect(T0 + 6, daddr=other)).advance(T0 + 7)
    assert len(harness.driver.state.timers) == 0
    assert harness.evidence() == []


def test_cancelled_timers_leave_no_heap_behind():
    from flowalerts.core.state import Timers

    timers = Timers()
    for i in range(Timers._COMPACT_AT * 3):
        timers.schedule("owner", i, float(i))
        timers.cancel("owner", i)
    assert len(timers) == 0 and len(timers._heap) <= Timers._COMPACT_AT + 1
    timers.schedule("owner", "x", 5.0, "p")
    assert list(timers.pop_due(10.0)) == [("owner", "x", "p")]


# simda-botnet355 (Bro 2.5, no MAC fields, a 1970 clock): the infected host resolves
# its DGA names from its IPv6 address and connects to the answers from its IPv4 one.
SIMDA_V6, SIMDA_V4 = "fd77:48a1:c0bb:0:b96c:506d:6c7f:e8be", "192.168.1.116"


def simda_query(ts, uid, sport, query, answers):
    return dns(starttime=ts, uid=uid, saddr=SIMDA_V6, sport=sport, daddr="fd77:48a1:c0bb::1", dport=53,
               proto="udp", query=query, qtype_name="A", rcode_name="NOERROR", answers=answers, TTLs=[300.0, 300.0])


def simda_conn(ts, uid, sport, dur, history):
    return conn(starttime=ts, uid=uid, saddr=SIMDA_V4, sport=sport, daddr="23.253.126.58", dport=80, proto="tcp",
                appproto="http", dur=dur, sbytes=268, dbytes=199, state="SF", history=history)


def test_names_resolved_over_ipv6_and_contacted_over_ipv4_by_the_same_host():
    records = [
        simda_query(181.830929, "CGoftF3MAQKt6EnM17", 55504, "qetyfuv.com", ["23.253.126.58", "104.239.157.210"]),
        simda_query(181.832351, "CRBPHbojfvbgyPcKc", 55605, "lyryfyd.com", ["104.239.157.210", "23.253.126.58"]),
        simda_conn(188.286711, "CURBCh2f2GuQfZSDDj", 49178, 2.511281, "ShADadFf"),
        simda_conn(188.305810, "CjxmcfbfiUXODgxt1", 49179, 1.276102, "ShADadFf"),
    ]
    assert Harness(DnsWithoutConnection).feed(*in_zeek_order(records)).evidence() == []
    assert Harness(DnsWithoutConnection).feed(*sorted(records, key=lambda r: r.starttime)).evidence() == []
    # A connection written before the answer that taught a pairing (its DNS record late) still pairs.
    late_answer = [records[0], records[2], records[1], records[3]]
    assert Harness(DnsWithoutConnection).feed(*late_answer).evidence() == []
    # One name followed once is not enough to call two addresses one host.
    alone = Harness(DnsWithoutConnection).feed(*in_zeek_order([records[0], records[2]])).evidence()
    assert [e.details.query for e in alone] == ["qetyfuv.com"]


def test_a_query_arriving_after_its_window_was_settled_is_still_decided():
    # The decision uses no window state and is reported from its timer anyway.
    harness = Harness(DnsWithoutConnection).feed(*other_traffic(T0, T0 + 4 * 3600))
    harness.feed(query(ts=T0 + 10, uid="Clate"))
    assert harness.driver.health.late_records["new_dns"] == 1
    (evidence,) = harness.evidence()
    assert (summary(evidence), evidence.uids, evidence.ts) == (ev(), ["Clate"], T0 + 10)
