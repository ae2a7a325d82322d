"""Facts learned from traffic that detections share.

Learners turn records into typed ``Fact`` updates; ``Facts.apply`` stores
them; detections only read. Facts come in two scopes:

* **global** facts (DNS resolutions and CNAMEs, PTR names, SNI, DNS / DHCP /
  DoH servers, the MAC table, the local network, certificates from x509.log,
  port scanners reported by Zeek) concern every profile. With
  several workers they are computed once, by the producer, and replicated
  into every partition in stream order, so every worker sees the same facts
  at the same point of the stream as a single process would.
* **partition** facts (a conn record by uid, the last contact of a profile
  with an IP) concern the profile that owns the record, which always lives in
  the same partition.

Every fact lives in a flow-time table of the state, so it expires with flow
time and memory stays bounded on long runs. Where the order of records
matters (several answers for one IP, several contacts), the stores keep the
earliest and latest times, so the answer does not depend on arrival order.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
from typing import TYPE_CHECKING, ClassVar, Literal

import msgspec

from flowalerts.core.ips import canonical_ip, is_ipv4, is_rfc1918_or_ula, parse_ip

if TYPE_CHECKING:
    from flowalerts.core.state import State

# How long facts are kept, in seconds of flow time after they were last seen.
RESOLUTION_TTL = 86400.0 + 3600.0
CONN_BY_UID_TTL = 7200.0
CONTACT_TTL = 2 * 3600.0
LEARNED_SERVER_TTL = 7 * 86400.0
MAC_TTL = 7 * 86400.0
PORT_SCANNER_TTL = 86400.0
CNAME_MAX_DEPTH = 8
# Tables that grow with distinct connections / pairs are also capped (the
# oldest entry goes first), so memory stays bounded on a busy network.
# Connections by uid only serve a record that arrives after its conn record
# (the detections that join by uid also take the conn record itself when it
# comes after): a few minutes of a busy network's joinable connections.
CONN_BY_UID_MAX = 10_000
CONTACTS_MAX = 100_000
MAX_DOMAINS_PER_IP = 10
MAX_IPS_PER_DOMAIN = 32
# Certificates (x509.log). Zeek 5+ logs a certificate only the first time it
# sees it within ``X509::relog_known_certificates_after`` (1 day by default)
# and ssl.log refers to it by fingerprint (``cert_chain_fps``), so a
# certificate is kept by fingerprint until the expiry its learner chose (at
# least that day). Older Zeek logs it once per connection under the file id
# that ssl.log's ``cert_chain_fuids`` names: those entries are only needed for
# the connection's own ssl record.
CERTIFICATE_FUID_TTL = 3600.0
MAX_CERTIFICATES = 100_000
MAX_SAN = 200


# --- fact updates (what learners produce) ------------------------------------------


class Fact(msgspec.Struct, array_like=True, tag=True, gc=False):
    """Base of every fact update. ``scope``: replicated to every partition
    ("global") or kept by the partition of the record ("partition")."""

    scope: ClassVar[str] = "global"


class Resolution(Fact, tag="res"):
    """``client`` resolved ``query`` (and its CNAME chain) to ``ips`` at ``ts``."""

    client: str
    query: str
    ips: list[str]
    cnames: list[str]
    ts: float


class PtrName(Fact, tag="ptr"):
    ip: str
    name: str
    ts: float


class ServerName(Fact, tag="sni"):
    ip: str
    name: str
    ts: float


class Server(Fact, tag="srv"):
    role: Literal["dns", "dhcp", "doh"]
    ip: str
    ts: float


class MacAddress(Fact, tag="mac"):
    mac: str
    ip: str
    ts: float


class DualStack(Fact, tag="dual"):
    """``a`` and ``b`` (one IPv4, one IPv6 address) are the same host: learned
    from traffic when no MAC pairs them (``learners.dual_stack``)."""

    a: str
    b: str
    ts: float


class LocalNetwork(Fact, tag="net"):
    """A candidate local network: from ``parameters.client_ips`` (``ts`` None,
    final at once) or from a private source seen at flow time ``ts``. The
    candidate with the earliest time wins, so the local network does not
    depend on the order records arrive in."""

    cidr: str
    ts: float | None = None


class Certificate(Fact, tag="cert"):
    """A certificate from x509.log, kept until ``expires`` (flow time).

    ``fingerprint`` (lower case; Zeek 5+) and ``fuid`` (the x509 ``id`` of
    older Zeek) are the two ways ssl.log refers to it; either may be empty.
    """

    fingerprint: str
    fuid: str
    subject: str
    issuer: str
    not_valid_before: float
    not_valid_after: float
    san_dns: list[str]
    ts: float
    expires: float


class PortScanner(Fact, tag="scanner"):
    """Zeek reported ``ip`` scanning ports (notice.log) at ``ts``."""

    ip: str
    ts: float


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


class Contact(Fact, tag="contact"):
    """Partition scope: ``profile`` contacted ``ip`` from ``ts`` until ``end``
    (the connection's end; ``ts`` when unknown or instantaneous)."""

    scope: ClassVar[str] = "partition"
    profile: str
    ip: str
    ts: float
    end: float = 0.0


GLOBAL_FACTS = (Resolution, PtrName, ServerName, Server, MacAddress, DualStack, LocalNetwork, Certificate, PortScanner)
PARTITION_FACTS = (ConnSeen, Contact)
AnyFact = (
    Resolution | PtrName | ServerName | Server | MacAddress | DualStack | LocalNetwork | Certificate | PortScanner
    | ConnSeen | Contact
)


# --- the store ----------------------------------------------------------------------


class IpNames(msgspec.Struct, gc=False):
    """What DNS told us about one IP: the names that resolved to it."""

    domains: list[str]
    first_ts: float
    last_ts: float
    clients: list[str]


class Facts:
    """Typed read access to the shared facts, and ``apply`` for learners' updates."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._ip_names = state.table("facts.ip_names")  # ip -> IpNames
        self._domain_ips = state.table("facts.domain_ips")  # domain -> list[ip]
        self._cnames = state.table("facts.cnames")  # domain -> list[domain]
        self._sni = state.table("facts.sni")  # ip -> name
        self._ptr = state.table("facts.ptr")  # ip -> name
        self._servers = state.table("facts.servers")  # (role, ip) -> first ts
        self._conn = state.table("facts.conn_by_uid", CONN_BY_UID_MAX)  # uid -> ConnSummary
        self._contacts = state.table("facts.contacts", CONTACTS_MAX)  # (profile, ip) -> (first ts, last ts)
        self._mac_ips = state.table("facts.mac_ips")  # mac -> list[(first ts, ip)]
        self._ip_mac = state.table("facts.ip_mac")  # ip -> mac
        self._dual_stack = state.table("facts.dual_stack")  # ip -> addresses of the same host, other IP version
        # ("fp", fingerprint) or ("fuid", file id) -> Certificate
        self._certificates = state.table("facts.certificates", MAX_CERTIFICATES)
        self._scanners = state.table("facts.port_scanners")  # ip -> (first ts, last ts)
        self._in_local: dict[str, bool] = {}

    @property
    def local_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The local network (kept in the state's ``values`` so a checkpoint has it)."""
        return self.state.values.get("facts.local_network")

    @property
    def local_network_ts(self) -> float:
        """Flow time of the record the local network was learned from (-inf:
        configured; +inf: none yet). It is final once the watermark passed it."""
        return self.state.values.get("facts.local_network_ts", math.inf)

    # -- updates -------------------------------------------------------------------
    def apply(self, fact: Fact) -> None:
        handler = _APPLY.get(type(fact))
        if handler is not None:
            handler(self, fact)

    def _apply_resolution(self, fact: Resolution) -> None:
        ts = fact.ts
        expires = ts + RESOLUTION_TTL
        names = [fact.query, *fact.cnames]
        for name, target in itertools.pairwise(names):
            targets = self._cnames.get(name) or []
            if target not in targets:
                targets = [*targets[-7:], target]
            self._cnames.set(name, targets, expires)
        for ip in fact.ips:
            known = self._ip_names.get(ip)
            if known is None:
                known = IpNames(domains=[], first_ts=ts, last_ts=ts, clients=[])
            for name in names:
                if name not in known.domains:
                    known.domains.append(name)
            del known.domains[:-MAX_DOMAINS_PER_IP]
            if fact.client not in known.clients:
                known.clients.append(fact.client)
                del known.clients[:-20]
            known.first_ts = min(known.first_ts, ts)
            known.last_ts = max(known.last_ts, ts)
            self._ip_names.set(ip, known, known.last_ts + RESOLUTION_TTL)
            for name in names:
                ips = self._domain_ips.get(name) or []
                if ip not in ips:
                    ips = [*ips[-(MAX_IPS_PER_DOMAIN - 1) :], ip]
                self._domain_ips.set(name, ips, expires)

    def _apply_ptr(self, fact: PtrName) -> None:
        self._ptr.set(fact.ip, fact.name, fact.ts + RESOLUTION_TTL)

    def _apply_sni(self, fact: ServerName) -> None:
        self._sni.set(fact.ip, fact.name, fact.ts + RESOLUTION_TTL)

    def _apply_server(self, fact: Server) -> None:
        key = (fact.role, fact.ip)
        first = self._servers.get(key)
        self._servers.set(key, fact.ts if first is None else min(first, fact.ts), fact.ts + LEARNED_SERVER_TTL)

    def _apply_mac(self, fact: MacAddress) -> None:
        seen = list(self._mac_ips.get(fact.mac) or ())
        for index, (first, ip) in enumerate(seen):
            if ip == fact.ip:
                seen[index] = (min(first, fact.ts), ip)
                break
        else:
            seen.append((fact.ts, fact.ip))
        seen.sort()
        self._mac_ips.set(fact.mac, seen[:16], fact.ts + MAC_TTL)
        self._ip_mac.set(fact.ip, fact.mac, fact.ts + MAC_TTL)

    def _apply_dual_stack(self, fact: DualStack) -> None:
        for ip, other in ((fact.a, fact.b), (fact.b, fact.a)):
            known = list(self._dual_stack.get(ip) or ())
            if other not in known:
                known = [*known[-7:], other]
            self._dual_stack.set(ip, known, fact.ts + MAC_TTL)

    def _apply_local_network(self, fact: LocalNetwork) -> None:
        ts = -math.inf if fact.ts is None else fact.ts
        if self.local_network is not None and self.state.watermark >= self.local_network_ts:
            return  # final: an earlier source arriving now is beyond the allowed lateness
        if self.local_network is None or ts < self.local_network_ts:
            self.state.values["facts.local_network"] = ipaddress.ip_network(fact.cidr, strict=False)
            self.state.values["facts.local_network_ts"] = ts
            self._in_local.clear()

    def _apply_certificate(self, fact: Certificate) -> None:
        if fact.fingerprint:
            self._certificates.set(("fp", fact.fingerprint), fact, fact.expires)
        if fact.fuid:
            self._certificates.set(("fuid", fact.fuid), fact, fact.ts + CERTIFICATE_FUID_TTL)

    def _apply_port_scanner(self, fact: PortScanner) -> None:
        known = self._scanners.get(fact.ip)
        span = (fact.ts, fact.ts) if known is None else (min(known[0], fact.ts), max(known[1], fact.ts))
        self._scanners.set(fact.ip, span, span[1] + PORT_SCANNER_TTL)

    def _apply_conn(self, fact: ConnSeen) -> None:
        watermark = self.state.watermark
        self._conn.set(fact.uid, fact.conn, max(fact.conn.starttime + fact.conn.dur, watermark) + CONN_BY_UID_TTL)

    def _apply_contact(self, fact: Contact) -> None:
        key = (fact.profile, fact.ip)
        known = self._contacts.get(key)
        end = max(fact.ts, fact.end)
        # (first start, last end) packed in one complex number (real, imag):
        # 32 bytes instead of 104 for a tuple of two floats, for up to
        # max_pairs entries.
        span = complex(fact.ts, end) if known is None else complex(min(known.real, fact.ts), max(known.imag, end))
        self._contacts.set(key, span, max(span.imag, self.state.watermark) + CONTACT_TTL)

    # -- DNS -------------------------------------------------------------------------
    def names_of_ip(self, ip: str) -> IpNames | None:
        """The names that resolved to ``ip`` (and when), or None."""
        return self._ip_names.get(ip)

    def domains_of_ip(self, ip: str) -> list[str]:
        known = self._ip_names.get(ip)
        return list(known.domains) if known else []

    def ips_of_domain(self, domain: str) -> set[str]:
        """IPs the domain resolved to, following CNAME chains (bounded)."""
        found: set[str] = set()
        todo = [(domain, 0)]
        seen: set[str] = set()
        while todo:
            name, depth = todo.pop()
            if name in seen or depth > CNAME_MAX_DEPTH:
                continue
            seen.add(name)
            found.update(self._domain_ips.get(name) or ())
            for target in self._cnames.get(name) or ():
                todo.append((target, depth + 1))
        return found

    def cnames_of(self, domain: str) -> list[str]:
        return list(self._cnames.get(domain) or ())

    def ptr_of(self, ip: str) -> str | None:
        return self._ptr.get(ip)

    def sni_of(self, ip: str) -> str | None:
        return self._sni.get(ip)

    # -- certificates ------------------------------------------------------------------
    def certificate(self, fingerprint: str = "", fuid: str = "") -> Certificate | None:
        """The certificate with this fingerprint (any case) or x509 file id, if seen and not expired."""
        if fingerprint:
            found = self._certificates.get(("fp", fingerprint.lower()))
            if found is not None:
                return found
        if fuid:
            return self._certificates.get(("fuid", fuid))
        return None

    # -- servers learned from traffic ------------------------------------------------
    def is_server(self, role: str, ip: str) -> bool:
        return self._servers.get((role, ip)) is not None

    def is_dns_server(self, ip: str) -> bool:
        return self.is_server("dns", ip)

    def is_dhcp_server(self, ip: str) -> bool:
        return self.is_server("dhcp", ip)

    def is_doh_server(self, ip: str) -> bool:
        return self.is_server("doh", ip)

    def port_scan_span(self, ip: str) -> tuple[float, float] | None:
        """(first, last) flow time Zeek reported ``ip`` scanning ports, or None."""
        return self._scanners.get(ip)

    # -- connections -------------------------------------------------------------------
    def conn_of_uid(self, uid: str) -> ConnSummary | None:
        return self._conn.get(uid)

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

    # -- layer 2 -----------------------------------------------------------------------
    def ips_of_mac(self, mac: str) -> list[str]:
        """IPs seen with ``mac``, the earliest first."""
        return [ip for _, ip in self._mac_ips.get(mac) or ()]

    def mac_of_ip(self, ip: str) -> str | None:
        return self._ip_mac.get(ip)

    def other_ip_versions(self, ip: str) -> list[str]:
        """Addresses of the other IP version of the same host: seen with the
        same MAC, or paired by traffic (``DualStack``) where conn.log has no MACs."""
        version = 6 if ":" in ip else 4
        mac = self._ip_mac.get(ip)
        found = [other for other in self.ips_of_mac(mac) if (6 if ":" in other else 4) != version] if mac else []
        for other in self._dual_stack.get(ip) or ():
            if other not in found:
                found.append(other)
        return found

    def dual_stack_paired(self, a: str, b: str) -> bool:
        return b in (self._dual_stack.get(a) or ())

    # -- local network ------------------------------------------------------------------
    def in_local_network(self, ip: str) -> bool | None:
        """None while the local network is unknown."""
        network = self.local_network
        if network is None:
            return None
        answer = self._in_local.get(ip)
        if answer is None:
            address = parse_ip(ip)
            answer = address is not None and address.version == network.version and address in network
            if len(self._in_local) >= 65536:
                self._in_local.clear()
            self._in_local[ip] = answer
        return answer


# The RFC 1918 blocks: what a network's private address space is made of.
RFC1918_BLOCKS = tuple(ipaddress.ip_network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def rfc1918_block(ip: str) -> str | None:
    """The RFC 1918 block (10/8, 172.16/12, 192.168/16) holding ``ip``, or None."""
    address = parse_ip(ip)
    if address is None or address.version != 4:
        return None
    for block in RFC1918_BLOCKS:
        if address in block:
            return str(block)
    return None


def local_network_of(source_ip: str, client_ips: list[str]) -> str | None:
    """The local network (seed; spec 2.31): see ``local_network_candidate``."""
    fact = local_network_candidate(source_ip, client_ips, 0.0)
    return None if fact is None else fact.cidr


def local_network_candidate(source_ip: str, client_ips: list[str], ts: float) -> LocalNetwork | None:
    """The ``LocalNetwork`` fact a record from ``source_ip`` at ``ts`` teaches.

    The seed: "the local network of the private ips specified in client_ips"
    (configured: no time), else "the local network of the first private
    source ip found in the traffic" (learned at ``ts``). A configured private
    network is taken as given; a configured private host, or a learned
    source, stands for the RFC 1918 block that holds it (10.0.0.0/8,
    172.16.0.0/12 or 192.168.0.0/16), as Slips does: a real network's
    private space is rarely one /24 (issue 21: the WRCCDC teams' 10.47.x.0/24
    subnets and their resolvers 10.10.x.1 were each "another network" of the
    first client's /24).
    """
    for entry in client_ips:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if not network.is_private:
            continue
        if network.prefixlen < network.max_prefixlen:
            return LocalNetwork(cidr=str(network))
        block = rfc1918_block(str(network.network_address))
        if block is not None:
            return LocalNetwork(cidr=block)
    canonical = canonical_ip(source_ip)
    if canonical is not None and is_ipv4(canonical) and is_rfc1918_or_ula(canonical):
        block = rfc1918_block(canonical)
        if block is not None:
            return LocalNetwork(cidr=block, ts=ts)
    return None


_APPLY = {
    Resolution: Facts._apply_resolution,
    PtrName: Facts._apply_ptr,
    ServerName: Facts._apply_sni,
    Server: Facts._apply_server,
    MacAddress: Facts._apply_mac,
    DualStack: Facts._apply_dual_stack,
    LocalNetwork: Facts._apply_local_network,
    Certificate: Facts._apply_certificate,
    PortScanner: Facts._apply_port_scanner,
    ConnSeen: Facts._apply_conn,
    Contact: Facts._apply_contact,
}
