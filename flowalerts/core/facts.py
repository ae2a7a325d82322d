"""Facts learned from traffic that several detectors share.

Learner detectors (``priority = 10``) write these as records arrive, before
the detections run on the same record; detections read them. Every fact lives
in a flow-time table of the state (``flowalerts.core.state``), so it expires
with flow time and memory stays bounded on long runs.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from flowalerts.core.records import ConnRecord
    from flowalerts.core.state import State

# How long facts are kept, in seconds of flow time.
RESOLUTION_TTL = 86400.0 + 3600.0
# Kept past the later of the record's ts and the watermark (a conn.log line
# arrives when the connection ends, possibly long after its ts).
CONN_BY_UID_TTL = 900.0
# DNS-without-connection looks back at most its 30-minute wait.
CONTACT_TTL = 2700.0
LEARNED_SERVER_TTL = 7 * 86400.0
MAC_TTL = 7 * 86400.0
CNAME_MAX_DEPTH = 8


class Resolution(msgspec.Struct, kw_only=True):
    """What the DNS told us about one IP."""

    domains: list[str]
    last_ts: float
    # Clients that asked for it (bounded, most recent last).
    resolved_by: list[str]


class ConnSummary(msgspec.Struct, kw_only=True, gc=False):
    """The part of a conn record other logs join to by uid."""

    starttime: float
    saddr: str
    daddr: str
    sport: int
    dport: int
    sbytes: int
    dbytes: int
    dur: float
    state: str


_JOINED_SERVICES = ("ssh", "ssl")
_JOINED_PORTS = frozenset({22, 443})


def _joinable(flow: ConnRecord) -> bool:
    return flow.dport in _JOINED_PORTS or any(name in flow.appproto for name in _JOINED_SERVICES)


class LearnedFacts:
    """Typed access to the shared fact tables."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.resolutions = state.table("dns_resolution")  # ip -> Resolution
        self.domain_ips = state.table("domain_ips")  # domain -> list[ip]
        self.cnames = state.table("cname")  # domain -> list[domain]
        self.sni = state.table("sni")  # ip -> server name
        self.rdns = state.table("rdns")  # ip -> PTR name
        self.dns_servers = state.table("dns_servers")  # ip -> first ts
        self.dhcp_servers = state.table("dhcp_servers")  # ip -> first ts
        self.doh_servers = state.table("doh_servers")  # ip -> first ts
        self.conn_by_uid = state.table("conn_by_uid")  # uid -> ConnSummary
        self.contacts = state.table("contacts")  # (profile, ip) -> last ts
        self.mac_ips = state.table("mac_ips")  # mac -> list[ip], first first
        self.ip_mac = state.table("ip_mac")  # ip -> mac
        self.local_network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        self._in_local_cache: dict[str, bool] = {}
        self._in_local_cache_network: object = None

    # -- local network ----------------------------------------------------------
    def learn_local_network(self, source_ip: str, client_ips: list[str]) -> bool:
        """Learn the local network once (spec 2.31): the first private CIDR in
        ``client_ips``, else the /24 of the first RFC 1918 IPv4 source seen.
        Returns True when it was learned by this call."""
        if self.local_network is not None:
            return False
        for entry in client_ips:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if network.prefixlen < network.max_prefixlen and network.is_private:
                self.local_network = network
                return True
        from flowalerts.core.knowledge.ips import is_ipv4, is_rfc1918_or_ula

        if is_ipv4(source_ip) and is_rfc1918_or_ula(source_ip):
            self.local_network = ipaddress.ip_network(f"{source_ip}/24", strict=False)
            return True
        return False

    def in_local_network(self, ip: str) -> bool | None:
        """None while the local network is unknown."""
        network = self.local_network
        if network is None:
            return None
        cache = self._in_local_cache
        if self._in_local_cache_network is not network:
            cache.clear()
            self._in_local_cache_network = network
        answer = cache.get(ip)
        if answer is None:
            from flowalerts.core.knowledge.ips import parse_ip

            address = parse_ip(ip)
            answer = address is not None and address.version == network.version and address in network
            if len(cache) >= 65536:
                cache.clear()
            cache[ip] = answer
        return answer

    # -- DNS ------------------------------------------------------------------
    def record_resolution(self, client: str, query: str, ip: str, ts: float) -> None:
        res = self.resolutions.get(ip)
        if res is None:
            res = Resolution(domains=[query], last_ts=ts, resolved_by=[client])
        else:
            if query not in res.domains:
                res.domains.append(query)
                del res.domains[:-10]
            if client not in res.resolved_by:
                res.resolved_by.append(client)
                del res.resolved_by[:-20]
            res.last_ts = max(res.last_ts, ts)
        self.resolutions.set(ip, res, ts + RESOLUTION_TTL)
        ips = self.domain_ips.get(query) or []
        if ip not in ips:
            ips = [*ips[-31:], ip]
        self.domain_ips.set(query, ips, ts + RESOLUTION_TTL)

    def record_cname(self, query: str, target: str, ts: float) -> None:
        targets = self.cnames.get(query) or []
        if target not in targets:
            targets = [*targets[-7:], target]
        self.cnames.set(query, targets, ts + RESOLUTION_TTL)

    def resolution_of(self, ip: str) -> Resolution | None:
        return self.resolutions.get(ip)

    def ips_of_domain(self, domain: str) -> set[str]:
        """IPs the domain resolved to, following CNAME chains (bounded)."""
        found: set[str] = set()
        todo = [(domain, 0)]
        seen = set()
        while todo:
            name, depth = todo.pop()
            if name in seen or depth > CNAME_MAX_DEPTH:
                continue
            seen.add(name)
            found.update(self.domain_ips.get(name) or ())
            for target in self.cnames.get(name) or ():
                todo.append((target, depth + 1))
        return found

    def domains_of_ip(self, ip: str) -> list[str]:
        res = self.resolutions.get(ip)
        return list(res.domains) if res else []

    # -- servers learned from traffic ---------------------------------------
    def add_dns_server(self, ip: str, ts: float) -> bool:
        """Remember a DNS server; True the first time it is learned."""
        new = self.dns_servers.get(ip) is None
        self.dns_servers.set(ip, ts if new else self.dns_servers.get(ip), ts + LEARNED_SERVER_TTL)
        return new

    def is_dns_server(self, ip: str) -> bool:
        return self.dns_servers.get(ip) is not None

    def add_dhcp_server(self, ip: str, ts: float) -> None:
        self.dhcp_servers.set(ip, ts, ts + LEARNED_SERVER_TTL)

    def is_dhcp_server(self, ip: str) -> bool:
        return self.dhcp_servers.get(ip) is not None

    def mark_doh_server(self, ip: str, ts: float) -> None:
        self.doh_servers.set(ip, ts, ts + LEARNED_SERVER_TTL)

    def is_doh_server(self, ip: str) -> bool:
        return self.doh_servers.get(ip) is not None

    # -- names of an IP ------------------------------------------------------
    def record_sni(self, ip: str, server_name: str, ts: float) -> None:
        self.sni.set(ip, server_name, ts + RESOLUTION_TTL)

    def sni_of(self, ip: str) -> str | None:
        return self.sni.get(ip)

    def record_rdns(self, ip: str, name: str, ts: float) -> None:
        self.rdns.set(ip, name, ts + RESOLUTION_TTL)

    def rdns_of(self, ip: str) -> str | None:
        return self.rdns.get(ip)

    # -- connections ----------------------------------------------------------
    def record_conn(self, flow: ConnRecord) -> None:
        """Remember the conn record of SSH and TLS connections by uid, for the
        ssh.log and ssl.log detections that need its byte counts."""
        if not flow.uid or not _joinable(flow):
            return
        ts = flow.starttime
        self.conn_by_uid.set(
            flow.uid,
            ConnSummary(
                starttime=ts,
                saddr=flow.saddr,
                daddr=flow.daddr,
                sport=flow.sport,
                dport=flow.dport,
                sbytes=flow.sbytes,
                dbytes=flow.dbytes,
                dur=flow.dur,
                state=flow.state,
            ),
            max(ts, self.state.watermark) + CONN_BY_UID_TTL,
        )

    def conn_of_uid(self, uid: str) -> ConnSummary | None:
        return self.conn_by_uid.get(uid)

    def record_contact(self, profile: str, ip: str, ts: float) -> None:
        previous = self.contacts.get((profile, ip))
        if previous is None or ts > previous:
            self.contacts.set((profile, ip), ts, max(ts, self.state.watermark) + CONTACT_TTL)

    def last_contact(self, profile: str, ip: str) -> float | None:
        return self.contacts.get((profile, ip))

    # -- layer 2 ---------------------------------------------------------------
    def record_mac(self, mac: str, ip: str, ts: float) -> None:
        ips = self.mac_ips.get(mac) or []
        if ip not in ips:
            ips = [*ips, ip][:16]
        self.mac_ips.set(mac, ips, ts + MAC_TTL)
        self.ip_mac.set(ip, mac, ts + MAC_TTL)

    def ips_of_mac(self, mac: str) -> list[str]:
        return list(self.mac_ips.get(mac) or ())

    def other_ip_versions(self, ip: str) -> list[str]:
        """Addresses of the other IP version seen with the same MAC."""
        mac = self.ip_mac.get(ip)
        if not mac:
            return []
        version = 6 if ":" in ip else 4
        return [other for other in self.mac_ips.get(mac) or () if (6 if ":" in other else 4) != version]
