"""INCOMPATIBLE_CN (spec 2.26 INTENT, 4.21; spec 5 item 18): attacker is the server."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, ssl
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import GOOGLE_IP, OwnPipeline, knowledge_with_orgs


@pytest.mark.parametrize(
    ("subject", "daddr", "server_name", "org"),
    [
        ("CN=example.com,OU=Google LLC,O=Google LLC,C=US", SERVER, "example.com", "Google"),
        ("CN=www.google.com,O=Evil Ltd", SERVER, "", "Google"),           # CN is a Google domain
        ("CN=login.microsoft.com", SERVER, "login-microsoft.example", "Microsoft"),
        ("CN=example.com,O=Google LLC", GOOGLE_IP, "example.com", None),  # IP belongs to Google
        ("CN=x.com,O=Google LLC", SERVER, "www.google.com", None),        # SNI is a Google subdomain
        ("CN=example.com,OU=Example Inc.", SERVER, "example.com", None),  # no org claimed
        ("CN=pineapple.example,O=Pineapple Corp", SERVER, "pineapple.example", None),  # word match only
        ("CN=example.com,OU=Google Fans,O=Example", SERVER, "example.com", None),     # OU is not O
        ("", SERVER, "example.com", None),
        ("O=Google\\, LLC,CN=example.com", SERVER, "example.com", "Google"),   # escaped comma
    ],
)
def test_incompatible_cn_table(subject, daddr, server_name, org):
    pipe = OwnPipeline(knowledge=knowledge_with_orgs())
    new = pipe.feed(ssl(subject=subject, daddr=daddr, server_name=server_name))
    found = pipe.of_type("INCOMPATIBLE_CN", new)
    if org is None:
        assert found == []
        return
    [ev] = found
    assert ev.attacker == dst_ip(daddr) and ev.victim == src_ip(CLIENT)
    assert (ev.threat_level, ev.confidence) == (ThreatLevel.MEDIUM, 0.9)
    assert (ev.profile, ev.timewindow, ev.uids, ev.dst_port) == (CLIENT, 1, ["Cssl1"], 443)
    assert f"belong to {org}" in ev.description


def test_incompatible_cn_once_per_server_and_org():
    pipe = OwnPipeline(knowledge=knowledge_with_orgs())
    rec = dict(subject="CN=a.example,O=Google LLC", server_name="a.example")
    pipe.feed(ssl(**rec), ssl(uid="C2", **rec), ssl(uid="C3", daddr="1.2.3.4", **rec))
    assert [e.attacker.value for e in pipe.of_type("INCOMPATIBLE_CN")] == [SERVER, "1.2.3.4"]


def test_hostile_subject_does_not_crash():
    pipe = OwnPipeline(knowledge=knowledge_with_orgs())
    pipe.feed(ssl(subject="=" * 5000 + "\\" + "," * 5000 + "O=" + "a" * 10000))
    assert pipe.errors() == {}
