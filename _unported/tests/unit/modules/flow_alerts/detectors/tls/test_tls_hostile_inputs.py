"""Attacker-controlled strings never crash these detectors, nor take long."""

from __future__ import annotations

import time

import pytest

from tests.harness import T0, conn, files, http, login, notice, smtp, software, ssh, ssl, weird, x509
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline, knowledge_with_orgs

HOSTILE = [
    "",
    "a" * 100_000,
    "\\" * 50_001,
    "=" * 30_000 + "," * 30_000,
    "CN=" + "*." * 20_000 + "example.com",
    "ports of host " + "1" * 50_000 + " in",
    "(" * 10_000 + ")" * 10_000,
    "\x00\n\r\x1b[31m\u202e\ud7ff",
    "O=Google\\" + ",O=" * 10_000,
    "." * 10_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings(text):
    pipe = OwnPipeline(knowledge=knowledge_with_orgs())
    records = [
        ssl(subject=text, server_name=text, issuer=text, validation_status=text, ja3=text, ja3s=text, ja4=text,
            cert_chain_fuids=[text[:200]], cert_chain_fps=[text[:200]]),
        x509(uid=text[:200], fingerprint=text, san_dns=[text, text]),
        files(uid=text[:200], sha1=text, source=text),
        notice(note="Scan::Port_Scan", msg=text, scanning_ip="10.0.0.1", saddr="10.0.0.1"),
        notice(note="SSL::Invalid_Server_Cert", msg=text),
        notice(note=text, msg=text),
        smtp(last_reply=text),
        http(host=text, method=text, response_body_len=10_000),
        weird(name="unknown_HTTP_method", addl=text),
        login(user=text, client_user=text, proto=text),
        software(software="SSH::CLIENT", unparsed_version=text),
        ssh(uid=text[:200], auth_success=True),
        conn(uid=text[:200], dport=22),
    ]
    start = time.perf_counter()
    pipe.feed(*[r for r in records])
    pipe.advance_to(T0 + 3600)
    pipe.finish()
    assert pipe.errors() == {}
    assert time.perf_counter() - start < 5.0
