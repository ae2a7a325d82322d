"""Private addresses outside the local network, conn.log path (seed
"Connection to private IPs outside the current local network"; spec 2.31).

The local network comes from the learners (``layer_two``, ``dns_facts``):
the first private CIDR of ``parameters.client_ips`` (a configured host: its
RFC 1918 block), else the RFC 1918 block (10/8, 172.16/12, 192.168/16) of the
private IPv4 source with the earliest flow time
(``flowalerts.learners.localnet.local_network_candidate``: a real network's
private space is rarely one /24). A private IPv4 endpoint
outside it is either forged or a route the network should not have:

* a private *source* outside it: LOW (unlikely, probably spoofed), owned by
  that source's profile, victim the destination;
* a private *destination* outside it: HIGH, owned by the destination's
  profile (it is the odd host), victim the source.

Only IPv4 flows whose two ends are unicast hosts (not 0.0.0.0,
255.255.255.255, loopback or multicast), and where both ends are private or
the source is public and the destination private, are checked (as Slips).

Order: a learned local network is final once the watermark passed the record
it was learned from (no earlier record can still arrive). Until then (the
first ``allowed_lateness`` of a capture) flows are kept per (window, source,
destination, port) and judged when it is final (a flow-time timer), so the
evidence is the same in any arrival order within the allowed lateness.

The evidence kind and its details are shared with the dns.log path
(``shared/localnet.py``; ``details.log`` is "conn" here).

Exceptions, and why:

* DNS over UDP port 53: handled by the dns.log path (spec 2.32);
* learned DNS servers on port 53 (TCP DNS): a resolver outside the local
  network is a configuration, not an attack (seed);
* IPv6: an IPv4 block says nothing about IPv6 prefixes.

Repeated: one evidence per (record's profile, window, side, outside address,
other address, port, transport), reported at the first judged connection and
updated at window close with the count and every uid; threat level and
confidence grow with the count (the kind's ``Growth``, from LOW or HIGH by
side) and it weighs as ``count`` evidence for alerts (as one evidence per
connection did: a host reaching another network a hundred times keeps its
alert). The evidence belongs to the outside address's profile, and so does
its id.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec

from flowalerts.core.evidence import Evidence, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.detections.shared.localnet import DIFFERENT_LOCALNET, DifferentLocalnetDetails
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.learners.conn import LayerTwo
from flowalerts.learners.dns import DnsFacts
from flowalerts.learners.localnet import LocalNet
from flowalerts.learners.servers import ServerRoles
from flowalerts.traffic.conn_flows import (
    PRIVATE,
    UNICAST_V4,
    IpInfo,
    ip_info,
)

DNS_PORT = 53
SETTLE = "settle"  # the timer key
# (side, outside address, other address, port, transport)
SideKey = tuple[str, str, str, int, str]
MAX_PENDING = 100_000  # (window, source, destination, port) entries waiting
PENDING_SECONDS = 7 * 86400.0  # how long they may wait for a local network


class Pending(msgspec.Struct, gc=False):
    """Flows of one (window, source, destination, port) waiting for the local network."""

    msg: Message[ConnRecord]  # the first one (its profile and window)
    tally: Tally


def _merge(tally: Tally, counted: Tally, first_uid: str) -> None:
    """``tally`` just counted ``counted``'s first flow (``first_uid``): add the others."""
    tally.count += counted.count - 1
    rest = counted.uids[1:] if counted.uids and counted.uids[0] == first_uid else counted.uids
    tally.uids.extend(rest[: max(0, Evidence.MAX_UIDS - len(tally.uids))])
    tally.first_ts = min(tally.first_ts, counted.first_ts)
    tally.last_ts = max(tally.last_ts, counted.last_ts)


