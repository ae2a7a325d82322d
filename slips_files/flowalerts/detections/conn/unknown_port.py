"""Connections to unknown destination ports (seed "Connection to unknown
ports"; spec 2.5).

A connection to a destination port that no known service uses: backdoors and
C2 often listen on arbitrary ports. A port is known when:

* services.csv lists it for the transport;
* ports_used_by_specific_orgs.csv lists it for an organisation the
  destination belongs to: inside the row's network, or (row without network)
  the destination IP, its TLS SNI, rDNS or any name it was resolved from
  belongs to that organisation (the reference accepted any host for rows
  without a network: spec 5.3 item 21);
* the destination is a host of the local network and device_ports.csv lists
  the port: service ports of common home and office devices (Google Cast
  8008/8009/8443, AirPlay 7000/7100, Spotify Connect 57621, Sonos 1400,
  printers 9100/631/515, DIAL ...) are devices doing their job (issue 13).

Level: HIGH when the connection was established, MEDIUM otherwise (seed).
"Established" is a TCP handshake Zeek saw (issue 21: a UDP request and its
answer, which Zeek calls SF, established nothing - ESET's 53535/udp lookups
were HIGH): a connection whose capture started
mid-stream (``conn_state`` OTH, or a TCP history without an originator SYN
``S``) was never seen being set up, so it gets the not-established level
(issue 13).

Exceptions, and why:

* ICMP, and port 0 (its own detection);
* LAN chatter (issue 13): UDP between two hosts of the local network
  (RFC 1918, ULA or link-local) where both ports are dynamic (49152-65535):
  two clients' ephemeral sockets (media streaming, game and casting sessions)
  have no "service" port at all;
* replies of the local network's discovery protocols (issue 13): UDP between
  two local hosts *from* SSDP 1900, mDNS 5353, WS-Discovery 3702, LLMNR 5355
  or NetBIOS 137/138: the destination port is the querier's ephemeral port;
* announcements to the whole segment (issue 13, LAN chatter): multicast, the
  limited broadcast 255.255.255.255, or the x.y.z.255 broadcast of the
  source's own /24. No host is being connected to; on test10 these are
  Dropbox LAN sync (17500), Syncthing (21027) and MikroTik neighbour
  discovery (5678) broadcasts from a university network (public addresses);
* peer-to-peer (the reference's heuristic, counted per profile and window
  instead of globally and forever: spec 5.2 item 22): UDP to ports above
  30000 when the window has such flows to 5 or more destinations, or 6 or
  more to one destination. Because this is a property of the whole window,
  those candidates are decided (and reported) when the window closes
  (``recount``), so the result does not depend on the order the flows
  arrive in.

* port scanners (spec 2.5): attempts (no connection established) of a host
  Zeek reported scanning (notice.log ``Scan::Port_Scan``/``Address_Scan``,
  the ``notice_facts`` learner) between a window before the attempts and
  ``scan_wait`` (300 s, Zeek's scan interval) after them: the scan evidence
  covers them. Because the notice comes after the scan started, a tally of
  attempts only is reported when its window closes (``hold_tally``), once
  every such notice has arrived; a connection established with a handshake
  is reported at once, scanner or not (an open unknown port is a finding).

Not applied (no source for them in a Zeek folder): the reference's MAC
vendor rule and learned FTP data ports.

Repeated: one evidence per (profile, window, destination, port, transport),
reported at the first established connection (attempts only: at window
close, see port scanners) and updated at window close with the count and
every uid; HIGH if any of its connections was established (with a
handshake). Threat level and confidence grow with the count (the kind's
``Growth``, from HIGH or MEDIUM) and it weighs as ``count`` evidence for
alerts.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.learners.dns import DnsFacts, DnsNames
from flowalerts.learners.notice import NoticeFacts, PortScanners
from flowalerts.learners.tls import ServerNames, TlsFacts
from flowalerts.traffic.conn_flows import (
    DISCOVERY_PORTS,
    DYNAMIC_PORTS_START,
    LAN,
    IpInfo,
    ip_info,
    start_seen,
    to_whole_segment,
)

# (destination IP, port, transport)
PortKey = tuple[str, int, str]


class UnknownPortConfig(SectionConfig):
    scan_wait: float = 300.0  # a port-scan notice this long after the attempts still suppresses them
    p2p_min_port: int = 30000  # UDP destination ports above this may be peer-to-peer
    p2p_destinations: int = 5  # this many such destinations in a window: peer-to-peer
    p2p_flows_to_one: int = 6  # this many such flows to one destination: peer-to-peer


class UnknownPortDetails(Details):
    dport: int
    proto: str
    connections: int
    established: int  # connections established with a handshake Zeek saw


UNKNOWN_PORT = EvidenceKind(
    "UNKNOWN_PORT",
    ThreatLevel.HIGH,  # established (handshake seen); MEDIUM otherwise
    confidence=1.0,
    details=UnknownPortDetails,
    category="Other.Uncategorized",
    summary="a connection to a port no known service, org or LAN device uses; HIGH if established with a "
    "TCP handshake, else MEDIUM; not LAN UDP chatter, discovery replies, broadcasts, P2P; one per (IP, port, proto)",
)


class UnknownPortTally(Tally):
    established: int = 0  # connections established with a handshake Zeek saw

    def note(self, established: bool) -> None:
        if established:
            self.established += 1


@dataclasses.dataclass(slots=True)  # one per (profile, window): no __dict__
class PeerToPeer:
    """A (profile, window)'s UDP to high ports: candidates until the window closes."""

    per_destination: dict[str, int] = dataclasses.field(default_factory=dict)  # flows by destination
    candidates: dict[PortKey, UnknownPortTally] = dataclasses.field(default_factory=dict)
    is_p2p: bool = False  # the window's high-UDP traffic is peer-to-peer: nothing of it is reported


