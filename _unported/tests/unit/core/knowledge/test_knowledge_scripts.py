"""The data-building scripts and the shipped files they wrote agree."""

from __future__ import annotations

import csv
import importlib.util
import ipaddress

import pytest

from flowalerts.knowledge.orgs import DATA_DIR as ORG_DIR
from flowalerts.knowledge.orgs import Organizations
from flowalerts.knowledge.ports import DATA_DIR as PORT_DIR
from tests.conftest import REPO


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"flowalerts_script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ETC_SERVICES = """\
# comment
ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol
domain\t\t53/udp
http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP
broken\t\tabc/tcp
noproto\t\t99
mdns-old\t5353/udp
"""


def test_build_services_csv(tmp_path):
    script = _script("build_services_csv")
    (tmp_path / "services").write_text(ETC_SERVICES)
    out = tmp_path / "services.csv"
    script.build(tmp_path / "services", out)
    rows = {(int(r[1]), r[2]): (r[0], r[3]) for r in csv.reader(out.read_text().splitlines())}
    assert rows[(22, "tcp")] == ("ssh", "SSH Remote Login Protocol")
    assert rows[(53, "udp")] == ("domain", "")
    assert rows[(5353, "udp")] == ("mdns", "Multicast DNS")  # our own rows win
    assert rows[(19307, "tcp")][0] == "google-meet"
    assert (99, "tcp") not in rows


def test_shipped_services_csv_has_every_extra_row():
    script = _script("build_services_csv")
    rows = {(int(r[1]), r[2]): r[0] for r in csv.reader((PORT_DIR / "services.csv").read_text().splitlines())}
    for name, first, last, protos, _ in script.EXTRA:
        for port in range(first, last + 1):
            for proto in protos:
                assert (port, proto) in rows, (name, port, proto)


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        (["10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/24"]),
        (["17.0.0.0/8", "17.1.0.0/16", "bogus"], ["17.0.0.0/8"]),
        (["2001:db8::/33", "2001:db8:8000::/33", "8.8.8.0/24"], ["8.8.8.0/24", "2001:db8::/32"]),
    ],
)
def test_collapse(cidrs, expected):
    assert _script("build_org_data").collapse(cidrs) == expected


def test_shipped_org_files_match_the_script():
    script = _script("build_org_data")
    shipped = Organizations.load_dir(ORG_DIR, use_asn_db=False)
    for org, asns in script.ASNS.items():
        assert shipped.asns[org] == frozenset(asns)
        assert shipped.domains[org] == frozenset(script.DOMAINS[org])
        for cidr in script.EXTRA_RANGES[org]:
            net = ipaddress.ip_network(cidr)
            assert shipped.org_of_ip(str(net.network_address)) == org, cidr
            assert shipped.org_of_ip(str(net.broadcast_address)) == org, cidr
