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
from typing import ClassVar

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.facts import Fact, FactStore
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Learner
from flowalerts.learners.localnet import LocalNet, local_network_candidate

# Connections other logs join to by uid.
JOINED_SERVICES = ("ssh", "ssl", "http")
JOINED_PORTS = frozenset({22, 80, 443, 8080, 8443})
# A MAC/IP pair is re-announced at most this often (flow time), so the
# replicated MAC table stays fresh without one update per record.
MAC_REFRESH = 3600.0
_intern = sys.intern


# How long facts are kept, in seconds of flow time after they were last seen.
CONN_BY_UID_TTL = 7200.0
CONTACT_TTL = 2 * 3600.0
MAC_TTL = 7 * 86400.0
# Tables that grow with distinct connections / pairs are also capped (the
# oldest entry goes first), so memory stays bounded on a busy network.
# Connections by uid only serve a record that arrives after its conn record
# (the detections that join by uid also take the conn record itself when it
# comes after): a few minutes of a busy network's joinable connections.
CONN_BY_UID_MAX = 10_000
CONTACTS_MAX = 100_000


class ConnSummary(msgspec.Struct, array_like=True, gc=False):
    """The part of a conn record other logs join to by uid."""

    starttime: float
    saddr: str
    daddr: str
    sport: int
    dport: int
    proto: str
    appproto: str
    state: str
    history: str
    sbytes: int
    dbytes: int
    dur: float


class ConnSeen(Fact, tag="conn"):
    """Partition scope: the conn record of ``uid`` (for joins by uid)."""

    scope: ClassVar[str] = "partition"
    uid: str
    conn: ConnSummary


class ConnsByUid(FactStore):
    """The conn records other logs join to by uid (bounded, expiring)."""

    keeps = {ConnSeen: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._conn = self.state.table("facts.conn_by_uid", CONN_BY_UID_MAX)  # uid -> ConnSummary

    def add(self, fact: ConnSeen) -> None:
        watermark = self.state.watermark
        self._conn.set(fact.uid, fact.conn, max(fact.conn.starttime + fact.conn.dur, watermark) + CONN_BY_UID_TTL)

    def conn_of_uid(self, uid: str) -> ConnSummary | None:
        return self._conn.get(uid)


class Contact(Fact, tag="contact"):
    """Partition scope: ``profile`` contacted ``ip`` from ``ts`` until ``end``
    (the connection's end; ``ts`` when unknown or instantaneous)."""

    scope: ClassVar[str] = "partition"
    profile: str
    ip: str
    ts: float
    end: float = 0.0


class ContactSpans(FactStore):
    """When each profile contacted each IP (earliest start, latest end)."""

    keeps = {Contact: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._contacts = self.state.table("facts.contacts", CONTACTS_MAX)  # (profile, ip) -> (first ts, last ts)

    def add(self, fact: Contact) -> None:
        key = (fact.profile, fact.ip)
        known = self._contacts.get(key)
        end = max(fact.ts, fact.end)
        # (first start, last end) packed in one complex number (real, imag):
        # 32 bytes instead of 104 for a tuple of two floats, for up to
        # max_pairs entries.
        span = complex(fact.ts, end) if known is None else complex(min(known.real, fact.ts), max(known.imag, end))
        self._contacts.set(key, span, max(span.imag, self.state.watermark) + CONTACT_TTL)

    def contact_span(self, profile: str, ip: str) -> tuple[float, float] | None:
        """(first start, last end) of the contacts of ``profile`` with ``ip``, or None."""
        span = self._contacts.get((profile, ip))
        return None if span is None else (span.real, span.imag)

    def cap_contacts(self, max_pairs: int) -> None:
        """Set how many (profile, destination) pairs are remembered (0: no cap)."""
        self._contacts.max_entries = max_pairs

    def contacts_complete_since(self, earliest: float) -> bool:
        """False when the contacts table, full, evicted a contact that ended at
        or after ``earliest``: then a missing contact proves nothing (the
        caller must not decide "never contacted"). A contact's entry expires
        at least ``CONTACT_TTL`` after its end."""
        return not self._contacts.may_have_evicted(earliest + CONTACT_TTL)


class MacAddress(Fact, tag="mac"):
    mac: str
    ip: str
    ts: float


class MacTable(FactStore):
    """Which IPs each MAC address used (the earliest first), and each IP's MAC."""

    keeps = {MacAddress: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._mac_ips = self.state.table("facts.mac_ips")  # mac -> list[(first ts, ip)]
        self._ip_mac = self.state.table("facts.ip_mac")  # ip -> mac

    def add(self, fact: MacAddress) -> None:
        seen: list[tuple[float, str]] = list(self._mac_ips.get(fact.mac) or ())
        for index, (first, ip) in enumerate(seen):
            if ip == fact.ip:
                seen[index] = (min(first, fact.ts), ip)
                break
        else:
            seen.append((fact.ts, fact.ip))
        seen.sort()
        self._mac_ips.set(fact.mac, seen[:16], fact.ts + MAC_TTL)
        self._ip_mac.set(fact.ip, fact.mac, fact.ts + MAC_TTL)

    def ips_of_mac(self, mac: str) -> list[str]:
        """IPs seen with ``mac``, the earliest first."""
        return [ip for _, ip in self._mac_ips.get(mac) or ()]

    def mac_of(self, ip: str) -> str | None:
        return self._ip_mac.get(ip)


def is_joinable(flow: ConnRecord) -> bool:
    return flow.dport in JOINED_PORTS or any(name in flow.appproto for name in JOINED_SERVICES)


class ConnByUid(Learner):
    """Remembers the conn record of SSH/TLS/HTTP connections by uid."""

    id = "conn_by_uid"
    channels = ("new_flow",)
    scope = "partition"
    provides = (ConnsByUid,)

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
    provides = (ContactSpans,)

    def __init__(self, ctx, config=None) -> None:
        super().__init__(ctx, config)
        self.facts_of(ContactSpans).cap_contacts(self.config.max_pairs)

    def learn(self, msg: Message[ConnRecord]) -> Iterable[Fact] | None:
        if not msg.flow.daddr:
            return None
        flow = msg.flow
        return (Contact(profile=msg.profile, ip=flow.daddr, ts=flow.starttime, end=flow.starttime + flow.dur),)


class LayerTwo(Learner):
    """Learns the MAC table and the local network from conn records."""

    id = "layer_two"
    channels = ("new_flow",)
    provides = (MacTable, LocalNet)

    def learn(self, msg: Message[ConnRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        facts: list[Fact] = []
        if flow.starttime < self.facts_of(LocalNet).local_network_ts and flow.saddr:
            # An earlier private source than the one the network was learned from.
            network = local_network_candidate(flow.saddr, self.settings.parameters.client_ips, flow.starttime)
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