class UnknownPort(Detection[UnknownPortConfig, UnknownPortTally]):
    """A connection to a destination port no known service, org or device uses."""

    id = "unknown_port"
    channels = ("new_flow",)
    evidence = (UNKNOWN_PORT,)
    needs = (DnsFacts, TlsFacts, NoticeFacts)

    def window_close_delay(self) -> float:
        return self.config.scan_wait

    def hold_tally(self, key: PortKey, tally: UnknownPortTally) -> bool:
        # Attempts only: a port-scan notice may still come (reported at window close).
        return not tally.established

    def _scanner(self, profile: str, tally: Tally) -> bool:
        """Zeek reported ``profile`` scanning around these attempts."""
        owner = ip_info(profile)
        span = self.facts_of(PortScanners).port_scan_span(owner.canonical) if owner is not None else None
        if span is None:
            return False
        return span[0] <= tally.last_ts + self.config.scan_wait and span[1] >= tally.first_ts - self.ctx.config.parameters.width

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        dport = flow.dport
        if not dport:
            return
        proto = flow.proto
        if proto != "tcp" and proto != "udp":
            proto = proto.lower()
            if not proto or "icmp" in proto:
                return
        ports = self.knowledge.ports
        if ports.is_known(dport, proto):
            return
        destination, source = ip_info(flow.daddr), ip_info(flow.saddr)
        if destination is None or source is None:
            return
        if destination.flags & LAN:
            if ports.device_service(dport, proto):
                return
            if proto == "udp" and source.flags & LAN:
                sport = flow.sport
                if sport >= DYNAMIC_PORTS_START and dport >= DYNAMIC_PORTS_START:
                    return
                if sport in DISCOVERY_PORTS:
                    return
        if to_whole_segment(source, destination) or self._org_port(destination, dport, proto):
            return
        # "Established" is a TCP handshake: a UDP request and its answer (Zeek's SF) establish nothing.
        established = proto == "tcp" and flow.is_established and start_seen(flow)
        key = (destination.canonical, dport, proto)
        if proto == "udp" and dport > self.config.p2p_min_port:
            self._p2p_candidate(msg, key, established)
            return
        self.tally(msg, key, update=lambda tally: tally.note(established))

    # -- peer-to-peer: decided when the window closes -------------------------------
    def _p2p_candidate(self, msg: Message[ConnRecord], key: PortKey, established: bool) -> None:
        p2p = self.window(msg, PeerToPeer)
        if p2p.is_p2p:
            return  # the whole window's high-UDP traffic is peer-to-peer
        per_destination = p2p.per_destination
        daddr = key[0]
        per_destination[daddr] = per_destination.get(daddr, 0) + 1
        if len(per_destination) >= self.config.p2p_destinations:
            # From now on nothing of this kind can be reported: keep nothing.
            p2p.per_destination, p2p.candidates, p2p.is_p2p = {}, {}, True
            return
        tally = p2p.candidates.get(key)
        if tally is None:
            tally = p2p.candidates[key] = UnknownPortTally()
        tally.add(msg.flow.uid, msg.flow.starttime)
        tally.note(established)

    def recount(self, profile: str, twid: int) -> None:
        """Window close: the high-UDP candidates of a window that was not
        peer-to-peer become tallies (reported with the window's others)."""
        p2p = self.window_of(profile, twid, PeerToPeer)
        if p2p is None or p2p.is_p2p:
            return
        per_destination = p2p.per_destination
        for key, candidate in sorted(p2p.candidates.items()):
            if per_destination.get(key[0], 0) >= self.config.p2p_flows_to_one:
                continue
            tally = self.set_tally(profile, twid, key, count=candidate.count, uids=candidate.uids,
                                   first_ts=candidate.first_ts, last_ts=candidate.last_ts)
            if tally is not None:
                tally.established = candidate.established

    # -- organisations ---------------------------------------------------------------
    def _org_port(self, destination: IpInfo, dport: int, proto: str) -> bool:
        rows = self.knowledge.ports.org_ports(dport, proto)
        if not rows:
            return False
        ip = destination.canonical
        address = ipaddress.ip_address(ip) if any(row.network is not None for row in rows) else None
        orgs = self.knowledge.orgs
        names: list[str] | None = None
        for row in rows:
            if row.network is not None:
                if address is not None and address.version == row.network.version and address in row.network:
                    return True
                continue
            if orgs.ip_in_org(ip, row.org):
                return True
            if names is None:
                names = self._names_of(ip)
            if any(orgs.domain_in_org(name, row.org) for name in names):
                return True
        return False

    def _names_of(self, ip: str) -> list[str]:
        """The TLS SNI, rDNS and resolved names the traffic taught for ``ip``."""
        dns = self.facts_of(DnsNames)
        names = [name for name in (self.facts_of(ServerNames).sni_of(ip), dns.ptr_of(ip)) if name]
        return names + dns.domains_of_ip(ip)

    def report_tally(self, profile: str, twid: int, key: PortKey, tally: UnknownPortTally) -> Finding | None:
        daddr, dport, proto = key
        established = tally.established
        if not established and self._scanner(profile, tally):
            return None  # the port scan's own evidence covers these attempts
        return Finding(
            victim=dst_ip(daddr),
            level=ThreatLevel.HIGH if established else ThreatLevel.MEDIUM,
            details=UnknownPortDetails(dport=dport, proto=proto, connections=tally.count, established=established),
            description=(
                f"{tally.count} connection(s) from {profile} to unknown destination port {dport}/{proto} on "
                f"{daddr} in this time window ({established} of them established)"
            ),
            dst_port=dport,
            proto=proto,
        )
