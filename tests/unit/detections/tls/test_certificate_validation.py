"""SELF_SIGNED_CERTIFICATE (spec 2.15, 4.12) and INVALID_CERTIFICATE (spec 2.16) from
ssl.log and notice.log; issue 13: a wrong capture clock gives one warning, and one
pair per (profile, window, server)."""

from __future__ import annotations

import msgspec
import pytest

from flowalerts.core.evidence import KINDS
from flowalerts.core.records import NoticeRecord, SslRecord
from flowalerts.detections.tls.certificate_validation import (
    CertificateValidation,
    CertificateValidationDetails,
)
from tests.harness import CLIENT, SERVER, T0, Harness, from_zeek, in_zeek_order, notice, ssl, summary, x509

EXPIRED = "certificate has expired"
NOT_YET = "certificate is not yet valid"
REVOKED = "certificate revoked"
MISSING_ISSUER = "unable to get local issuer certificate"
DAY = 86400.0


def run(*records):
    harness = Harness(CertificateValidation).feed(*in_zeek_order(records))
    return harness.evidence(), harness.notes


def pair(kind, statuses, count=1, confidence=0.5, names=("bad.example",), sources=("ssl.log",), server=SERVER):
    d = msgspec.to_builtins(CertificateValidationDetails(server=server, statuses=list(statuses),
                                                         server_names=list(names), sources=list(sources)))
    return [(kind, CLIENT, 1, CLIENT, None, "low", confidence, count, d),
            (kind, server, 1, server, None, "low", confidence, count, d)]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("self signed certificate", "SELF_SIGNED_CERTIFICATE"),
        ("self signed certificate in certificate chain", "SELF_SIGNED_CERTIFICATE"),
        (REVOKED, "INVALID_CERTIFICATE"),
        ("certificate signature failure", "INVALID_CERTIFICATE"),
        # Zeek lacked an issuer to build the chain: not a verdict on the server.
        (MISSING_ISSUER, None),
        ("unable to get issuer certificate", None),
        ("unable to verify the first certificate", None),
        (EXPIRED, "INVALID_CERTIFICATE"),
        (NOT_YET, "INVALID_CERTIFICATE"),
        ("ok", None),
        ("", None),
        ("  ", None),
    ],
)
def test_status_table(status, kind):
    found, notes = run(ssl(validation_status=status, server_name="bad.example"))
    assert [summary(e) for e in found] == (pair(kind, [status]) if kind else [])
    assert len(notes) == (1 if status.startswith("unable to") else 0)
    if kind:
        client, server = found
        assert (client.attacker.direction.value, server.attacker.direction.value) == ("SRC", "DST")
        assert client.victim is None and server.victim is None
        assert client.rel_id == [server.id] and server.rel_id == [client.id]
        assert (client.uids, client.dst_port, client.ts) == (["Cssl1"], 443, T0)


def test_invalid_certificate_reaches_slips_as_self_signed_with_its_name_in_the_text():
    assert KINDS["INVALID_CERTIFICATE"].slips_type == "SELF_SIGNED_CERTIFICATE"
    (client, _), _ = run(ssl(validation_status=REVOKED))
    assert client.description.startswith("INVALID_CERTIFICATE")


def test_notice_log_invalid_server_cert():
    record = from_zeek(NoticeRecord, {
        "ts": T0, "uid": "Cssl1", "id.orig_h": CLIENT, "id.orig_p": 50001, "id.resp_h": SERVER, "id.resp_p": 443,
        "note": "SSL::Invalid_Server_Cert", "msg": f"SSL certificate validation failed with ({EXPIRED})",
        "sub": "CN=bad.example", "src": CLIENT, "dst": SERVER, "p": 443, "actions": ["Notice::ACTION_LOG"],
        "suppress_for": 3600.0})
    found, _ = run(record)
    assert [summary(e) for e in found] == pair("INVALID_CERTIFICATE", [EXPIRED], names=(), sources=("notice.log",))


def test_a_connection_in_both_logs_counts_once():
    records = [ssl(validation_status=EXPIRED, server_name="bad.example"),
               notice(uid="Cssl1", note="SSL::Invalid_Server_Cert",
                      msg=f"SSL certificate validation failed with ({EXPIRED})", starttime=T0 + 0.5),
               notice(uid="Cother", note="Scan::Port_Scan", msg="not a certificate")]
    found, _ = run(*records)
    assert [summary(e) for e in found] == pair("INVALID_CERTIFICATE", [EXPIRED])


