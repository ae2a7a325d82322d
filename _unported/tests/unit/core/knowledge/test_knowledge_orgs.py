"""Organisations: IP ranges, ASNs (offline database), domains and names.

Lookup cost measured on the shipped data (Python 3.11, one core):
org_of_ip hit about 1.3 us, miss (ASN cached) about 5 us; the first database
lookup of an address block costs 5-50 ms (block decompression), then it is
cached. org_of_domain about 0.9 us; the suffix list loads once, about 0.3 s, on
the first domain lookup. Loading the five organisations takes about 0.03 s.
"""

from __future__ import annotations

import pytest

from flowalerts.knowledge.orgs import DATA_DIR, SUPPORTED_ORGS, Organizations


@pytest.fixture(scope="module")
def orgs() -> Organizations:
    return Organizations.load_default()


@pytest.fixture(scope="module")
def ranges_only() -> Organizations:
    """The shipped files without the ASN database: ranges decide alone."""
    return Organizations.load_dir(DATA_DIR, use_asn_db=False)


def test_every_org_has_data_files():
    for org in SUPPORTED_ORGS:
        for kind in ("asn", "domains", "ip_ranges"):
            lines = [
                line
                for line in (DATA_DIR / f"{org}_{kind}").read_text().splitlines()
                if line and not line.startswith("#")
            ]
            assert lines, f"{org}_{kind} is empty"


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("8.8.8.8", "google"),
        ("2001:4860:4860::8888", "google"),
        ("17.253.144.10", "apple"),
        ("157.240.3.35", "facebook"),
        ("31.13.24.1", "facebook"),
        ("2a03:2880:f10c:83:face:b00c:0:25de", "facebook"),
        ("13.107.42.14", "microsoft"),
        ("20.33.0.1", "microsoft"),
        ("104.244.42.1", "twitter"),
        ("1.1.1.1", None),  # Cloudflare
        ("9.9.9.9", None),  # Quad9
        ("192.168.1.1", None),
        ("10.0.0.8", None),
        ("127.0.0.1", None),
        ("fe80::1", None),
        ("not-an-ip", None),
        ("", None),
    ],
)
def test_org_of_ip(orgs, ranges_only, ip, expected):
    assert orgs.org_of_ip(ip) == expected
    assert ranges_only.org_of_ip(ip) == expected
    for org in SUPPORTED_ORGS:
        assert orgs.ip_in_org(ip, org) is (org == expected)


@pytest.mark.parametrize(
    ("ip", "asn", "org"),
    [
        ("8.8.8.8", 15169, "google"),
        ("17.253.144.10", 714, "apple"),
        ("157.240.3.35", 32934, "facebook"),
        ("13.107.42.14", 8068, "microsoft"),
        ("104.244.42.1", 13414, "twitter"),
        ("1.1.1.1", 13335, None),
    ],
)
def test_asn_of_uses_the_offline_database(orgs, ip, asn, org):
    found = orgs.asn_of(ip)
    assert found is not None
    assert found[0] == asn
    assert isinstance(found[1], str) and found[1]
    assert (asn in orgs.asns.get(org, ())) is (org is not None)


@pytest.mark.parametrize("ip", ["192.168.1.1", "10.1.2.3", "127.0.0.1", "224.0.0.251", "::1", "garbage", ""])
def test_asn_of_private_or_invalid_is_none(orgs, ip):
    assert orgs.asn_of(ip) is None


def test_asn_alone_makes_membership():
    """An IP outside every range still belongs to the org owning its ASN."""
    by_asn = Organizations(asns={"google": [15169]}, use_asn_db=True)
    assert by_asn.org_of_ip("8.8.8.8") == "google"
    assert by_asn.ip_in_org("8.8.8.8", "google")
    assert not by_asn.ip_in_org("8.8.8.8", "apple")
    assert Organizations(asns={"google": [15169]}, use_asn_db=False).org_of_ip("8.8.8.8") is None


