"""Alerts: one alert per (profile, window), updated as evidence keeps coming (issue 13)."""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Evidence, ThreatLevel, dst_domain, dst_ip, src_ip
from flowalerts.core.records import SslRecord
from flowalerts.detections.tls.certificate_validation import CertificateValidation
from flowalerts.io.alerts import AlertTracker
from tests.harness import CLIENT, T0, Harness, from_zeek


def ev(n, level=ThreatLevel.HIGH, confidence=1.0, twid=1, profile=CLIENT, occurrences=1, evidence_id=""):
    return Evidence(evidence_type="TEST_SEEN", description=f"e{n}", attacker=src_ip(profile), threat_level=level,
                    confidence=confidence, profile=profile, timewindow=twid, uids=[f"C{n}"], ts=T0 + n,
                    occurrences=occurrences, id=evidence_id)


def test_one_alert_per_window_raised_at_the_threshold_then_updated():
    tracker = AlertTracker(0.25, 3600)  # threshold 15
    results = [tracker.add(ev(n)) for n in range(30)]  # 0.8 each
    raised = [r for r in results if r is not None and r[1]]
    updated = [r for r in results if r is not None and not r[1]]
    assert len(raised) == 1 and len(updated) == 11
    (alert,) = tracker.all_alerts()
    assert (alert.version, len(alert.evidence_ids), alert.accumulated_threat) == (12, 30, 24.0)
    assert results.index(raised[0]) == 18  # 19 x 0.8 = 15.2 >= 15


def test_info_adds_nothing_and_windows_are_separate():
    tracker = AlertTracker(0.25, 3600)
    for n in range(40):
        tracker.add(ev(n, level=ThreatLevel.INFO))
        tracker.add(ev(100 + n, level=ThreatLevel.MEDIUM, twid=n))
    assert tracker.all_alerts() == []


def test_an_aggregated_evidence_weighs_its_occurrences_and_an_update_adds_the_difference():
    tracker = AlertTracker(0.25, 3600)
    first = ev(1, level=ThreatLevel.MEDIUM, confidence=0.5, occurrences=10, evidence_id="same")
    assert tracker.add(first) is None  # 2.5
    grown = ev(1, level=ThreatLevel.MEDIUM, confidence=0.5, occurrences=70, evidence_id="same")
    alert, raised = tracker.add(grown)  # 17.5, not 20
    assert raised and alert.accumulated_threat == 17.5 and alert.evidence_ids == ["same"]


# -- whose alert: evidence weighs only on a profile that acted (issue 21) -----------------


def sided(attacker, victim=None, profile=CLIENT, occurrences=1):
    return Evidence(evidence_type="TEST_SEEN", description="sided", attacker=attacker, victim=victim,
                    threat_level=ThreatLevel.HIGH, confidence=1.0, profile=profile, timewindow=1, uids=["C1"],
                    ts=T0, occurrences=occurrences)


def test_only_evidence_about_what_the_profile_did_weighs():
    server = "10.47.27.55"
    cases = [
        (sided(src_ip(CLIENT), dst_ip(server)), True),  # the profile opened the flows
        (sided(src_ip(CLIENT), None), True),
        (sided(dst_ip(server), None, profile=server), False),  # it answered them (a server's certificate)
        (sided(dst_ip(server), src_ip(CLIENT), profile=CLIENT), False),  # it is the victim (incompatible CN)
        (sided(dst_domain("www.example.com"), src_ip(CLIENT), profile=server), False),  # a name it serves
        (sided(src_ip(server), src_ip(CLIENT), profile=CLIENT), False),  # named victim, whatever the attacker's side
    ]
    assert [(e.profile_acted, e.weight) for e, _ in cases] == [(acted, 0.8 if acted else 0.0) for _, acted in cases]
    tracker = AlertTracker(0.25, 3600)
    for n in range(100):
        assert tracker.add(sided(dst_ip(server), None, profile=server, occurrences=1000)) is None
        assert tracker.add(sided(dst_ip(server), src_ip(CLIENT), profile=CLIENT, occurrences=n + 1)) is None
    assert tracker.all_alerts() == []


def test_a_scanned_server_gets_no_alert_its_scanner_does():
    """WRCCDC 2018: 10.164.94.120 opened 667 TLS connections to 10.47.27.55:143
    (IMAP, a self-signed certificate); the server alerted for being scanned
    (299 connections in the first window: accumulated threat 59.8)."""
    fields = {"_path": "ssl", "_write_ts": "2018-03-24T17:19:33.346240Z", "ts": "2018-03-24T17:19:27.329785Z",
              "uid": "C00HkD40bCMdaOiE61", "id.orig_h": "10.164.94.120", "id.orig_p": 37625,
              "id.resp_h": "10.47.27.55", "id.resp_p": 143, "version": "TLSv10",
              "cipher": "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "resumed": False, "established": False,
              "ssl_history": "Csxkn",
              "cert_chain_fps": ["d850f88fb4874e33c4596a33b4e0e2bf6d53a7fd998f0a52cb1ad2b5b7dcfac5"],
              "client_cert_chain_fps": [], "validation_status": "self signed certificate"}
    first = from_zeek(SslRecord, fields)
    records = [msgspec.structs.replace(first, uid=f"C{n:05d}", sport=37625 + n, starttime=first.starttime + n)
               for n in range(299)]
    found = Harness(CertificateValidation).feed(*records).evidence()
    tracker = AlertTracker(0.25, 3600)
    for evidence in found:
        tracker.add(evidence)
    by_profile = {e.profile: e for e in found}
    assert {profile: (e.count, e.occurrences, e.profile_acted) for profile, e in by_profile.items()} == {
        "10.164.94.120": (299, 299, True), "10.47.27.55": (299, 299, False)}
    assert [alert.profile for alert in tracker.all_alerts()] == ["10.164.94.120"]