def test_one_pair_per_server_and_window_growing_in_confidence_only():
    records = [ssl(uid=f"C{i}", starttime=T0 + i, validation_status=REVOKED,
                   server_name="bad.example") for i in range(4)]
    records.append(ssl(uid="Cself", starttime=T0 + 5, validation_status="self signed certificate",
                       server_name="bad.example"))
    records.append(ssl(uid="Cnext", starttime=T0 + 3600 + 1, validation_status=REVOKED,
                       server_name="bad.example"))
    found, _ = run(*records)
    rows = [summary(e) for e in found]
    assert rows[:2] == pair("INVALID_CERTIFICATE", [REVOKED], count=4, confidence=0.7)
    assert rows[2:4] == pair("SELF_SIGNED_CERTIFICATE", ["self signed certificate"])
    assert [(r[0], r[2], r[7]) for r in rows[4:]] == [("INVALID_CERTIFICATE", 2, 1)] * 2
    assert found[0].uids == ["C0", "C1", "C2", "C3"] and found[0].occurrences == 4


def test_time_failures_wait_for_the_window_close_others_do_not():
    harness = Harness(CertificateValidation)
    harness.feed(ssl(uid="Ctime", validation_status=EXPIRED, daddr="1.1.1.1"),
                 ssl(uid="Cself", validation_status="self signed certificate", daddr="2.2.2.2"))
    assert [e.evidence_type for e in harness.so_far()] == ["SELF_SIGNED_CERTIFICATE"] * 2
    assert [e.evidence_type for e in harness.evidence()] == ["SELF_SIGNED_CERTIFICATE"] * 2 + ["INVALID_CERTIFICATE"] * 2


def test_a_time_failure_and_a_chain_failure_on_one_server_report_at_once():
    harness = Harness(CertificateValidation)
    harness.feed(ssl(uid="C1", validation_status=EXPIRED),
                 ssl(uid="C2", starttime=T0 + 1, validation_status=REVOKED))
    (client, _) = harness.so_far()
    assert client.details.statuses == [EXPIRED, REVOKED]
    assert client.count == 2


def test_google_chain_zeek_could_not_build_is_not_evidence_and_gives_one_note():
    """WRCCDC 2018 processed by Zeek 6.2: Google's 2018 chain ends at a root
    Zeek's store no longer has (ssl.log, 361 records to 172.217.11.78)."""
    fields = {"_path": "ssl", "_write_ts": "2018-03-24T17:15:24.685906Z", "ts": "2018-03-24T17:15:24.646248Z",
              "uid": "CHBsCQDS1auzfHpp5", "id.orig_h": "10.47.6.159", "id.orig_p": 50233,
              "id.resp_h": "172.217.11.78", "id.resp_p": 443, "version": "TLSv12",
              "cipher": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "curve": "x25519",
              "server_name": "notifications.google.com", "resumed": False, "next_protocol": "h2",
              "established": True, "ssl_history": "CsxknGIti",
              "cert_chain_fps": ["f64087e30e4d0fb87b608540bb7cfd2ea060d6c6164cb1ae6e02177733ebc1bd",
                                 "be0ccd54d4cecda1bd5e5d9ecc85a04c2c1f93a5220d77fde88fe9ad081f641b"],
              "client_cert_chain_fps": [], "sni_matches_cert": True, "validation_status": MISSING_ISSUER}
    record = from_zeek(SslRecord, fields)
    notice_record = from_zeek(NoticeRecord, {
        "ts": record.starttime, "uid": record.uid, "id.orig_h": "10.47.6.159", "id.orig_p": 50233,
        "id.resp_h": "172.217.11.78", "id.resp_p": 443, "note": "SSL::Invalid_Server_Cert",
        "msg": f"SSL certificate validation failed with ({MISSING_ISSUER})", "src": "10.47.6.159",
        "dst": "172.217.11.78", "p": 443})
    found, notes = run(record, notice_record)
    assert found == []
    assert len(notes) == 1 and notes[0].startswith("certificate validation: 2 record(s)")


