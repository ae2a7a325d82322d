"""VERTICAL_PORT_SCAN and HORIZONTAL_PORT_SCAN from notice.log (seed "Zeek alerts"; spec 2.14, 4.11;
issue 13: one evidence per scanned host / port and window)."""

from __future__ import annotations

import pytest

from flowalerts.detections.notice.zeek_notices import ZeekNotices, victim_of_port_scan
from flowalerts.learners.notice import PortScanners
from tests.harness import T0, Harness, in_zeek_order, notice, summary

SCANNER = "147.32.83.156"
VMSG = f"{SCANNER} scanned at least 15 unique ports of host 10.0.0.5 in 0m3s"


def hmsg(port):
    return f"{SCANNER} scanned at least 25 unique hosts on port {port}/tcp in 1m14s"


def scan(note, msg, port=0, uid="", ts=T0, scanner=SCANNER):
    # As the reader normalises it: saddr = src, daddr = dst or src, dport = p.
    return notice(starttime=ts, uid=uid, note=note, msg=msg, scanning_ip=scanner, saddr=scanner, daddr=scanner,
                  scanned_port=port, dport=port)


def run(*records):
    return [summary(e) for e in Harness(ZeekNotices).feed(*records).evidence()]


def vertical(n=1, victim="10.0.0.5", msg=VMSG):
    details = {"kind": "PortScanDetails", "notices": n, "port": 0, "scanned_host": victim or "", "message": msg}
    return ("VERTICAL_PORT_SCAN", SCANNER, 1, SCANNER, victim, "high", 1.0, n, details)


def horizontal(port, n=1):
    details = {"kind": "PortScanDetails", "notices": n, "port": port, "scanned_host": "", "message": hmsg(port)}
    return ("HORIZONTAL_PORT_SCAN", SCANNER, 1, SCANNER, None, "high", 1.0, n, details)


@pytest.mark.parametrize(
    ("record", "result"),
    [
        (scan("Scan::Port_Scan", VMSG), [vertical()]),
        (scan("Scan::Port_Scan", f"{SCANNER} scanned at least 15 unique ports"),
         [vertical(victim=None, msg=f"{SCANNER} scanned at least 15 unique ports")]),
        (scan("Scan::Port_Scan", "x ports of host not-an-ip in 1m"), [vertical(victim=None, msg="x ports of host not-an-ip in 1m")]),
        (scan("Scan::Port_Scan", ""), [vertical(victim=None, msg="")]),
        (scan("Scan::Address_Scan", hmsg(23), port=23), [horizontal(23)]),
        (scan("Other::Note", VMSG), []),
        (scan("SSH::Password_Guessing", f"{SCANNER} appears to be guessing SSH passwords (seen in 30 connections)."),
         []),  # brute force belongs to another Slips module
        (scan("ICMP::ICMPAddressScan", "192.168.1.15 performed ICMP address scan on 5 hosts"), []),
    ],
)
def test_notices(record, result):
    assert run(record) == result


def test_scanner_that_is_not_an_ip_is_skipped():
    assert run(scan("Scan::Port_Scan", VMSG, scanner="")) == []


def test_victim_parsing():
    assert victim_of_port_scan("a scanned at least 15 unique ports of host 2001:db8::5 in 0m3s") == "2001:db8::5"
    assert victim_of_port_scan("ports of host ") is None


def test_repeated_notices_are_one_evidence_per_port_and_window():
    # test10's notice.log: 12 Address_Scan notices of one scanner on 3 ports.
    ports = [23, 8080, 8080, 8080, 23, 2323, 8080, 23, 23, 23, 2323, 2323]
    records = [scan("Scan::Address_Scan", hmsg(p), port=p, ts=T0 + i * 0.001) for i, p in enumerate(ports)]
    evidence = Harness(ZeekNotices).feed(*records).evidence()
    assert [(e.details.port, e.count, e.occurrences, e.dst_port) for e in evidence] == [
        (23, 5, 5, 23), (8080, 4, 4, 8080), (2323, 3, 3, 2323)]


def test_vertical_per_scanned_host():
    records = [scan("Scan::Port_Scan", VMSG, uid="N1"), scan("Scan::Port_Scan", VMSG, uid="N2", ts=T0 + 1),
               scan("Scan::Port_Scan", VMSG.replace("10.0.0.5", "10.0.0.6"), uid="N3", ts=T0 + 2)]
    evidence = Harness(ZeekNotices).feed(*records).evidence()
    assert [(e.victim.value, e.count, e.uids) for e in evidence] == [("10.0.0.5", 2, ["N1", "N2"]),
                                                                     ("10.0.0.6", 1, ["N3"])]


def test_any_order_gives_the_same_evidence():
    records = [scan("Scan::Address_Scan", hmsg(p), port=p, ts=T0 + i) for i, p in enumerate([23, 80, 23, 23])]
    assert run(*records) == run(*reversed(records)) == run(*in_zeek_order(records))


def test_hostile_message_escaped():
    (evidence,) = Harness(ZeekNotices).feed(scan("Scan::Port_Scan", VMSG + "\x1b[2J\n")).evidence()
    assert "\x1b" not in evidence.description and "\n" not in evidence.description


def test_scanners_are_learned_for_other_detections():
    from flowalerts.learners.notice import NoticeFacts

    harness = Harness(ZeekNotices, learners=[NoticeFacts]).feed(
        scan("Scan::Address_Scan", hmsg(23), port=23, ts=T0), scan("Scan::Port_Scan", VMSG, ts=T0 + 10),
        scan("ICMP::ICMPAddressScan", "192.168.1.15 performed ICMP address scan on 5 hosts", scanner="192.168.1.15"))
    harness.so_far()
    facts = harness.driver.facts
    assert (facts.store(PortScanners).port_scan_span(SCANNER), facts.store(PortScanners).port_scan_span("192.168.1.15")) == ((T0, T0 + 10), None)
