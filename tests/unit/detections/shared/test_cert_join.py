"""The certificate join (shared/cert_join.py): the certificate detections give the
same evidence on Zeek < 5 logs (subject in ssl.log, one x509 record per
connection by file id) and on Zeek 5+ logs (no subject in ssl.log, the
certificate logged once in x509.log and named by fingerprint), whatever the
order the records arrive in (issue 13, "Today's Zeek")."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from flowalerts.core.records import SslRecord, X509Record
from flowalerts.detections.tls.cn_url_mismatch import CnUrlMismatch, CnUrlMismatchDetails
from flowalerts.detections.tls.incompatible_cn import IncompatibleCn, IncompatibleCnDetails
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from tests.harness import CLIENT, T0, Harness, from_zeek, in_zeek_order, summary

BANK_SERVER = "203.0.113.50"
SNI = "login.example-bank.com"
SUBJECT = "CN=*.google.com"
ISSUER = "CN=WR2,O=Google Trust Services,C=US"
CA_SUBJECT = "CN=WR2,O=Google Trust Services,C=US"
LEAF_FP = "a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778"
CA_FP = "e6a3b45b062d509b3382282d196efe97d5956ccb3bc8f3e2a4c0a1b2c3d4e5f6"
SANS = ["*.google.com", "*.appengine.google.com", "*.cloud.google.com", "google.com"]
NOT_BEFORE = T0 - 30 * 86400
NOT_AFTER = T0 + 60 * 86400
STARTS = (T0, T0 + 10, T0 + 20)


def knowledge() -> Knowledge:
    orgs = Organizations(domains={"google": ["google.com", "gstatic.com"]}, ranges={"google": ["142.250.0.0/15"]})
    return dataclasses.replace(Knowledge.empty(), orgs=orgs)


def ssl_line(i: int, start: float, **fields) -> SslRecord:
    """An ssl.log line as Zeek writes it (JSON), common part."""
    line = {"ts": start, "uid": f"CbAnk{i}", "id.orig_h": CLIENT, "id.orig_p": 50100 + i, "id.resp_h": BANK_SERVER,
            "id.resp_p": 443, "server_name": SNI, "resumed": False, "established": True, **fields}
    return from_zeek(SslRecord, line)


def x509_line(ts: float, **fields) -> X509Record:
    line = {"ts": ts, "certificate.version": 3, "certificate.serial": "0A1B2C3D4E5F", "certificate.key_alg":
            "id-ecPublicKey", "certificate.sig_alg": "sha256WithRSAEncryption", "certificate.key_type": "ecdsa",
            "certificate.key_length": 256, "certificate.curve": "prime256v1", **fields}
    return from_zeek(X509Record, line)


def leaf_fields() -> dict:
    return {"certificate.subject": SUBJECT, "certificate.issuer": ISSUER, "certificate.not_valid_before": NOT_BEFORE,
            "certificate.not_valid_after": NOT_AFTER, "san.dns": SANS, "basic_constraints.ca": False}


def ca_fields() -> dict:
    return {"certificate.subject": CA_SUBJECT, "certificate.issuer": "CN=GTS Root R1,O=Google Trust Services LLC,C=US",
            "certificate.not_valid_before": T0 - 900 * 86400, "certificate.not_valid_after": T0 + 900 * 86400,
            "basic_constraints.ca": True}


def old_schema(starts=STARTS) -> list:
    """Zeek 4: subject and issuer in ssl.log; each connection's certificates logged again under new file ids."""
    records = []
    for i, start in enumerate(starts):
        records.append(ssl_line(i, start, version="TLSv12", cipher="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                curve="x25519", cert_chain_fuids=[f"Fleaf{i}", f"Fca{i}"], client_cert_chain_fuids=[],
                                subject=SUBJECT, issuer=ISSUER, validation_status="ok"))
        records.append(x509_line(start + 0.031, id=f"Fleaf{i}", **leaf_fields()))
        records.append(x509_line(start + 0.032, id=f"Fca{i}", **ca_fields()))
    return records


def new_schema(starts=STARTS, logged=(0,)) -> list:
    """Zeek 6: no subject in ssl.log; the chain by fingerprint; each certificate in x509.log once."""
    records = []
    for i, start in enumerate(starts):
        records.append(ssl_line(i, start, version="TLSv13", cipher="TLS_AES_128_GCM_SHA256", curve="x25519",
                                ssl_history="CsiI", cert_chain_fps=[LEAF_FP, CA_FP], client_cert_chain_fps=[],
                                sni_matches_cert=False, validation_status="ok"))
        if i in logged:
            records.append(x509_line(start + 0.031, fingerprint=LEAF_FP, host_cert=True, client_cert=False,
                                     **leaf_fields()))
            records.append(x509_line(start + 0.032, fingerprint=CA_FP, host_cert=False, client_cert=False,
                                     **ca_fields()))
    return records


def run(records, **kwargs):
    return Harness(IncompatibleCn, CnUrlMismatch, knowledge=knowledge(), **kwargs).feed(*records).evidence()