# -- the capture clock -------------------------------------------------------------------

CLOCK_1970 = 95.0


def test_a_1970_capture_clock_gives_one_warning_and_no_validity_evidence():
    records = [ssl(uid=f"C{i}", starttime=CLOCK_1970 + i, daddr=f"10.9.0.{i % 5 + 1}", validation_status=NOT_YET)
               for i in range(20)]
    records.append(ssl(uid="Cself", starttime=CLOCK_1970 + 30, validation_status="self signed certificate"))
    found, notes = run(*records)
    # A failure that is not about time is still reported.
    assert [e.evidence_type for e in found] == ["SELF_SIGNED_CERTIFICATE"] * 2
    assert len(notes) == 1
    assert "20 'expired' / 'not yet valid' result(s) for 5 server(s)" in notes[0]
    assert "before 2000" in notes[0]


def certificates(valid, far):
    """x509 records seen at T0: ``valid`` within their dates, ``far`` issued two years after T0."""
    out = [x509(uid=f"Fok{i}", starttime=T0, not_valid_before=T0 - 10 * DAY, not_valid_after=T0 + 80 * DAY)
           for i in range(valid)]
    out += [x509(uid=f"Ffar{i}", starttime=T0, not_valid_before=T0 + 700 * DAY, not_valid_after=T0 + 800 * DAY)
            for i in range(far)]
    return out


@pytest.mark.parametrize(
    ("valid", "far", "reported"),
    [
        (0, 3, False),  # the quorum, all far outside: the clock is wrong
        (2, 3, False),  # a majority
        (3, 3, True),  # not a majority
        (0, 2, True),  # below the quorum
        (10, 0, True),
    ],
)
def test_certificates_far_outside_their_validity_reveal_a_wrong_clock(valid, far, reported):
    records = [*certificates(valid, far), ssl(starttime=T0 + 1, validation_status=NOT_YET)]
    found, notes = run(*records)
    assert (len(found), len(notes)) == ((2, 0) if reported else (0, 1))
    if not reported:
        assert f"{far} of {far + valid} certificates seen were more than 30 days outside their validity" in notes[0]


def test_ca_certificates_and_certificates_within_the_margin_do_not_count():
    records = [x509(uid=f"Fca{i}", starttime=T0, host_cert=False, not_valid_before=T0 + 700 * DAY,
                    not_valid_after=T0 + 800 * DAY) for i in range(3)]
    records += [x509(uid=f"Fnew{i}", starttime=T0, not_valid_before=T0 + 10 * DAY, not_valid_after=T0 + 90 * DAY)
                for i in range(3)]
    found, notes = run(*records, ssl(starttime=T0 + 1, validation_status=NOT_YET))
    assert (len(found), notes) == (2, [])


def test_the_clock_check_counts_the_whole_window():
    # The failure comes first; the certificates that reveal the clock come later in its window.
    records = [ssl(starttime=T0, validation_status=NOT_YET), *[
        x509(uid=f"F{i}", starttime=T0 + 100 + i, not_valid_before=T0 + 700 * DAY, not_valid_after=T0 + 800 * DAY)
        for i in range(3)]]
    found, notes = run(*records)
    assert (found, len(notes)) == ([], 1)


def test_a_failure_arriving_after_its_window_was_settled_is_reported_on_its_own():
    records = [ssl(uid="C0", starttime=T0, validation_status=REVOKED)]
    records += [ssl(uid=f"S{i}", starttime=T0 + 3600 + i * 300, daddr="1.1.1.1", validation_status="ok")
                for i in range(30)]
    harness = Harness(CertificateValidation).feed(*records)
    assert harness.so_far() != []  # (releases the records held while T0 is chosen)
    harness.feed(ssl(uid="Clate", starttime=T0 + 10, validation_status=REVOKED))  # window 1 closed long ago
    assert harness.driver.health.late_records["new_ssl"] == 1
    evidence = harness.evidence()
    assert sorted((e.profile, e.uids, e.count) for e in evidence) == [
        (CLIENT, ["C0"], 1), (CLIENT, ["Clate"], 1), (SERVER, ["C0"], 1), (SERVER, ["Clate"], 1)]
    assert len({e.id for e in evidence}) == 4  # the late pair does not replace the window's
