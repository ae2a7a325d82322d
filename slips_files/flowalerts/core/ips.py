"""IP address classification, cached (the same addresses recur constantly).

Python's ``is_private`` is broader than RFC 1918 (it covers 0.0.0.0/8,
127/8, 169.254/16, TEST-NETs ...). Detections that speak of "private" networks
use ``is_rfc1918_or_ula`` instead, as the spec recommends (5.3 item 24).
"""

from __future__ import annotations

import functools
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_RFC1918 = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
)
_ULA = ipaddress.ip_network("fc00::/7")


@functools.lru_cache(maxsize=65536)
def parse_ip(text: str) -> IPAddress | None:
    """The address, or None if ``text`` is not an IP.

    An IPv4-mapped IPv6 address (``::ffff:10.0.2.15``) is the IPv4 address it
    carries: it is the same host, and private/public tests must see it so.
    """
    try:
        ip = ipaddress.ip_address(text)
    except (ValueError, TypeError):
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@functools.lru_cache(maxsize=65536)
def canonical_ip(text: str) -> str | None:
    """The canonical text form of an IP (``parse_ip``), or None."""
    ip = parse_ip(text)
    return None if ip is None else str(ip)


def is_ip(text: str) -> bool:
    return parse_ip(text) is not None


@functools.lru_cache(maxsize=65536)
def is_ignored_ip(text: str) -> bool:
    """Not parseable, multicast, private, link-local, loopback or reserved.

    These destinations never need a DNS resolution (spec 2.3).
    """
    ip = parse_ip(text)
    if ip is None:
        return True
    return ip.is_multicast or ip.is_private or ip.is_link_local or ip.is_loopback or ip.is_reserved


@functools.lru_cache(maxsize=65536)
def is_rfc1918_or_ula(text: str) -> bool:
    """RFC 1918 IPv4 or IPv6 unique-local: the "private networks" proper."""
    ip = parse_ip(text)
    if ip is None:
        return False
    if ip.version == 4:
        return any(ip in net for net in _RFC1918)
    return ip in _ULA


@functools.lru_cache(maxsize=65536)
def is_unicast_ipv4(text: str) -> bool:
    """An IPv4 address that is none of 0.0.0.0, 255.255.255.255, loopback or
    multicast: one that can stand for a host on a network."""
    ip = parse_ip(text)
    return (
        ip is not None
        and ip.version == 4
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_multicast
        and int(ip) != 0xFFFFFFFF
    )


def is_multicast(text: str) -> bool:
    ip = parse_ip(text)
    return ip is not None and ip.is_multicast


def is_private(text: str) -> bool:
    """Python's broad definition (kept for the spec's REF comparisons)."""
    ip = parse_ip(text)
    return ip is not None and ip.is_private


def is_ipv4(text: str) -> bool:
    ip = parse_ip(text)
    return ip is not None and ip.version == 4


def is_ipv6(text: str) -> bool:
    ip = parse_ip(text)
    return ip is not None and ip.version == 6
