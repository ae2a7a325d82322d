"""Connections to or from port 0 (seed "Connections to port 0"; spec 2.11).

Port 0 is reserved and never a real service or source port: TCP or UDP
traffic using it is crafted (fingerprinting, scans, malformed packets). The
side that used port 0 is the attacker, the other side the victim; the
evidence belongs to the profile of the record (attacker SRC when the profile
is the port-0 side, else attacker DST and the profile is the victim).

Exceptions, and why:

* transports other than TCP and UDP (ICMP, IGMP, ARP, and Zeek's
  ``unknown_transport`` such as ESP or GRE): they have no ports and Zeek logs
  0 for them (spec 5.3 item 26);
* multicast destinations: discovery protocols of some devices send them with
  odd ports; the reference skips them too (spec 2.11).

Repeated: one evidence per (profile, window, attacker, victim). It is
reported at the first such connection and updated (same id) when the window
closes with the count and every uid; its threat level and confidence grow
with the count (the kind's ``Growth``) and it weighs as ``count`` evidence for
alerts, as one evidence per connection did.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Details, Direction, EvidenceKind, Ioc, IoCType, ThreatLevel
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.traffic.conn_flows import MULTICAST, ip_info, top

PORTED_PROTOCOLS = frozenset({"tcp", "udp"})


class PortZeroDetails(Details):
    connections: int
    zero_side: str  # "source" (the attacker sent from port 0) or "destination" (it was contacted on port 0)
    peer_ports: list[int]  # the non-zero ports of the other side (up to 32); [0] when both were 0
    protos: list[str]


PORT_0_CONNECTION = EvidenceKind(
    "PORT_0_CONNECTION",
    ThreatLevel.HIGH,
    confidence=0.8,
    details=PortZeroDetails,
    category="Recon.Scanning",
    summary="TCP/UDP with source or destination port 0 (crafted traffic); not other transports, not multicast; "
    "one per (attacker, victim)",
)


class PortZeroTally(Tally):
    peer_ports: set[int] = msgspec.field(default_factory=set)  # up to 64
    protos: set[str] = msgspec.field(default_factory=set)

    def note(self, peer_port: int, proto: str) -> None:
        if len(self.peer_ports) < 64:
            self.peer_ports.add(peer_port)
        self.protos.add(proto)


class PortZero(Detection[NoConfig, PortZeroTally]):
    """A TCP or UDP connection whose source or destination port is 0."""

    id = "port_zero"
    channels = ("new_flow",)
    evidence = (PORT_0_CONNECTION,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        if flow.sport and flow.dport:
            return
        proto = flow.proto.lower()
        if proto not in PORTED_PROTOCOLS:
            return
        source, destination = ip_info(flow.saddr), ip_info(flow.daddr)
        if source is None or destination is None or destination.flags & MULTICAST:
            return
        # The side using port 0 crafted the packets.
        if flow.sport == 0:
            attacker, victim, zero_side, peer_port = source, destination, "source", flow.dport
        else:
            attacker, victim, zero_side, peer_port = destination, source, "destination", flow.sport
        self.tally(msg, (attacker.canonical, victim.canonical, zero_side), update=lambda tally: tally.note(peer_port, proto))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str, str], tally: PortZeroTally) -> Finding:
        attacker, victim, zero_side = key
        owner = ip_info(profile)
        attacker_is_profile = owner is not None and owner.canonical == attacker
        attacker_dir, victim_dir = (Direction.SRC, Direction.DST) if attacker_is_profile else (Direction.DST, Direction.SRC)
        ports = top(tally.peer_ports)
        protos = sorted(tally.protos)
        where = "from port 0" if zero_side == "source" else "to port 0"
        return Finding(
            attacker=Ioc(direction=attacker_dir, ioc_type=IoCType.IP, value=attacker),
            victim=Ioc(direction=victim_dir, ioc_type=IoCType.IP, value=victim),
            details=PortZeroDetails(connections=tally.count, zero_side=zero_side, peer_ports=ports, protos=protos),
            description=(
                f"{tally.count} connection(s) {where} between {attacker} (port 0 side) and {victim} "
                f"({'/'.join(protos)}, other side's ports: {', '.join(map(str, ports))}) in this time window"
            ),
            src_port=0 if zero_side == "source" else (ports[0] if len(ports) == 1 else None),
            dst_port=0 if zero_side == "destination" else (ports[0] if len(ports) == 1 else None),
            proto=protos[0] if len(protos) == 1 else None,
        )