class DifferentLocalnet(Detection[NoConfig]):
    """A private IPv4 endpoint that is not in the learned local network."""

    id = "different_localnet"
    channels = ("new_flow",)
    evidence = (DIFFERENT_LOCALNET,)
    needs = (LayerTwo, DnsFacts)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        dport = flow.dport
        proto = flow.proto.lower()
        if dport == DNS_PORT and proto == "udp":
            return
        # Cheapest tests first: most flows go to public destinations.
        destination = ip_info(flow.daddr)
        if destination is None or not destination.flags & PRIVATE or not destination.flags & UNICAST_V4:
            return
        source = ip_info(flow.saddr)
        if source is None or not source.flags & UNICAST_V4:
            return
        localnet = self.facts_of(LocalNet)
        if localnet.local_network is not None and self.watermark >= localnet.local_network_ts:
            waiting = self.pending(SETTLE)
            if waiting is not None and waiting != localnet.local_network_ts:
                # Flows still wait for a network learned from dns.log: judge them next.
                self.schedule(SETTLE, localnet.local_network_ts, localnet.local_network_ts)
            self._judge(msg, source, destination, None)
            return
        # The local network is not final yet: keep the flow for the settle timer.
        self.window(msg)  # (its window dict exists while the window is open)
        key = (msg.profile, msg.twid, source.canonical, destination.canonical, dport, proto)
        table = self.table("pending", MAX_PENDING)
        entry = table.get(key)
        if entry is None:
            entry = Pending(msg=msg, tally=Tally())
        entry.tally.add(flow.uid, flow.starttime)
        table.set(key, entry, flow.starttime + PENDING_SECONDS)
        due = localnet.local_network_ts if localnet.local_network is not None else math.inf
        if self.pending(SETTLE) != due:
            self.schedule(SETTLE, due, due)

    def on_timer(self, key: object, payload: object) -> None:
        # The local network is final (or the input ended): judge what waited.
        localnet = self.facts_of(LocalNet)
        table = self.table("pending", MAX_PENDING)
        for pending_key, entry in sorted(table.items(), key=lambda item: item[0]):
            table.delete(pending_key)
            profile, twid, source, destination, _, _ = pending_key
            source_info, destination_info = ip_info(source), ip_info(destination)
            if localnet.local_network is None or source_info is None or destination_info is None:
                continue
            counted = entry.tally
            if self.window_of(profile, twid) is not None:
                # Its window is still open: join (or start) the window's tallies.
                first_uid = entry.msg.flow.uid
                self._judge(entry.msg, source_info, destination_info,
                            lambda tally, counted=counted, first_uid=first_uid: _merge(tally, counted, first_uid))
                continue
            # Its window already closed: the flows that waited are an evidence of their own.
            for side_key in self._outside(entry.msg, source_info, destination_info):
                self._report_tally(profile, twid, side_key, counted)

    def _judge(self, msg: Message[ConnRecord], source: IpInfo, destination: IpInfo,
               update: Callable[[Tally], None] | None) -> None:
        for side_key in self._outside(msg, source, destination):
            self.tally(msg, side_key, update=update)

    def _outside(self, msg: Message[ConnRecord], source: IpInfo, destination: IpInfo) -> list[SideKey]:
        """The (side, outside address, other address, port, transport) keys of the flow."""
        localnet = self.facts_of(LocalNet)
        flow = msg.flow
        dport, proto = flow.dport, flow.proto.lower() or "unknown"
        found: list[SideKey] = []
        for side, end, other in (("src", source, destination), ("dst", destination, source)):
            if not end.flags & PRIVATE or localnet.in_local_network(end.canonical):
                continue
            if dport == DNS_PORT and self.facts_of(ServerRoles).is_dns_server(end.canonical):
                continue
            found.append((side, end.canonical, other.canonical, dport, proto))
        return found

    def report_tally(self, profile: str, twid: int, key: SideKey, tally: Tally) -> Finding:
        side, outside, other, dport, proto = key
        network = str(self.facts_of(LocalNet).local_network)
        if side == "src":
            attacker, victim = src_ip(outside), dst_ip(other)
            text = f"from private address {outside}, outside the local network {network}, to {other}"
        else:
            attacker, victim = dst_ip(outside), src_ip(other)
            text = f"from {other} to private address {outside}, outside the local network {network}"
        return Finding(
            profile=outside,
            attacker=attacker,
            victim=victim,
            level=ThreatLevel.LOW if side == "src" else ThreatLevel.HIGH,
            details=DifferentLocalnetDetails(side=side, address=outside, local_network=network, dport=dport,
                                             proto=proto, log="conn"),
            description=f"{tally.count} connection(s) {text}, port {dport}/{proto}, in this time window",
            dst_port=dport,
            proto=proto,
        )
