"""The TLS learners: SNI and DoH servers (tls_facts), and certificates by fingerprint
and file id, bounded and expiring with flow time (certificates)."""

from __future__ import annotations

from flowalerts.detections.tls.dns_over_https import DnsOverHttps
from flowalerts.learners.servers import ServerRoles
from flowalerts.learners.tls import (
    MAX_CERTIFICATES,
    MAX_SAN,
    Certificate,
    CertificateFacts,
    Certificates,
    ServerNames,
    TlsFacts,
)
from tests.harness import SERVER, T0, Harness, config, ssl, x509

LATENESS = 3600.0  # time.allowed_lateness: the watermark is the newest end time minus this
FP = "A3F1C2D4E5B6A7980112233445566778899AABBCCDDEEFF00112233445566778"


def harness(cfg=None) -> Harness:
    return Harness(DnsOverHttps, learners=[TlsFacts, CertificateFacts], cfg=cfg)


def learned(*records, cfg=None) -> Harness:
    """The records processed (the profiler holds the first ones while it picks T0)."""
    h = harness(cfg).feed(*records)
    h.so_far()
    return h


def test_sni_and_doh_servers():
    h = learned(ssl(server_name="www.example.org"), ssl(daddr="9.9.9.9", server_name="dns.quad9.net"))
    facts = h.driver.facts
    assert (facts.store(ServerNames).sni_of(SERVER), facts.store(ServerRoles).is_doh_server(SERVER)) == ("www.example.org", False)
    assert (facts.store(ServerNames).sni_of("9.9.9.9"), facts.store(ServerRoles).is_doh_server("9.9.9.9")) == ("dns.quad9.net", True)


def test_an_sni_is_learned_only_from_a_completed_session_and_when_it_is_a_host_name():
    """CTU-Normal-44 day 2: an Internet scanner's handshake to the Windows host's
    port 443 (ssl.log, established F) sent the IP literal "10.1.138.176" as SNI."""
    scanner = ssl(uid="Cc5G96ovqiwc4K3b7", saddr="146.88.240.248", sport=55344,
                  daddr="147.32.83.161", dport=443, version="", server_name="10.1.138.176", established=False)
    facts = learned(scanner, ssl(uid="Cip", daddr="198.51.100.7", server_name="198.51.100.7"),
                    ssl(uid="Cnot", daddr="198.51.100.8", server_name="www.example.net", established=False),
                    ssl(uid="Cok", daddr="198.51.100.9", server_name="www.example.com")).driver.facts
    assert [facts.store(ServerNames).sni_of(ip) for ip in ("147.32.83.161", "198.51.100.7", "198.51.100.8", "198.51.100.9")] == [
        None, None, None, "www.example.com"]


def test_certificate_by_fingerprint_and_by_file_id():
    h = learned(x509(uid="", fingerprint=FP, subject="CN=a.example", san_dns=["a.example"]),
                       x509(uid="Fold", fingerprint="", subject="CN=b.example", san_dns=[]))
    facts = h.driver.facts
    by_fp = facts.store(Certificates).certificate(fingerprint=FP.lower())
    assert by_fp == Certificate(fingerprint=FP.lower(), fuid="", subject="CN=a.example", issuer="CN=Example CA",
                                not_valid_before=T0 - 86400, not_valid_after=T0 + 86400 * 90, san_dns=["a.example"],
                                ts=T0, expires=T0 + 90000.0)
    assert facts.store(Certificates).certificate(fingerprint=FP) == by_fp  # any case
    assert facts.store(Certificates).certificate(fuid="Fold").subject == "CN=b.example"
    assert facts.store(Certificates).certificate(fingerprint="00" * 32) is None and facts.store(Certificates).certificate() is None


def test_san_names_are_bounded():
    names = [f"n{i}.example" for i in range(MAX_SAN + 50)] + ["x" * 300 + ".example"]
    h = learned(x509(uid="F1", san_dns=names))
    assert h.driver.facts.store(Certificates).certificate(fuid="F1").san_dns == names[:MAX_SAN]
    h = learned(x509(uid="F2", san_dns=["x" * 300 + ".example", "ok.example", "WWW.Example.COM."]))
    assert h.driver.facts.store(Certificates).certificate(fuid="F2").san_dns == ["ok.example", "www.example.com"]


def test_a_fingerprint_is_remembered_for_zeek_s_day_a_file_id_for_an_hour():
    h = learned(x509(uid="Fold", fingerprint=FP))
    facts = h.driver.facts
    h.advance(T0 + 3600 + 60 + LATENESS)
    assert facts.store(Certificates).certificate(fingerprint=FP) is not None and facts.store(Certificates).certificate(fuid="Fold") is None
    h.advance(T0 + 24 * 3600 + LATENESS)
    assert facts.store(Certificates).certificate(fingerprint=FP) is not None
    h.advance(T0 + 25 * 3600 + 60 + LATENESS)
    assert facts.store(Certificates).certificate(fingerprint=FP) is None


def test_keep_seconds_is_configurable():
    h = learned(x509(uid="", fingerprint=FP), cfg=config(flow_alerts={"certificates": {"keep_seconds": 7 * 86400}}))
    h.advance(T0 + 6 * 86400 + LATENESS)
    assert h.driver.facts.store(Certificates).certificate(fingerprint=FP) is not None


def test_the_certificate_table_is_capped():
    h = harness()
    h.driver.facts.store(Certificates)  # the store (and its table) is made on first use
    assert h.driver.state.table("facts.certificates").max_entries == MAX_CERTIFICATES


def test_a_record_without_fingerprint_or_file_id_is_ignored():
    h = learned(x509(uid="", fingerprint=""))
    assert h.driver.state.size().get("table:facts.certificates", 0) == 0
