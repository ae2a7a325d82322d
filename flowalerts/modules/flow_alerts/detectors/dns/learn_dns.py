"""DNS learner: records what dns.log teaches other detectors (priority 10).

* A/AAAA answers of NOERROR queries -> resolutions (IP -> domains, domain ->
  IPs), for the query and for every CNAME of the same answer list, except the
  blocking answers (0.0.0.0, 127/8, ::, ::1; unless the query is localhost)
  and except ``.arpa`` queries;
* CNAME answers -> ``record_cname(query, target)``;
* PTR answers for ``in-addr.arpa`` / ``ip6.arpa`` names -> rDNS of that IP;
* the local network, from private sources;
* DNS servers by traffic heuristic (spec 2.32 INTENT): a private (RFC 1918,
  ULA or link-local) destination of port-53 DNS that answered.
"""

from __future__ import annotations

from flowalerts.core.knowledge.ips import is_rfc1918_or_ula, parse_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result
from flowalerts.modules.flow_alerts.detectors.dns import names

ADDRESS_TYPES = frozenset({"A", "AAAA"})


def is_private_dns_server_candidate(ip: str) -> bool:
    parsed = parse_ip(ip)
    return parsed is not None and (is_rfc1918_or_ula(ip) or parsed.is_link_local)


class DnsLearner(Detector):
    """Learns resolutions, CNAMEs, rDNS, the local network and DNS servers."""

    channels = ("new_dns",)
    evidence_types = ()
    priority = 10

    def handle(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        ts = flow.starttime
        self.facts.learn_local_network(flow.saddr, self.ctx.config.parameters.client_ips)
        if (
            flow.dport == 53
            and flow.answers
            and is_private_dns_server_candidate(flow.daddr)
            and self.facts.add_dns_server(flow.daddr, ts)
        ):
            self.ctx.notify(f"Detected DNS server by traffic heuristic: {flow.daddr}")
        if flow.rcode_name != "NOERROR" or not flow.answers:
            return None
        query = names.normalize(flow.query)
        if not query:
            return None
        if flow.qtype_name == "PTR":
            ip = names.ptr_ip(query)
            targets = names.answer_names(flow.answers)
            if ip is not None and targets:
                self.facts.record_rdns(ip, targets[0], ts)
            return None
        if flow.qtype_name not in ADDRESS_TYPES or names.is_arpa(query):
            return None
        cnames = [name for name in names.answer_names(flow.answers) if name != query]
        for target in cnames:
            self.facts.record_cname(query, target, ts)
        localhost = names.is_localhost(query)
        for ip in names.answer_ips(flow.answers):
            if names.is_blocking_answer(ip) and not localhost:
                continue
            self.facts.record_resolution(flow.saddr, query, ip, ts)
            for target in cnames:
                self.facts.record_resolution(flow.saddr, target, ip, ts)
        return None
