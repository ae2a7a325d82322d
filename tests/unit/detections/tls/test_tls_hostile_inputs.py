"""Attacker-controlled strings never crash the TLS detections, nor slow them down,
nor reach a description raw."""

from __future__ import annotations

import dataclasses
import time

import pytest

from flowalerts.core.evidence import ThreatLevel
from flowalerts.detections.tls.certificate_validation import CertificateValidation
from flowalerts.detections.tls.cn_url_mismatch import CnUrlMismatch
from flowalerts.detections.tls.dns_over_https import DnsOverHttps
from flowalerts.detections.tls.incompatible_cn import IncompatibleCn
from flowalerts.detections.tls.malicious_ja3 import MaliciousJa3
from flowalerts.detections.tls.malicious_ssl_cert import MaliciousSslCert
from flowalerts.detections.tls.pastebin_tls import PastebinTls
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.feeds import FeedEntry, ThreatFeeds
from flowalerts.knowledge.orgs import Organizations
from tests.harness import T0, Harness, conn, files, notice, ssl, x509

HOSTILE = [
    "",
    "a" * 100_000,
    "\\" * 50_001,
    "=" * 30_000 + "," * 30_000,
    "CN=" + "*." * 20_000 + "example.com",
    "(" * 10_000 + ")" * 10_000,
    "\x00\n\r\x1b[31m\u202e\ud7ff pastebin",
    "O=Google\\" + ",O=" * 10_000,
    "." * 10_000,
    "CN=\x1b[2J.evil.example,O=Google LLC",
]
DETECTIONS = (CertificateValidation, CnUrlMismatch, DnsOverHttps, IncompatibleCn, MaliciousJa3, MaliciousSslCert,
              PastebinTls)


def knowledge(text: str) -> Knowledge:
    entry = FeedEntry(description=text, threat_level=ThreatLevel.HIGH, tags=(text,), source=text)
    feeds = ThreatFeeds(ja3={"e7d705a3286e19ea42f587b344ee6865": entry},
                        ssl_sha1={"8800350f53cb7bfc883962e965461d94ab5d2616": entry})
    orgs = Organizations(domains={"google": ["google.com"]})
    return dataclasses.replace(Knowledge.empty(), feeds=feeds, orgs=orgs)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings(text):
    harness = Harness(*DETECTIONS, knowledge=knowledge(text))
    records = [
        ssl(subject=text, server_name=text, issuer=text, validation_status=text, ja3=text, ja3s=text, ja4=text,
            cert_chain_fuids=[text[:200]], cert_chain_fps=[text[:200]]),
        ssl(uid="Cssl2", subject="CN=*.google.com", server_name=text[:300] or "x", validation_status="x" + text,
            ja3="e7d705a3286e19ea42f587b344ee6865", cert_chain_fps=["8800350f53cb7bfc883962e965461d94ab5d2616"],
            is_DoH=True),
        x509(uid=text[:200], fingerprint=text, subject=text, san_dns=[text, text]),
        files(uid=text[:200], sha1=text, source=text),
        notice(note="SSL::Invalid_Server_Cert", msg=text, uid="Cssl2"),
        conn(uid="Cssl2", dport=443, dbytes=10_000),
    ]
    start = time.perf_counter()
    harness.feed(*records)
    harness.advance(T0 + 3 * 3600)
    found = harness.evidence()
    assert time.perf_counter() - start < 5.0
    for evidence in found:
        assert not any(char in evidence.description for char in "\x00\n\r\x1b\u202e")
