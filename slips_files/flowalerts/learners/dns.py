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

from collections.abc import Iterable

from flowalerts.core.facts import Fact, PtrName, Resolution, Server, local_network_candidate
from flowalerts.core.ips import is_rfc1918_or_ula, parse_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Learner
from flowalerts.traffic import dns_names as names

ADDRESS_TYPES = frozenset({"A", "AAAA"})


def is_private_dns_server_candidate(ip: str) -> bool:
    parsed = parse_ip(ip)
    return parsed is not None and (is_rfc1918_or_ula(ip) or parsed.is_link_local)


class DnsFacts(Learner):
    """Learns resolutions, CNAMEs, rDNS, DNS servers and the local network."""

    id = "dns_facts"
    channels = ("new_dns",)

    def learn(self, msg: Message[DnsRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        ts = flow.starttime
        facts: list[Fact] = []
        if flow.starttime < self.facts.local_network_ts and flow.saddr:
            # An earlier private source than the one the network was learned from.
            network = local_network_candidate(flow.saddr, self.ctx.config.parameters.client_ips, flow.starttime)
            if network is not None:
                facts.append(network)
        if flow.dport == 53 and flow.answers and is_private_dns_server_candidate(flow.daddr):
            if not self.facts.is_dns_server(flow.daddr):
                self.ctx.notify(f"Detected DNS server by traffic heuristic: {flow.daddr}")
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
