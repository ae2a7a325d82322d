"""Learner of dns.log facts (global).

* A/AAAA answers of NOERROR queries -> resolutions (IP -> names, name ->
  IPs), for the query and every CNAME of the same answer list, except the
  blocking answers (0.0.0.0, 127/8, ::, ::1; unless the query is localhost)
  and ``.arpa`` queries;
* PTR answers of ``in-addr.arpa`` / ``ip6.arpa`` names -> the rDNS of that IP;
* DNS servers by traffic heuristic (spec 2.32): a private (RFC 1918, ULA or
  link-local) destination of port-53 DNS that answered ("Detected DNS server
  by traffic heuristic: <ip>" is printed once each);
* the local network, from private sources (the earliest in flow time wins).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import msgspec

from flowalerts.core.evidence import Ioc
from flowalerts.core.facts import Fact, FactStore
from flowalerts.core.ips import is_rfc1918_or_ula, parse_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Learner
from flowalerts.learners.localnet import LocalNet, local_network_candidate
from flowalerts.learners.servers import Server, ServerRoles
from flowalerts.traffic import dns_names as names

ADDRESS_TYPES = frozenset({"A", "AAAA"})


# How long resolutions are kept, in seconds of flow time after they were last seen.
RESOLUTION_TTL = 86400.0 + 3600.0
CNAME_MAX_DEPTH = 8
MAX_DOMAINS_PER_IP = 10
MAX_IPS_PER_DOMAIN = 32


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


class IpNames(msgspec.Struct, gc=False):
    """What DNS told us about one IP: the names that resolved to it."""

    domains: list[str]
    first_ts: float
    last_ts: float
    clients: list[str]


class DnsNames(FactStore):
    """What dns.log taught about names and addresses: resolutions (IP ->
    names, name -> IPs), CNAME chains and PTR names."""

    keeps = {Resolution: "add_resolution", PtrName: "add_ptr"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._ip_names = self.state.table("facts.ip_names")  # ip -> IpNames
        self._domain_ips = self.state.table("facts.domain_ips")  # domain -> list[ip]
        self._cnames = self.state.table("facts.cnames")  # domain -> list[domain]
        self._ptr = self.state.table("facts.ptr")  # ip -> name

    def add_resolution(self, fact: Resolution) -> None:
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

    def add_ptr(self, fact: PtrName) -> None:
        self._ptr.set(fact.ip, fact.name, fact.ts + RESOLUTION_TTL)

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

    def enrich(self, ioc: Ioc) -> None:
        if ioc.rDNS is None:
            ioc.rDNS = self.ptr_of(ioc.value)
        if ioc.domains is None:
            ioc.domains = self.domains_of_ip(ioc.value)[:10] or None


def is_private_dns_server_candidate(ip: str) -> bool:
    parsed = parse_ip(ip)
    return parsed is not None and (is_rfc1918_or_ula(ip) or parsed.is_link_local)


class DnsFacts(Learner):
    """Learns resolutions, CNAMEs, rDNS, DNS servers and the local network."""

    id = "dns_facts"
    channels = ("new_dns",)
    provides = (DnsNames, ServerRoles, LocalNet)

    def learn(self, msg: Message[DnsRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        ts = flow.starttime
        facts: list[Fact] = []
        if flow.starttime < self.facts_of(LocalNet).local_network_ts and flow.saddr:
            # An earlier private source than the one the network was learned from.
            network = local_network_candidate(flow.saddr, self.settings.parameters.client_ips, flow.starttime)
            if network is not None:
                facts.append(network)
        if flow.dport == 53 and flow.answers and is_private_dns_server_candidate(flow.daddr):
            if not self.facts_of(ServerRoles).is_dns_server(flow.daddr):
                self.notify(f"Detected DNS server by traffic heuristic: {flow.daddr}")
            facts.append(Server(role="dns", ip=flow.daddr, ts=ts))
        if flow.rcode_name != "NOERROR" or not flow.answers:
            return facts
        query = names.normalize(flow.query)
        if not query:
            return facts
        if flow.qtype_name == "PTR":
            ip = names.ptr_ip(query)
            targets = names.answer_names(flow.answers)
            if ip is not None and targets:
                facts.append(PtrName(ip=ip, name=targets[0], ts=ts))
            return facts
        if flow.qtype_name not in ADDRESS_TYPES or names.is_arpa(query):
            return facts
        cnames = [name for name in names.answer_names(flow.answers) if name != query]
        localhost = names.is_localhost(query)
        ips = [ip for ip in names.answer_ips(flow.answers) if localhost or not names.is_blocking_answer(ip)]
        if ips or cnames:
            facts.append(Resolution(client=flow.saddr, query=query, ips=ips, cnames=cnames, ts=ts))
        return facts