@pytest.mark.parametrize(
    ("cidrs", "ip", "inside"),
    [
        (["203.0.113.0/24"], "203.0.113.0", True),
        (["203.0.113.0/24"], "203.0.113.255", True),
        (["203.0.113.0/24"], "203.0.112.255", False),
        (["203.0.113.0/24"], "203.0.114.0", False),
        (["203.0.113.0/25", "203.0.113.128/25"], "203.0.113.200", True),  # adjacent ranges merged
        (["198.51.100.0/24", "198.51.100.64/26"], "198.51.100.70", True),  # nested
        (["2001:db8::/32"], "2001:db8:ffff::1", True),
        (["2001:db8::/32"], "2001:db9::1", False),
        (["2001:db8::/32"], "32.1.13.184", False),  # same integer as 2001:db8::, other version
        (["not a cidr", "203.0.113.0/24"], "203.0.113.9", True),
    ],
)
def test_range_edges(cidrs, ip, inside):
    custom = Organizations(ranges={"apple": cidrs})
    assert (custom.org_of_ip(ip) == "apple") is inside


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("google.com", "google"),
        ("www.google.com", "google"),
        ("WWW.GOOGLE.COM.", "google"),
        ("r3---sn-4g5e6nz7.googlevideo.com", "google"),
        ("www.youtube.com", "google"),
        ("google.co.uk", "google"),
        ("mail.google.co.uk", "google"),
        ("login.live.com", "microsoft"),
        ("ctldl.windowsupdate.com", "microsoft"),
        ("gateway.icloud.com", "apple"),
        ("scontent.xx.fbcdn.net", "facebook"),
        ("mmg.whatsapp.net", "facebook"),
        ("pbs.twimg.com", "twitter"),
        ("t.co", "twitter"),
        ("google.com.evil.net", None),
        ("evilgoogle.com", None),
        ("google.evil.com", None),
        ("notapple.com", None),
        ("co.uk", None),
        ("com", None),
        ("localhost", None),
        ("8.8.8.8", None),
        ("", None),
        ("." * 300, None),
        ("a" * 70 + ".google.com", "google"),
    ],
)
def test_org_of_domain(orgs, domain, expected):
    assert orgs.org_of_domain(domain) == expected
    for org in SUPPORTED_ORGS:
        assert orgs.domain_in_org(domain, org) is (org == expected)


def test_org_domain_that_is_a_public_suffix_does_not_own_subdomains():
    # ICANN suffixes only (the bundled list's private section is not used).
    custom = Organizations(domains={"google": ["co.uk", "com"]})
    assert custom.org_of_domain("co.uk") == "google"
    assert custom.org_of_domain("attacker.co.uk") is None
    assert custom.org_of_domain("attacker.com") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Google LLC", "google"),
        ("Google Trust Services", "google"),
        ("Microsoft Corporation", "microsoft"),
        ("Apple Inc.", "apple"),
        ("Facebook, Inc.", "facebook"),
        ("Meta Platforms, Inc.", "facebook"),
        ("Twitter, Inc.", "twitter"),
        ("CN=*.google.com,O=Google LLC,C=US", "google"),
        ("Pineapple Express Ltd", None),
        ("Snapple", None),
        ("Googleplex Hosting", None),
        ("Metaplatforms", None),
        ("Example Org", None),
        ("", None),
        ("(" * 10000, None),
    ],
)
def test_org_of_name(orgs, text, expected):
    assert orgs.org_of_name(text) == expected


def test_empty_misses_everything():
    empty = Organizations.empty()
    assert empty.org_of_ip("8.8.8.8") is None
    assert empty.org_of_domain("google.com") is None
    assert empty.asn_of("8.8.8.8") is None
    assert not empty.ip_in_org("8.8.8.8", "google")


def test_load_dir_skips_bad_lines(tmp_path):
    (tmp_path / "twitter_asn").write_text("# comment\nAS13414\nas35995\nbogus\n63179\n")
    (tmp_path / "twitter_domains").write_text("#\nTwitter.com\n\n")
    (tmp_path / "twitter_ip_ranges").write_text("104.244.40.0/21\n999.1.1.0/24\nxyz\n")
    loaded = Organizations.load_dir(tmp_path, use_asn_db=False)
    assert loaded.asns["twitter"] == frozenset({13414, 35995, 63179})
    assert loaded.domains["twitter"] == frozenset({"twitter.com"})
    assert loaded.org_of_ip("104.244.47.255") == "twitter"
    assert loaded.org_of_ip("104.244.48.0") is None
    assert loaded.org_of_domain("#") is None
    assert loaded.asns["google"] == frozenset()  # missing files are empty


def test_asn_database_caches_are_capped():
    # plevin's own caches would keep thousands of LZMA decompressors alive
    # (about a gigabyte); the reader we open must have every cache capped.
    from plevin.reader import Cache

    from flowalerts.knowledge.orgs import _AsnDatabase, _cap_caches

    database = _AsnDatabase()
    reader = database._open()
    assert _cap_caches(reader, _AsnDatabase.BLOCK_CACHE) > 0
    limits = [value.limit for value in vars(reader).values() if isinstance(value, Cache)]
    assert limits and all(limit <= _AsnDatabase.BLOCK_CACHE for limit in limits)
    assert database.lookup("8.8.8.8")[0] == 15169
    assert database.lookup("10.0.0.1") is None
