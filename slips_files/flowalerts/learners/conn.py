"""Learners of conn.log facts.

* ``conn_by_uid`` (partition): the conn record of SSH, TLS and HTTP
  connections by uid, for the ssh/ssl/http detections that need its byte
  counts or state (joined on flow time through the timer service);
* ``contacts`` (partition): when a profile contacted an IP (earliest start,
  latest end), for DNS-without-connection;
* ``layer_two`` (global): which IPs a MAC address used (devices changing IPs,
  the other IP version of a host) and the local network (the first
  private CIDR of ``parameters.client_ips``, else the RFC 1918 block of the
  IPv4 source with the earliest flow time: the same in any arrival order).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from flowalerts.core.config import SectionConfig
from flowalerts.core.facts import (
    CONTACTS_MAX,
    ConnSeen,
    ConnSummary,
    Contact,
    Fact,
    MacAddress,
    local_network_candidate,
)
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Learner

# Connections other logs join to by uid.
JOINED_SERVICES = ("ssh", "ssl", "http")
JOINED_PORTS = frozenset({22, 80, 443, 8080, 8443})
# A MAC/IP pair is re-announced at most this often (flow time), so the
# replicated MAC table stays fresh without one update per record.
MAC_REFRESH = 3600.0
_intern = sys.intern


def is_joinable(flow: ConnRecord) -> bool:
    return flow.dport in JOINED_PORTS or any(name in flow.appproto for name in JOINED_SERVICES)


class ConnByUid(Learner):
    """Remembers the conn record of SSH/TLS/HTTP connections by uid."""

    id = "conn_by_uid"
    channels = ("new_flow",)
    scope = "partition"

    def learn(self, msg: Message[ConnRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        if not flow.uid or not is_joinable(flow):
            return None
        return (ConnSeen(uid=flow.uid, conn=conn_summary(flow)),)


def conn_summary(flow: ConnRecord) -> ConnSummary:
    """The joinable part of a conn record. Kept for up to CONN_BY_UID_MAX
    connections: the short strings from small vocabularies are shared
    (interned), not one copy per entry."""
    return ConnSummary(
        starttime=flow.starttime, saddr=flow.saddr, daddr=flow.daddr, sport=flow.sport, dport=flow.dport,
        proto=_intern(flow.proto), appproto=_intern(flow.appproto), state=_intern(flow.state),
        history=_intern(flow.history), sbytes=flow.sbytes, dbytes=flow.dbytes, dur=flow.dur,
    )


class ContactsConfig(SectionConfig):
    # Distinct (profile, destination) pairs remembered (about 330 bytes each;
    # 0: no cap, bounded by flow time only). When the cap forgets pairs still
    # needed, DNS-without-connection abstains for those queries (counted as
    # "not decided" in the summary) rather than guess.
    max_pairs: int = CONTACTS_MAX


class Contacts(Learner[ContactsConfig]):
    """Remembers when each profile contacted each destination."""

    id = "contacts"
    channels = ("new_flow",)
    scope = "partition"

    def __init__(self, ctx, config=None) -> None:
        super().__init__(ctx, config)
        ctx.facts.cap_contacts(self.config.max_pairs)

    def learn(self, msg: Message[ConnRecord]) -> Iterable[Fact] | None:
        if not msg.flow.daddr:
            return None
        flow = msg.flow
        return (Contact(profile=msg.profile, ip=flow.daddr, ts=flow.starttime, end=flow.starttime + flow.dur),)


class LayerTwo(Learner):
    """Learns the MAC table and the local network from conn records."""

    id = "layer_two"
    channels = ("new_flow",)

    def learn(self, msg: Message[ConnRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        facts: list[Fact] = []
        if flow.starttime < self.facts.local_network_ts and flow.saddr:
            # An earlier private source than the one the network was learned from.
            network = local_network_candidate(flow.saddr, self.ctx.config.parameters.client_ips, flow.starttime)
            if network is not None:
                facts.append(network)
        if flow.smac and flow.saddr:
            mac = flow.smac.lower()
            ip = canonical_ip(flow.saddr)
            if ip is not None:
                announced = self.table("announced")
                last = announced.get((mac, ip))
                ts = flow.starttime
                if last is None or ts < last[0] or ts >= last[1] + MAC_REFRESH:
                    first = ts if last is None else min(last[0], ts)
                    announced.set((mac, ip), (first, ts), ts + MAC_REFRESH * 2)
                    facts.append(MacAddress(mac=mac, ip=ip, ts=ts))
        return facts