def expected(count=3, uids=("CbAnk0", "CbAnk1", "CbAnk2")):
    incompatible = IncompatibleCnDetails(org="google", claimed_by="CN", subject=SUBJECT, server_names=[SNI])
    mismatch = CnUrlMismatchDetails(server_name=SNI, server=BANK_SERVER, cns=["*.google.com"], san_count=len(SANS))
    level, confidence = ("medium", 1.0) if count > 1 else ("medium", 0.9)
    return [
        ("INCOMPATIBLE_CN", CLIENT, 1, BANK_SERVER, CLIENT, level, confidence, count,
         msgspec.to_builtins(incompatible), list(uids)),
        ("CN_URL_MISMATCH", CLIENT, 1, CLIENT, SNI, "low", 0.9 if count > 1 else 0.8, count,
         msgspec.to_builtins(mismatch), list(uids)),
        ("CN_URL_MISMATCH", BANK_SERVER, 1, SNI, CLIENT, "medium", 0.9 if count > 1 else 0.8, count,
         msgspec.to_builtins(mismatch), list(uids)),
    ]


def table(evidences):
    return sorted(((*summary(e), e.uids) for e in evidences), key=lambda row: (row[0], row[1]))


def test_both_schemas_give_the_same_evidence():
    old = run(in_zeek_order(old_schema()))
    new = run(in_zeek_order(new_schema()))
    assert table(old) == table(new) == sorted(expected(), key=lambda row: (row[0], row[1]))
    # The very same records, ids and links: nothing says which schema it came from.
    assert [msgspec.json.encode(e) for e in old] == [msgspec.json.encode(e) for e in new]


@pytest.mark.parametrize("order", ["zeek", "x509 first", "reversed"])
@pytest.mark.parametrize("schema", [old_schema, new_schema])
def test_any_arrival_order_gives_the_same_evidence(schema, order):
    records = in_zeek_order(schema())
    if order == "x509 first":
        records = sorted(records, key=lambda r: (not isinstance(r, X509Record), r.starttime))
    elif order == "reversed":
        records = list(reversed(records))
    assert table(run(records)) == sorted(expected(), key=lambda row: (row[0], row[1]))


def test_a_reused_certificate_is_joined_for_a_day():
    # Logged once at T0; reused 23 hours later (Zeek does not log it again within its day).
    later = T0 + 23 * 3600
    found = run(in_zeek_order(new_schema(starts=(T0, later))))
    by_window = sorted((e.evidence_type, e.timewindow, e.count) for e in found)
    assert by_window == [("CN_URL_MISMATCH", 1, 1), ("CN_URL_MISMATCH", 1, 1), ("CN_URL_MISMATCH", 24, 1),
                         ("CN_URL_MISMATCH", 24, 1), ("INCOMPATIBLE_CN", 1, 1), ("INCOMPATIBLE_CN", 24, 1)]


def test_a_certificate_never_logged_gives_nothing_after_the_wait():
    # Zeek 5+ without x509.log (or logged before the capture started): no subject, nothing to judge.
    harness = Harness(IncompatibleCn, CnUrlMismatch, knowledge=knowledge())
    harness.feed(*new_schema(logged=()))
    assert harness.evidence() == []
    assert harness.driver.state.size()["timers"] == 0


def test_the_old_schema_without_x509_still_judges_the_subject():
    records = [r for r in old_schema() if isinstance(r, SslRecord)]
    found = run(records)
    # Without the x509 record the SANs are unknown: CN_URL_MISMATCH judges the
    # CN alone (issue 21: the seed's rule, confidence 0.4, a pair), and
    # INCOMPATIBLE_CN still judges the subject.
    assert sorted((e.evidence_type, e.count) for e in found) == [
        ("CN_URL_MISMATCH", 3), ("CN_URL_MISMATCH", 3), ("INCOMPATIBLE_CN", 3)]
    assert {e.confidence for e in found if e.evidence_type == "CN_URL_MISMATCH"} == {0.5}


def test_waiting_records_are_bounded_per_certificate():
    from flowalerts.detections.shared.cert_join import MAX_WAITING

    starts = [T0 + i * 0.001 for i in range(MAX_WAITING + 5)]
    harness = Harness(IncompatibleCn, knowledge=knowledge())
    harness.feed(*[r for r in new_schema(starts=starts, logged=()) if isinstance(r, SslRecord)])
    waiting = harness.driver.state.timers.pending("incompatible_cn", ("cert", "fp", LEAF_FP))
    assert len(waiting.records) == MAX_WAITING


def test_records_waiting_in_timers_survive_a_checkpoint():
    from flowalerts.core.state import State
    from flowalerts.engine.driver import ModuleDriver

    records = in_zeek_order(new_schema())
    harness = Harness(IncompatibleCn, CnUrlMismatch, knowledge=knowledge())
    harness.feed(records[0])  # the first ssl record waits for its certificate
    harness.so_far()
    assert harness.driver.state.size()["timers"] == 2
    restored = State.restore(harness.driver.state.snapshot())
    harness.driver = ModuleDriver(harness.config, knowledge(), state=restored, detections=[IncompatibleCn, CnUrlMismatch],
                                  strict=True)
    harness.feed(*records[1:])
    assert table(harness.evidence()) == sorted(expected(), key=lambda row: (row[0], row[1]))
