"""Helpers shared by the conn.log detections: address flags, start_seen, wholly_seen, segment broadcasts."""

from __future__ import annotations

import pytest

from flowalerts.traffic.conn_flows import (
    BROADCAST,
    LAN,
    MULTICAST,
    NO_DNS_NEEDED,
    PRIVATE,
    UNICAST_V4,
    ip_info,
    start_seen,
    to_whole_segment,
    wholly_seen,
)
from tests.harness import conn


@pytest.mark.parametrize(
    ("text", "canonical", "set_flags", "clear_flags"),
    [
        ("192.168.1.1", "192.168.1.1", PRIVATE | LAN | NO_DNS_NEEDED | UNICAST_V4, MULTICAST),
        ("fd00::1", "fd00::1", PRIVATE | LAN | NO_DNS_NEEDED, UNICAST_V4),
        ("169.254.1.1", "169.254.1.1", LAN | NO_DNS_NEEDED | UNICAST_V4, PRIVATE),
        ("FE80::1", "fe80::1", LAN | NO_DNS_NEEDED, PRIVATE),
        ("::ffff:10.0.2.15", "10.0.2.15", PRIVATE | UNICAST_V4, 0),  # IPv4-mapped is the IPv4 host
        ("8.8.8.8", "8.8.8.8", UNICAST_V4, PRIVATE | LAN | NO_DNS_NEEDED),
        ("255.255.255.255", "255.255.255.255", BROADCAST | NO_DNS_NEEDED, UNICAST_V4),
        ("224.0.0.251", "224.0.0.251", MULTICAST | NO_DNS_NEEDED, UNICAST_V4),
    ],
)
def test_ip_info(text, canonical, set_flags, clear_flags):
    info = ip_info(text)
    assert info.canonical == canonical
    assert info.flags & set_flags == set_flags and not info.flags & clear_flags


@pytest.mark.parametrize("text", ["", "bogus", "10.0.0.256", "1.2.3", "::g"])
def test_ip_info_of_non_addresses(text):
    assert ip_info(text) is None


@pytest.mark.parametrize(
    ("state", "history", "proto", "seen"),
    [
        ("SF", "ShADadFf", "tcp", True),
        ("S0", "S", "tcp", True),
        ("REJ", "D", "tcp", True),  # test14: an attempt Zeek saw, whatever the history says
        ("OTH", "DadA", "tcp", False),
        ("OTH", "", "icmp", False),
        ("S1", "DTaT", "tcp", False),
        ("SF", "^aAdfF", "tcp", False),  # flipped: the SYN was missed
        ("SHR", "^h", "tcp", False),
        ("RSTRH", "^hr", "tcp", False),
        ("SF", "", "tcp", True),  # no history logged: the state decides
        ("SF", "Dd", "udp", True),  # no handshake in UDP
    ],
)
def test_start_seen(state, history, proto, seen):
    assert start_seen(conn(state=state, history=history, proto=proto)) is seen


@pytest.mark.parametrize(
    ("state", "history", "missed", "proto", "whole"),
    [
        ("SF", "ShADadFf", 0, "tcp", True),
        ("SF", "", 0, "tcp", True),  # no history logged: judged by the state
        ("SF", "Dd", 0, "udp", True),
        ("SF", "ShADadFf", 2181, "tcp", False),  # bytes missed
        ("S3", "ShaAcdDf", 0, "tcp", False),  # a content gap (responder)
        ("S1", "ShACad", 0, "tcp", False),  # a content gap (originator)
        ("SF", "SdAaDfF", 0, "tcp", False),  # data before the SYN-ACK was seen
        ("SF", "hSaADdcFf", 0, "tcp", False),  # starts mid-handshake
        ("OTH", "DadA", 0, "tcp", False),  # mid-stream
        ("SF", "S", 0, "tcp", True),  # nothing seen out of order (nor much at all)
        ("SF", "ShAD", 0, "tcp", True),
        ("SF", "Dd", 5, "udp", False),
    ],
)
def test_wholly_seen(state, history, missed, proto, whole):
    assert wholly_seen(conn(state=state, history=history, missed_bytes=missed, proto=proto)) is whole


@pytest.mark.parametrize(
    ("source", "destination", "whole"),
    [
        ("10.0.2.15", "10.0.2.255", True),
        ("147.32.83.55", "147.32.83.255", True),
        ("147.32.83.55", "147.32.84.255", False),
        ("10.0.2.15", "255.255.255.255", True),
        ("10.0.2.15", "239.255.255.250", True),
        ("fd00::1", "ff02::1", True),
        ("10.0.2.15", "10.0.2.2", False),
    ],
)
def test_to_whole_segment(source, destination, whole):
    assert to_whole_segment(ip_info(source), ip_info(destination)) is whole
