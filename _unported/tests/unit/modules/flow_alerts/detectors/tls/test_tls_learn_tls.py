"""The TLS learner: SNI, DoH marking and certificate joins other detectors read."""

from __future__ import annotations

import pytest

from flowalerts.modules.flow_alerts.detectors.tls.names import (
    CERT_CONN_TABLE,
    X509_FP_TABLE,
    X509_SAN_TABLE,
    CertConn,
    cert_conn_of,
)
from tests.harness import CLIENT, SERVER, T0, files, ssl, x509
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


def test_ssl_joins_chain_fuids_and_fingerprints():
    pipe = OwnPipeline()
    pipe.feed(ssl(cert_chain_fuids=["Fleaf", "Fca"], cert_chain_fps=["AABB"], server_name="a.example"))
    expected = CertConn(client=CLIENT, server=SERVER, uid="Cssl1", server_name="a.example", starttime=T0)
    for key in ("Fleaf", "Fca", "aabb"):
        assert cert_conn_of(pipe.state, key) == expected
    assert pipe.facts.sni_of(SERVER) == "a.example"


def test_x509_remembers_fingerprint_and_sans_even_when_empty():
    pipe = OwnPipeline()
    pipe.feed(x509(uid="F1", fingerprint="ABCD", san_dns=["a.example"]), x509(uid="F2"))
    assert pipe.state.table(X509_FP_TABLE).get("F1") == "abcd"
    assert pipe.state.table(X509_SAN_TABLE).get("F1") == ["a.example"]
    assert pipe.state.table(X509_SAN_TABLE).get("F2") == []


@pytest.mark.parametrize(("source", "joined"), [("SSL", True), ("HTTP", False)])
def test_certificate_file_before_its_ssl_record(source, joined):
    pipe = OwnPipeline()
    pipe.feed(files(uid="Fearly", source=source, conn_uids=["Cx"]))
    found = cert_conn_of(pipe.state, "Fearly")
    if joined:
        assert (found.client, found.server, found.uid) == (CLIENT, SERVER, "Cx")
    else:
        assert found is None


def test_joins_expire_with_flow_time():
    pipe = OwnPipeline()
    pipe.feed(ssl(cert_chain_fuids=["Fleaf"]))
    pipe.advance_to(T0 + 3600 + 120)
    assert cert_conn_of(pipe.state, "Fleaf") is None
    assert len(pipe.state.table(CERT_CONN_TABLE)) == 0
