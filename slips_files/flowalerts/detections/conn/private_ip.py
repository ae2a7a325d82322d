"""Connections between private addresses (seed "Connection to private IPs";
spec 2.30).

A host of a private network connecting to another private address:
informational context for lateral movement.

"Private" means RFC 1918 or IPv6 unique-local (fc00::/7), not Python's broad
``is_private`` (which also covers 0.0.0.0/8, 255.255.255.255, loopback,
link-local and documentation ranges: spec 5.3 item 24), so DHCP discovery
(0.0.0.0 -> 255.255.255.255) and loopback traffic are never flagged.

Exceptions (seed), and why:

* DNS (port 53, any transport): every host talks to its resolver, which is
  often the gateway or a learned DNS server;
* DHCP: UDP between ports 67 and 68 (client 68 <-> server 67, relays 67 <->
  67), address assignment, usually by the gateway. The seed exempts DHCP "to
  the gateway", which a Zeek folder does not tell; the protocol's own ports
  say it without depending on when dhcp.log's records arrive;
* DHCPv6 (546/547): the same for IPv6, where the server often answers from
  another address of the same device;
* announcements to the whole segment (issue 13, LAN chatter): multicast, or
  the x.y.z.255 broadcast of the source's /24 (on test9: NetBIOS name and
  datagram broadcasts to 10.0.2.255): no host is being connected to.

Repeated: one evidence per (profile, window, destination), reported at the
first connection and updated at window close with the count, the ports and
every uid. It stays INFO (context, never alert weight: a thousand LAN
connections are not an attack by volume).
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.traffic.conn_flows import PRIVATE, ip_info, to_whole_segment, top

DNS_PORT = 53
DHCP_PORTS = frozenset({67, 68})
DHCPV6_PORTS = frozenset({546, 547})
PORTED = frozenset({"tcp", "udp"})


class PrivateIpDetails(Details):
    connections: int
    dports: list[int]  # destination ports (up to 32; 0 for transports without ports)
    protos: list[str]


CONNECTION_TO_PRIVATE_IP = EvidenceKind(
    "CONNECTION_TO_PRIVATE_IP",
    ThreatLevel.INFO,
    confidence=1.0,
    details=PrivateIpDetails,
    category="Recon.Scanning",
    summary="a private (RFC 1918/ULA) host connecting to another; not DNS, DHCP (67<->68), DHCPv6, broadcasts; "
    "one per destination",
)


class PrivateIpTally(Tally):
    dports: set[int] = msgspec.field(default_factory=set)  # up to 64
    protos: set[str] = msgspec.field(default_factory=set)

    def note(self, dport: int, proto: str) -> None:
        if len(self.dports) < 64:
            self.dports.add(dport)
        self.protos.add(proto)


def _where(dports: list[int], protos: list[str]) -> str:
    ported = [port for port in dports if port]
    text = "/".join(protos)
    return f"{text}, ports {', '.join(map(str, ported))}" if ported else text


class ConnectionToPrivateIp(Detection[NoConfig, PrivateIpTally]):
    """A private source connecting to a private destination."""

    id = "private_ip"
    channels = ("new_flow",)
    evidence = (CONNECTION_TO_PRIVATE_IP,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        destination = ip_info(flow.daddr)
        if destination is None or not destination.flags & PRIVATE:
            return
        source = ip_info(flow.saddr)
        if source is None or not source.flags & PRIVATE or to_whole_segment(source, destination):
            return
        proto = flow.proto.lower()
        dport = flow.dport
        if proto in PORTED:
            if dport == DNS_PORT or dport in DHCPV6_PORTS:
                return
            if proto == "udp" and dport in DHCP_PORTS and flow.sport in DHCP_PORTS:
                return
        else:
            dport = 0
        self.tally(msg, destination.canonical, update=lambda tally: tally.note(dport, proto or "unknown"))

    def report_tally(self, profile: str, twid: int, key: str, tally: PrivateIpTally) -> Finding:
        dports = top(tally.dports)
        protos = sorted(tally.protos)
        return Finding(
            victim=dst_ip(key),
            details=PrivateIpDetails(connections=tally.count, dports=dports, protos=protos),
            description=(
                f"{tally.count} connection(s) from private address {profile} to private address {key} "
                f"({_where(dports, protos)}) in this time window"
            ),
            dst_port=dports[0] if len(dports) == 1 and dports[0] else None,
            proto=protos[0] if len(protos) == 1 and protos[0] in PORTED else None,
        )
