"""DNS resolution without a connection (spec 2.4 INTENT): eligibility, the
contacted test (direct, CNAME, other IP version), the 10/20/30-minute timeline
on a hand-advanced flow clock, end-of-input settling, de-duplication."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, EvidenceType, IoCType, ThreatLevel
from tests.harness import CLIENT, SERVER, T0, Pipeline, conn, dns

MIN = 60.0


def connect(pipe: Pipeline, ts: float, daddr: str = SERVER, saddr: str = CLIENT) -> None:
    """A conn flow, plus the contact fact the conn learner records for it
    (recorded here too, so these tests do not depend on that learner)."""
    pipe.feed(conn(starttime=ts, saddr=saddr, daddr=daddr, uid=f"Cc{int(ts)}"))
    pipe.facts.record_contact(saddr, daddr, ts)


def detector(pipe: Pipeline):
    return next(d for d in pipe.module.detectors if d.name == "DnsWithoutConnection")


def dwc(pipe: Pipeline):
    return pipe.of_type("DNS_WITHOUT_CONNECTION")


def test_evidence_fields_after_30_minutes():
    pipe = Pipeline()
    pipe.feed(dns(query="evil.example", answers=["203.0.113.9"], uid="Cq1"))
    assert pipe.advance_to(T0 + 30 * MIN - 1) == []
    new = pipe.advance_to(T0 + 31 * MIN)
    assert len(new) == 1
    ev = new[0]
    assert ev.evidence_type is EvidenceType.DNS_WITHOUT_CONNECTION
    assert ev.threat_level is ThreatLevel.INFO
    assert ev.confidence == 0.8
    assert (ev.attacker.direction, ev.attacker.ioc_type, ev.attacker.value) == (Direction.SRC, IoCType.IP, CLIENT)
    assert (ev.victim.direction, ev.victim.ioc_type, ev.victim.value) == (Direction.DST, IoCType.DOMAIN, "evil.example")
    assert (ev.profile, ev.timewindow, ev.uids) == (CLIENT, 1, ["Cq1"])
    assert "evil.example" in ev.description
    assert detector(pipe).pending_count() == 0


@pytest.mark.parametrize(
    ("query", "qtype", "rcode", "answers", "fires"),
    [
        ("example.com", "A", "NOERROR", [SERVER], True),
        ("example.com", "AAAA", "NOERROR", ["2606:2800:220:1::1"], True),
        ("cdn-only.example.com", "A", "NOERROR", ["edge.example.net"], True),  # only a CNAME, never resolved
        ("34.216.184.93.in-addr.arpa", "A", "NOERROR", [SERVER], False),
        ("x.ip6.arpa", "AAAA", "NOERROR", [SERVER], False),
        ("example.arpa", "A", "NOERROR", [SERVER], False),
        ("printer.local", "A", "NOERROR", [SERVER], False),
        ("*", "A", "NOERROR", [SERVER], False),
        ("*.example.com", "A", "NOERROR", [SERVER], False),
        ("cymru.com", "A", "NOERROR", [SERVER], False),
        ("1.2.3.4.origin.asn.cymru.com", "A", "NOERROR", [SERVER], False),
        ("WPAD", "A", "NOERROR", [SERVER], False),
        ("wpad", "A", "NOERROR", [SERVER], False),
        ("Wpad.corp.example.com", "A", "NOERROR", [SERVER], False),
        ("chrometestname", "A", "NOERROR", [SERVER], False),  # no TLD
        ("example.com", "A", "NXDOMAIN", [SERVER], False),
        ("example.com", "A", "SERVFAIL", [SERVER], False),
        ("example.com", "TXT", "NOERROR", ["TXT 3 abc"], False),
        ("example.com", "MX", "NOERROR", ["mail.example.com"], False),
        ("example.com", "A", "NOERROR", [], False),
        ("ads.example.com", "A", "NOERROR", ["0.0.0.0"], False),  # blocked: nothing to connect to
    ],
)
def test_eligibility(query, qtype, rcode, answers, fires):
    pipe = Pipeline()
    pipe.feed(dns(query=query, qtype_name=qtype, rcode_name=rcode, answers=answers))
    pipe.advance_to(T0 + 31 * MIN)
    assert len(dwc(pipe)) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("contact_offset", "fires"),
    [
        (-60.0, True),  # a contact long before the query does not count
        (-5.0, False),  # within the few seconds of slack
        (2.0, False),
        (9 * MIN, False),
        (15 * MIN, False),
        (25 * MIN, False),
        (29.9 * MIN, False),
    ],
)
def test_contact_window(contact_offset, fires):
    pipe = Pipeline()
    if contact_offset < 0:
        connect(pipe, T0 + contact_offset)
    pipe.feed(dns(starttime=T0, answers=[SERVER]))
    if contact_offset >= 0:
        pipe.advance_to(T0 + contact_offset)
        connect(pipe, T0 + contact_offset)
    pipe.advance_to(T0 + 40 * MIN)
    pipe.finish()
    assert len(dwc(pipe)) == (1 if fires else 0)


def test_timeline_rechecks_at_10_and_20_then_decides_at_30():
    pipe = Pipeline()
    det = detector(pipe)
    pipe.feed(dns(starttime=T0, query="a.example.com", answers=["198.51.100.1"], uid="Ca"))
    pipe.feed(dns(starttime=T0 + 1, query="b.example.com", answers=["198.51.100.2"], uid="Cb"))
    assert det.pending_count() == 2
    # 10 minutes: a was contacted at 8 minutes -> dropped; b waits.
    connect(pipe, T0 + 8 * MIN, daddr="198.51.100.1")
    assert pipe.advance_to(T0 + 10 * MIN + 1) == []
    assert det.pending_count() == 1
    # 20 minutes: b still uncontacted, re-queued.
    assert pipe.advance_to(T0 + 20 * MIN + 1) == []
    assert det.pending_count() == 1
    # 30 minutes: decided.
    new = pipe.advance_to(T0 + 30 * MIN + 1)
    assert [(e.victim.value, e.uids) for e in new] == [("b.example.com", ["Cb"])]
    assert det.pending_count() == 0
    assert pipe.finish() == []


def test_watermark_of_other_logs_drives_the_decision():
    """No later DNS record at all: conn records alone move flow time on."""
    pipe = Pipeline()
    pipe.feed(dns(starttime=T0, answers=["198.51.100.7"]))
    pipe.feed(conn(starttime=T0 + 31 * MIN, daddr="198.51.100.99", uid="Cother"))
    assert len(dwc(pipe)) == 1


@pytest.mark.parametrize(
    ("contacted", "fires"),
    [(False, True), (True, False)],
)
def test_finish_settles_pending(contacted, fires):
    pipe = Pipeline()
    pipe.feed(dns(starttime=T0, answers=["198.51.100.3"]))
    if contacted:
        connect(pipe, T0 + 3 * MIN, daddr="198.51.100.3")
    assert dwc(pipe) == []
    pipe.finish()
    assert len(dwc(pipe)) == (1 if fires else 0)
    assert detector(pipe).pending_count() == 0


@pytest.mark.parametrize(
    ("cname_ips", "contacted_ip", "fires"),
    [
        (["198.51.100.20"], "198.51.100.20", False),  # contacted through the CNAME
        (["198.51.100.20"], "198.51.100.21", True),
        ([], "198.51.100.20", True),
    ],
)
def test_contact_through_cname(cname_ips, contacted_ip, fires):
    pipe = Pipeline()
    pipe.feed(dns(starttime=T0, query="www.example.com", answers=["edge.cdn.example.net"], uid="Cq"))
    if cname_ips:
        pipe.feed(dns(starttime=T0 + 1, query="edge.cdn.example.net", answers=cname_ips, uid="Ccname"))
    connect(pipe, T0 + 5 * MIN, daddr=contacted_ip)
    pipe.advance_to(T0 + 31 * MIN)
    got = [e.victim.value for e in dwc(pipe)]
    assert ("www.example.com" in got) is fires


@pytest.mark.parametrize(("same_mac", "fires"), [(True, False), (False, True)])
def test_contact_by_other_ip_version(same_mac, fires):
    v6 = "2001:db8::10"
    pipe = Pipeline()
    pipe.facts.record_mac("aa:bb:cc:dd:ee:ff", CLIENT, T0)
    pipe.facts.record_mac("aa:bb:cc:dd:ee:ff" if same_mac else "11:22:33:44:55:66", v6, T0)
    pipe.feed(dns(starttime=T0, answers=["198.51.100.4"]))
    connect(pipe, T0 + 60, daddr="198.51.100.4", saddr=v6)
    pipe.advance_to(T0 + 31 * MIN)
    assert len(dwc(pipe)) == (1 if fires else 0)


def test_deduplicated_per_profile_window_query():
    pipe = Pipeline()
    pipe.feed(*[dns(starttime=T0 + i, uid=f"C{i}", answers=["198.51.100.5"]) for i in range(5)])
    pipe.feed(dns(starttime=T0 + 2, uid="Cother", query="other.example.com", answers=["198.51.100.6"]))
    pipe.advance_to(T0 + 31 * MIN)
    assert sorted((e.victim.value, tuple(e.uids)) for e in dwc(pipe)) == [
        ("example.com", ("C0",)), ("other.example.com", ("Cother",))
    ]


@pytest.mark.parametrize(("elapsed_minutes", "queued"), [(29.9, False), (30.0, True)])
def test_live_mode_warmup(elapsed_minutes, queued):
    wall = {"now": 1000.0}
    pipe = Pipeline(live=True, wall_clock=lambda: wall["now"])
    wall["now"] += elapsed_minutes * 60
    pipe.feed(dns(starttime=T0, answers=["198.51.100.8"]))
    assert detector(pipe).pending_count() == (1 if queued else 0)


def test_contact_survives_a_flow_clock_jump():
    """Logs from different captures make the watermark jump far ahead: the
    shared contact facts expire before the decision, the detector's own watch
    of conn flows still knows the answer was used."""
    pipe = Pipeline()
    pipe.feed(dns(starttime=T0, query="used.example.com", answers=["198.51.100.30"], uid="Cu"))
    pipe.feed(dns(starttime=T0 + 1, query="unused.example.com", answers=["198.51.100.31"], uid="Cn"))
    pipe.feed(conn(starttime=T0 + 60, daddr="198.51.100.30", uid="Cc"))  # no explicit fact here
    pipe.advance_to(T0 + 10**9)
    assert pipe.facts.last_contact(CLIENT, "198.51.100.30") is None  # the shared fact expired
    assert [e.uids for e in dwc(pipe)] == [["Cn"]]
    assert detector(pipe)._watch == {}
