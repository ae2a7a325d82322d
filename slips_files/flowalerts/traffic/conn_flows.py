"""Helpers shared by the conn.log detections.

* ``ip_info(text)``: everything the conn detections ask about an address
  (canonical form, version, private / LAN / multicast / ... flags), computed
  once per distinct address and kept in one bounded cache, so a record's
  addresses are parsed at most once whatever the number of detections;
* ``start_seen(flow)``: whether Zeek saw the connection start (issue 13:
  "established" and "no SSL" need a handshake Zeek saw, "no DNS" a
  connection that began inside the capture);
* ``wholly_seen(flow)``: whether Zeek saw the whole TCP conversation, its
  handshake in order and every byte (issue 21: "no TLS" needs it);
* ``ssl_service(appproto)``: Zeek found TLS on the connection.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import functools
import ipaddress

import msgspec

from flowalerts.core.ips import parse_ip
from flowalerts.core.records import ConnRecord

# -- addresses ------------------------------------------------------------------------

PRIVATE = 1  # RFC 1918 or IPv6 unique-local (fc00::/7): the "private networks" proper
LAN = 2  # PRIVATE or link-local (169.254/16, fe80::/10): hosts of the local network
MULTICAST = 4
LINK_LOCAL = 8
NO_DNS_NEEDED = 16  # multicast, private (Python's broad sense), link-local, loopback, reserved
UPLOAD_IGNORED = 32  # multicast, link-local, reserved, unspecified
UNICAST_V4 = 64  # IPv4, not 0.0.0.0, 255.255.255.255, loopback or multicast
LOOPBACK = 128
BROADCAST = 256  # 255.255.255.255

_RFC1918 = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
)
_ULA = ipaddress.ip_network("fc00::/7")
_BROADCAST = ipaddress.ip_address("255.255.255.255")


class IpInfo(msgspec.Struct, frozen=True, gc=False):
    """What the conn detections need to know about one address."""

    canonical: str
    version: int
    flags: int

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


@functools.lru_cache(maxsize=65536)
def ip_info(text: str) -> IpInfo | None:
    """The address's canonical form and flags, or None if ``text`` is not an IP."""
    ip = parse_ip(text)
    if ip is None:
        return None
    flags = 0
    if (ip.version == 4 and any(ip in net for net in _RFC1918)) or (ip.version == 6 and ip in _ULA):
        flags |= PRIVATE | LAN
    if ip.is_link_local:
        flags |= LAN | LINK_LOCAL
    if ip.is_multicast:
        flags |= MULTICAST
    if ip.is_loopback:
        flags |= LOOPBACK
    if ip.is_multicast or ip.is_private or ip.is_link_local or ip.is_loopback or ip.is_reserved:
        flags |= NO_DNS_NEEDED
    if ip.is_multicast or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
        flags |= UPLOAD_IGNORED
    if ip.version == 4 and not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip == _BROADCAST):
        flags |= UNICAST_V4
    if ip == _BROADCAST:
        flags |= BROADCAST
    return IpInfo(canonical=str(ip), version=ip.version, flags=flags)


# -- ports ------------------------------------------------------------------------------

# IANA's dynamic (ephemeral) range: what clients pick their source ports from.
DYNAMIC_PORTS_START = 49152

# Discovery and name-resolution protocols of the local network. A unicast
# UDP packet *from* one of these ports is a reply to a query (the querier's
# port is ephemeral): SSDP, mDNS, WS-Discovery, LLMNR, NetBIOS name and
# datagram services.
DISCOVERY_PORTS = frozenset({1900, 5353, 3702, 5355, 137, 138})


# -- connection state ---------------------------------------------------------------------


def to_whole_segment(source: IpInfo, destination: IpInfo) -> bool:
    """Sent to every host of the segment, not to one host: multicast, the
    limited broadcast 255.255.255.255, or the x.y.z.255 broadcast of the
    source's own /24 (the usual size of a LAN; a heuristic)."""
    if destination.flags & (MULTICAST | BROADCAST):
        return True
    if destination.version != 4 or source.version != 4 or not destination.canonical.endswith(".255"):
        return False
    return source.canonical.rpartition(".")[0] == destination.canonical.rpartition(".")[0]


# Zeek states that say it saw the originator's SYN (an attempt), and states
# that say it never did (the capture started mid-stream).
ATTEMPT_STATES = frozenset({"S0", "REJ", "SH", "RSTOS0"})
MIDSTREAM_STATES = frozenset({"OTH", "SHR", "RSTRH"})


def start_seen(flow: ConnRecord) -> bool:
    """Zeek saw the connection start (the originator's SYN for TCP).

    Not when ``conn_state`` says it never did (OTH: midstream traffic; SHR,
    RSTRH: only the responder's SYN-ACK), nor for TCP whose ``history`` has
    no originator SYN (``S``) and whose state is not an attempt Zeek saw
    (S0, REJ, SH, RSTOS0): e.g. ``DTaT``, ``Aa`` or a flipped ``^aAdfF``, which
    Zeek may still call S1 or SF. Such a connection began before the capture
    (issue 13): Zeek saw neither its handshake nor what preceded it (its DNS
    answer, its TLS handshake). UDP has no handshake; a flow without a
    ``history`` (other sensors) is judged by its state alone.
    """
    state = flow.state
    if state in MIDSTREAM_STATES:
        return False
    history = flow.history
    if history and flow.proto.lower() == "tcp":
        return "S" in history or state in ATTEMPT_STATES
    return True


def wholly_seen(flow: ConnRecord) -> bool:
    """Zeek saw the whole TCP conversation, so its protocol analyzers had a
    fair chance: the connection start (``start_seen``), the handshake before
    any payload, and every byte.

    Not when the capture lost packets, which the ``history`` and
    ``missed_bytes`` show: payload (``D``/``d``) before the responder's
    SYN-ACK (``h``) was seen, or with no SYN-ACK at all (``SdAaDfF``,
    ``SADdafF``: Zeek's ``data_before_established``); the SYN-ACK before the
    SYN (``hSaADdcFf``: it starts mid-handshake); a content gap (``C``/``c``);
    bytes Zeek says it missed. Zeek could not follow the stream from its
    start there, so "Zeek found no TLS" is not "no TLS" (issue 21: all 20
    non-TLS-on-443 evidence on the CTU-Normal-44 Windows host's benign
    traffic were such connections). UDP, and flows without a history (other
    sensors), are judged by ``start_seen`` and ``missed_bytes`` alone.
    """
    if not start_seen(flow) or flow.missed_bytes > 0:
        return False
    history = flow.history
    if not history or flow.proto.lower() != "tcp":
        return True
    if "C" in history or "c" in history:
        return False
    synack = history.find("h")
    syn = history.find("S")
    if 0 <= synack < syn:
        return False
    payload = min((index for index in (history.find("D"), history.find("d")) if index >= 0), default=-1)
    return payload < 0 or 0 <= synack < payload


def ssl_service(appproto: str) -> bool:
    """Zeek's ``service`` names TLS (alone or in a composite such as ``ssl,http``)."""
    if not appproto:
        return False
    lowered = appproto.lower()
    return "ssl" in lowered.split(",") or "tls" in lowered.split(",")


# -- repeated events ------------------------------------------------------------------------


def top(values: set[int] | list[int], limit: int = 32) -> list[int]:
    """The ``limit`` smallest values, sorted (bounded lists in details)."""
    return sorted(values)[:limit]
