"""The local whitelist: parsing, domain/IP/organisation matching, direction and ignore type."""

from __future__ import annotations

import pytest

from flowalerts.config import Config, Whitelists
from flowalerts.evidence import Direction, IoCType
from flowalerts.knowledge.orgs import Organizations
from flowalerts.knowledge.whitelist import Whitelist, WhitelistEntry
from tests.conftest import REPO

TEXT = """\
; comment line
"IoCType","IoCValue","Direction","IgnoreType"
"domain","Example.COM.","dst","alerts"
"domain","flows-only.net","both","flows"
"ip","203.0.113.7","src","both"
"ip","198.51.100.0/24","both","alerts"
"ip","2001:DB8::0:1","dst","alerts"
"organization","apple","both","alerts"
"mac","AA:BB:CC:DD:EE:FF","src","flows"
#"domain","disabled.org","both","both"
"domain","nothing-given.org"
"bogus","x","both","both"
"ip","not-an-ip","both","both"
"domain","bad.org","sideways","both"
"organization","acme","both","both"
"""


@pytest.fixture(scope="module")
def whitelist() -> Whitelist:
    orgs = Organizations(
        domains={"apple": ["apple.com"]},
        ranges={"apple": ["17.0.0.0/8"]},
    )
    return Whitelist.from_text(TEXT, orgs=orgs)


def test_parsing(whitelist):
    assert whitelist.bad_rows == 4
    assert whitelist.domains == {"example.com", "flows-only.net", "nothing-given.org"}
    assert whitelist.ips == {"203.0.113.7", "2001:db8::1"}
    assert WhitelistEntry("domain", "nothing-given.org", "both", "both") in whitelist.entries
    assert WhitelistEntry("mac", "aa:bb:cc:dd:ee:ff", "src", "flows") in whitelist.entries


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("example.com", True),
        ("www.example.com", True),
        ("A.B.EXAMPLE.COM.", True),
        ("example.com.evil.net", False),
        ("notexample.com", False),
        ("com", False),
        ("flows-only.net", True),
        ("icloud.apple.com", True),  # organisation entry
        ("apple.com.evil.net", False),
        ("disabled.org", False),
        ("", False),
    ],
)
def test_domain_whitelisted(whitelist, domain, expected):
    assert whitelist.domain_whitelisted(domain) is expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.7", True),
        ("203.0.113.8", False),
        ("198.51.100.200", True),  # CIDR entry
        ("198.51.101.1", False),
        ("2001:db8::1", True),
        ("2001:0db8:0000::0001", True),  # other spelling of the same address
        ("17.1.2.3", True),  # organisation range
        ("18.1.2.3", False),
        ("garbage", False),
    ],
)
def test_ip_whitelisted(whitelist, ip, expected):
    assert whitelist.ip_whitelisted(ip) is expected


@pytest.mark.parametrize(
    ("value", "ioc_type", "direction", "alerts", "flows"),
    [
        ("www.example.com", "DOMAIN", "DST", True, False),  # dst, alerts only
        ("www.example.com", IoCType.DOMAIN, Direction.SRC, False, False),  # wrong side
        ("www.example.com", "domain", None, True, False),  # either side
        ("flows-only.net", "DOMAIN", "SRC", False, True),
        ("203.0.113.7", IoCType.IP, Direction.SRC, True, True),
        ("203.0.113.7", IoCType.IP, Direction.DST, False, False),
        ("198.51.100.1", "IP", "DST", True, False),
        ("17.0.0.1", "IP", "SRC", True, False),
        ("aa:bb:cc:dd:ee:ff", "mac", "src", False, True),
        ("example.com", "URL", "DST", False, False),  # unsupported type
    ],
)
def test_alert_and_flow_whitelisting(whitelist, value, ioc_type, direction, alerts, flows):
    assert whitelist.is_whitelisted_alert(value, ioc_type, direction) is alerts
    assert whitelist.is_whitelisted_flow(value, ioc_type, direction) is flows


def test_repo_whitelist_conf_loads():
    notes: list[str] = []
    loaded = Whitelist.load(Config(base_dir=str(REPO)), notify=notes.append)
    assert notes == []
    assert loaded.bad_rows == 0
    for domain in ("cymru.com", "origin.asn.cymru.com", "whois.arin.net", "check.torproject.org", "sslbl.abuse.ch"):
        assert loaded.is_whitelisted_alert(domain, "DOMAIN", "DST"), domain
        assert not loaded.is_whitelisted_flow(domain, "DOMAIN", "DST"), domain
    assert not loaded.domain_whitelisted("google.com")  # organisation rows are commented out


def test_disabled_or_missing_whitelist(tmp_path):
    disabled = Config(base_dir=str(REPO), whitelists=Whitelists(enable_local_whitelist=False))
    assert Whitelist.load(disabled, notify=pytest.fail).entries == []
    notes: list[str] = []
    missing = Whitelist.load(Config(base_dir=str(tmp_path)), notify=notes.append)
    assert missing.entries == [] and len(notes) == 1 and "not loaded" in notes[0]


def test_sets_filled_directly_still_work():
    manual = Whitelist.empty()
    manual.domains.add("example.org")
    manual.ips.add("192.0.2.1")
    assert manual.domain_whitelisted("www.example.org")
    assert manual.ip_whitelisted("192.0.2.1")
    assert not manual.ip_whitelisted("192.0.2.2")
