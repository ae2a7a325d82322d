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
confidence grow with the count (``scale_with_count``) and it weighs as
``count`` evidence for alerts (as one evidence per connection did: a host
reaching another network a hundred times keeps its alert).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from flowalerts.core.evidence import Evidence, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.detections.shared.localnet import DIFFERENT_LOCALNET, DifferentLocalnetDetails
from flowalerts.engine.detection import Detection, Tally
from flowalerts.learners.conn import LayerTwo
from flowalerts.learners.dns import DnsFacts
from flowalerts.traffic.conn_flows import (
    PRIVATE,
    UNICAST_V4,
    IpInfo,
    ip_info,
    repeat_level,
)

DNS_PORT = 53
SETTLE = "settle"  # the timer key
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


class DifferentLocalnet(Detection):
    """A private IPv4 endpoint that is not in the learned local network."""

    id = "different_localnet"
    channels = ("new_flow",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
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
        facts = self.facts
        if facts.local_network is not None and self.watermark >= facts.local_network_ts:
            waiting = self.pending(SETTLE)
            if waiting is not None and waiting != facts.local_network_ts:
                # Flows still wait for a network learned from dns.log: judge them next.
                self.schedule(SETTLE, facts.local_network_ts, facts.local_network_ts)
            self._judge(msg, source, destination, None)
            return
        if msg.late:
            self.ctx.late_window_use(self.id)
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
        due = facts.local_network_ts if facts.local_network is not None else math.inf
        if self.pending(SETTLE) != due:
            self.schedule(SETTLE, due, due)

    def on_timer(self, key: object, payload: object) -> None:
        # The local network is final (or the input ended): judge what waited.
        facts = self.facts
        table = self.table("pending", MAX_PENDING)
        for pending_key, entry in sorted(table.items(), key=lambda item: item[0]):
            table.delete(pending_key)
            if facts.local_network is None:
                continue
            profile, twid, source, destination, _, _ = pending_key
            counted = entry.tally
            if self.window_of(profile, twid) is not None:
                # Its window is still open: join (or start) the window's tallies.
                first_uid = entry.msg.flow.uid
                self._judge(entry.msg, ip_info(source), ip_info(destination),
                            lambda tally, counted=counted, first_uid=first_uid: _merge(tally, counted, first_uid))
                continue
            for side_key in self._outside(entry.msg, ip_info(source), ip_info(destination)):
                counted.uids.sort()
                self.report_tally(profile, twid, side_key, counted)

    def _judge(self, msg: Message[ConnRecord], source: IpInfo, destination: IpInfo, update) -> None:
        for side_key in self._outside(msg, source, destination):
            self.tally(msg, side_key, 1, update=update)

    def _outside(self, msg: Message[ConnRecord], source: IpInfo, destination: IpInfo) -> list[tuple[Any, ...]]:
        """The (side, outside address, other address, port, transport) keys of the flow."""
        facts = self.facts
        flow = msg.flow
        dport, proto = flow.dport, flow.proto.lower() or "unknown"
        found = []
        for side, end, other in (("src", source, destination), ("dst", destination, source)):
            if not end.flags & PRIVATE or facts.in_local_network(end.canonical):
                continue
            if dport == DNS_PORT and facts.is_dns_server(end.canonical):
                continue
            found.append((side, end.canonical, other.canonical, dport, proto))
        return found

    def report_tally(self, profile: str, twid: int, key: tuple[Any, ...], tally: Tally) -> None:
        side, outside, other, dport, proto = key
        base = ThreatLevel.LOW if side == "src" else ThreatLevel.HIGH
        level, confidence = repeat_level(DIFFERENT_LOCALNET, tally.count, base=base)
        network = str(self.facts.local_network)
        if side == "src":
            attacker, victim = src_ip(outside), dst_ip(other)
            text = f"from private address {outside}, outside the local network {network}, to {other}"
        else:
            attacker, victim = dst_ip(outside), src_ip(other)
            text = f"from {other} to private address {outside}, outside the local network {network}"
        self.report(
            DIFFERENT_LOCALNET,
            profile=outside,
            twid=twid,
            ts=tally.first_ts,
            attacker=attacker,
            victim=victim,
            uids=tally.uids,
            threat_level=level,
            confidence=confidence,
            details=DifferentLocalnetDetails(side=side, address=outside, local_network=network, dport=dport,
                                             proto=proto, log="conn"),
            description=f"{tally.count} connection(s) {text}, port {dport}/{proto}, in this time window",
            dst_port=dport,
            proto=proto,
            count=tally.count,
            occurrences=tally.count,
            evidence_id=self.tally_id(DIFFERENT_LOCALNET, profile, twid, key),
        )
