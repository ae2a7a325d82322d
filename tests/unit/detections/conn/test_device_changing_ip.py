"""DEVICE_CHANGING_IP (seed "Devices changing IPs"; spec 2.34, 4.27)."""

from __future__ import annotations

import pytest

from flowalerts.detections.conn.device_changing_ip import DeviceChangingIp
from tests.harness import T0, Harness, conn, dhcp, in_zeek_order, summary

MAC = "00:11:22:33:44:55"


def run(*records):
    return [(*summary(e), e.uids) for e in Harness(DeviceChangingIp).feed(*records).evidence()]


def ev(ip, original="192.168.1.2", uid="C2", twid=1):
    return ("DEVICE_CHANGING_IP", ip, twid, ip, None, "medium", 0.8, 1,
            {"kind": "DeviceChangingIpDetails", "mac": MAC, "original_ip": original}, [uid])


@pytest.mark.parametrize(
    ("saddr", "smac", "expected"),
    [
        ("192.168.1.3", MAC, [ev("192.168.1.3")]),
        ("192.168.1.3", MAC.upper(), [ev("192.168.1.3")]),  # MACs compare case-insensitively
        ("192.168.1.2", MAC, []),  # the original IP
        ("8.8.8.8", MAC, []),  # public source: a router forwarding
        ("fd00::3", MAC, []),  # IPv6 coexists with IPv4
        ("169.254.3.3", MAC, []),  # link-local
        ("192.168.1.3", "", []),  # no MAC logged
        ("192.168.1.3", "00:11:22:33:44:66", []),  # another device
    ],
)
def test_device_changing_ip(saddr, smac, expected):
    assert run(conn(uid="C1", saddr="192.168.1.2", smac=MAC),
               conn(uid="C2", saddr=saddr, smac=smac, starttime=T0 + 1)) == expected


def test_original_is_the_first_private_ipv4_and_each_new_ip_is_reported_once():
    records = [conn(uid="C0", saddr="fd00::2", smac=MAC),
               conn(uid="C1", saddr="192.168.1.2", smac=MAC, starttime=T0 + 1),
               conn(uid="C2", saddr="192.168.1.3", smac=MAC, starttime=T0 + 2),
               conn(uid="C3", saddr="192.168.1.3", smac=MAC, starttime=T0 + 3),
               conn(uid="C4", saddr="192.168.1.4", smac=MAC, starttime=T0 + 4),
               conn(uid="C5", saddr="192.168.1.3", smac=MAC, starttime=T0 + 4000)]
    assert run(*records) == [ev("192.168.1.3"), ev("192.168.1.4", uid="C4")]


def test_mac_learned_from_dhcp():
    assert run(dhcp(saddr="192.168.1.2", mac=MAC, assigned_addr="192.168.1.2"),
               conn(uid="C2", saddr="192.168.1.3", smac=MAC, starttime=T0 + 1)) == [ev("192.168.1.3")]


def test_zeek_write_order_gives_the_same_evidence():
    # The first connection from the original IP is long: Zeek writes it after
    # the one from the new IP. The original is still the first one seen.
    records = [conn(uid="C1", saddr="192.168.1.2", smac=MAC, dur=3000.0),
               conn(uid="C2", saddr="192.168.1.3", smac=MAC, starttime=T0 + 60)]
    records += [conn(uid=f"S{i}", saddr="192.168.1.9", starttime=T0 + 100 + i) for i in range(20)]
    assert run(*in_zeek_order(records)) == run(*sorted(records, key=lambda r: r.starttime)) == [ev("192.168.1.3")]
