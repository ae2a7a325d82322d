"""Known service ports and ports used by specific organisations."""

from __future__ import annotations

import ipaddress

import pytest

from flowalerts.knowledge.ports import DATA_DIR, OrgPort, PortRegistry


@pytest.fixture(scope="module")
def ports() -> PortRegistry:
    return PortRegistry.load_default()


def test_shipped_files_have_no_bad_rows(ports):
    assert ports.bad_rows == 0


@pytest.mark.parametrize(
    ("port", "proto", "name"),
    [
        (22, "tcp", "ssh"),
        (53, "udp", "domain"),
        (443, "tcp", "https"),
        (443, "TCP", "https"),
        (443, "Udp", "https"),
        (853, "tcp", "dns-over-tls"),
        (1900, "udp", "ssdp"),
        (3389, "tcp", "ms-wbt-server"),
        (3478, "udp", "stun"),
        (5223, "tcp", "apple-push"),
        (5228, "tcp", "google-mtalk"),
        (5353, "udp", "mdns"),
        (5355, "udp", "llmnr"),
        (8080, "tcp", "http-alt"),
        (1883, "tcp", "mqtt"),
        (8883, "tcp", "secure-mqtt"),
        (19305, "udp", "google-meet"),
        (19309, "udp", "google-meet"),
    ],
)
def test_known_service(ports, port, proto, name):
    assert ports.service(port, proto) == name
    assert ports.is_known(port, proto)


@pytest.mark.parametrize(
    ("port", "proto"),
    [
        (5223, "udp"),  # known on tcp only
        (19310, "udp"),  # just past the Meet range
        (31337, "tcp"),
        (65535, "tcp"),
        (443, "icmp"),
        (443, ""),
    ],
)
def test_unknown_service(ports, port, proto):
    assert ports.service(port, proto) is None
    assert not ports.is_known(port, proto)


def net(text):
    return ipaddress.ip_network(text)


@pytest.mark.parametrize(
    ("port", "proto", "expected"),
    [
        (5223, "tcp", [OrgPort("apple", net("17.0.0.0/8"))]),
        (5223, "TCP", [OrgPort("apple", net("17.0.0.0/8"))]),
        (16384, "udp", [OrgPort("apple", None)]),
        (16387, "udp", [OrgPort("apple", None)]),
        (16388, "udp", []),
        (19301, "udp", []),
        (
            19302,
            "udp",
            [OrgPort("google", None), OrgPort("google", net("74.125.250.0/24")), OrgPort("google", net("142.250.82.0/24"))],
        ),
        (
            3481,
            "udp",
            [
                OrgPort("apple", net("17.0.0.0/8")),
                OrgPort("microsoft", net("13.107.64.0/18")),
                OrgPort("microsoft", net("52.112.0.0/14")),
                OrgPort("microsoft", net("52.122.0.0/15")),
            ],
        ),
        (3482, "udp", [OrgPort("apple", net("17.0.0.0/8"))]),
        (8801, "udp", [OrgPort("zoom", net("170.114.0.0/16")), OrgPort("zoom", net("206.247.0.0/16")), OrgPort("zoom", net("149.137.0.0/17"))]),
        (8811, "udp", []),
        (8801, "tcp", []),
        (5242, "tcp", [OrgPort("viber", None)]),
    ],
)
def test_org_ports(ports, port, proto, expected):
    assert ports.org_ports(port, proto) == expected


ORG_PORTS_FIXTURE = """\
# comment
"Organization","IP/IP range","port","protocol"
"Acme","203.0.113.0/24","1000-1002","TCP"
"Acme","","2000","udp"
"Acme","203.0.113.0/24","1000","tcp"
"Broken","","478\u20133497","udp"
"Broken","not-an-ip","3000","udp"
"Broken","","70000","udp"
"Broken","","10-5","udp"
"Broken","","","udp"
"Broken","","4000",""
"Short","1.2.3.4"
"""

SERVICES_FIXTURE = """\
ssh,22,tcp,Secure Shell
weird,udp,192,swapped columns
noport,,tcp,missing port
http,80,tcp,World Wide Web, with a comma
bigport,70000,tcp,out of range
"""


def test_loader_skips_and_counts_bad_rows(tmp_path):
    (tmp_path / "orgs.csv").write_text(ORG_PORTS_FIXTURE, encoding="utf-8")
    (tmp_path / "services.csv").write_text(SERVICES_FIXTURE, encoding="utf-8")
    notes: list[str] = []
    registry = PortRegistry.load_files(tmp_path / "services.csv", tmp_path / "orgs.csv", notify=notes.append)
    assert registry.bad_rows == 3 + 7
    assert notes == ["ports: skipped 10 malformed row(s)"]
    assert registry.service(22, "tcp") == "ssh"
    assert registry.service(80, "tcp") == "http"
    assert registry.service(192, "udp") is None
    acme = OrgPort("acme", net("203.0.113.0/24"))
    assert registry.org_ports(1000, "tcp") == [acme]  # duplicate row not repeated
    assert registry.org_ports(1002, "tcp") == [acme]
    assert registry.org_ports(1003, "tcp") == []
    assert registry.org_ports(2000, "udp") == [OrgPort("acme", None)]
    assert registry.org_ports(478, "udp") == []


def test_missing_files_give_an_empty_registry(tmp_path):
    notes: list[str] = []
    registry = PortRegistry.load_files(tmp_path / "nope.csv", tmp_path / "nope2.csv", notify=notes.append)
    assert registry.service(22, "tcp") is None
    assert len(notes) == 2 and all("cannot read" in n for n in notes)


def test_data_dir_holds_both_files():
    assert (DATA_DIR / "services.csv").is_file()
    assert (DATA_DIR / "ports_used_by_specific_orgs.csv").is_file()


def test_empty_registry():
    assert PortRegistry.empty().org_ports(5223, "tcp") == []
    assert not PortRegistry.empty().is_known(443, "tcp")
