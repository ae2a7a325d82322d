"""Learner of dual-stack hosts (global): one host's IPv4 and IPv6 addresses,
paired by what it does when conn.log has no MAC fields to pair them.

A host that asks for **A** records over IPv6 (or AAAA over IPv4) wants
addresses it can only reach from its *other* address: the connection to the
answer comes from a different profile. So when, within ``PAIR_SECONDS`` (10)
after a host of one IP version got answers of the other version, a host of
that other version connects to one of them, the two addresses are probably
one machine. One such coincidence could be chance on a busy network (two
hosts using the same CDN address); ``PAIR_QUERIES`` (2) different names
followed that way make it a pair (the ``DualStack`` fact, kept like a MAC
pairing: a week of flow time after it was learned).

Issue 21, simda-botnet355: the infected host resolved its DGA names from
``fd77:48a1:c0bb:0:b96c:506d:6c7f:e8be`` and connected to the answers from
``192.168.1.116`` (no MAC fields in that Bro 2.5 conn.log); 93 of its 98
DNS_WITHOUT_CONNECTION evidence were these names.

Either record may come first (the conn record of a long connection is written
when it ends, after later DNS records): answers and connections are both
remembered for a short while, and each side looks for the other. Until a
first answer of the other IP version was seen, conn records cost one look-up
and nothing is kept (most networks never ask for it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from flowalerts.core.facts import Fact, FactStore
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord, DnsRecord
from flowalerts.engine.detection import Learner
from flowalerts.learners.conn import MAC_TTL, MacTable
from flowalerts.traffic import dns_names as names

# A connection this many seconds (of flow time) after the answer follows it.
PAIR_SECONDS = 10.0
# Different names followed that way before two addresses are one host.
PAIR_QUERIES = 2
# Recent answers / connections remembered per IP, and IPs remembered.
MAX_PER_IP = 8
MAX_IPS = 50_000
# How long candidate pairs are remembered.
CANDIDATE_SECONDS = 86400.0
# Set (in the checkpointed state) once a host got answers of the other IP version.
SEEN_TABLE = "cross_version_answers"


class DualStack(Fact, tag="dual"):
    """``a`` and ``b`` (one IPv4, one IPv6 address) are the same host: learned
    from traffic when no MAC pairs them (``learners.dual_stack``)."""

    a: str
    b: str
    ts: float


class DualStacks(FactStore):
    """Addresses of the other IP version of the same host."""

    keeps = {DualStack: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._dual_stack = self.state.table("facts.dual_stack")  # ip -> addresses of the same host, other IP version

    def add(self, fact: DualStack) -> None:
        for ip, other in ((fact.a, fact.b), (fact.b, fact.a)):
            known = list(self._dual_stack.get(ip) or ())
            if other not in known:
                known = [*known[-7:], other]
            self._dual_stack.set(ip, known, fact.ts + MAC_TTL)

    def other_ip_versions(self, ip: str) -> list[str]:
        """Addresses of the other IP version of the same host: seen with the
        same MAC, or paired by traffic (``DualStack``) where conn.log has no MACs."""
        version = 6 if ":" in ip else 4
        macs = self.facts.store(MacTable)
        mac = macs.mac_of(ip)
        found = [other for other in macs.ips_of_mac(mac) if (6 if ":" in other else 4) != version] if mac else []
        for other in self._dual_stack.get(ip) or ():
            if other not in found:
                found.append(other)
        return found

    def dual_stack_paired(self, a: str, b: str) -> bool:
        return b in (self._dual_stack.get(a) or ())


def _version(ip: str) -> int:
    return 6 if ":" in ip else 4


class DualStackLearner(Learner):
    """Pairs an IPv6 and an IPv4 address that act as one host."""

    id = "dual_stack"
    channels = ("new_dns", "new_flow")
    provides = (DualStacks,)
    # Whether SEEN_TABLE has its entry: a conn record costs one attribute read until it has.
    _seen = False

    def learn(self, msg: Message[DnsRecord | ConnRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        if isinstance(flow, DnsRecord):
            return self._answer(flow)
        return self._connection(flow)

    def _answer(self, flow: DnsRecord) -> list[Fact] | None:
        if flow.rcode_name != "NOERROR" or flow.qtype_name not in ("A", "AAAA") or not flow.answers:
            return None
        client = canonical_ip(flow.saddr)
        wanted = 4 if flow.qtype_name == "A" else 6
        if client is None or _version(client) == wanted:
            return None
        query = names.normalize(flow.query)
        ts = flow.starttime
        if not self._seen:
            self.table(SEEN_TABLE, 1).set(SEEN_TABLE, True, math.inf)
            self._seen = True
        answers = self.table("answers", MAX_IPS)
        connections = self.table("connections", MAX_IPS)
        found: list[Fact] = []
        for ip in names.answer_ips(flow.answers):
            if _version(ip) != wanted or names.is_blocking_answer(ip):
                continue
            known = answers.get(ip) or ()
            answers.set(ip, (*known[-(MAX_PER_IP - 1):], (client, ts, query)), ts + PAIR_SECONDS)
            for source, started in connections.get(ip) or ():
                if ts <= started <= ts + PAIR_SECONDS:
                    found += self._candidate(client, source, query, started)
        return found or None

    def _connection(self, flow: ConnRecord) -> list[Fact] | None:
        if not self._seen:
            if SEEN_TABLE not in self.table(SEEN_TABLE, 1):
                return None  # no host asked for the other IP version's addresses yet
            self._seen = True  # (restored from a checkpoint)
        source = canonical_ip(flow.saddr)
        target = canonical_ip(flow.daddr)
        if source is None or target is None:
            return None
        ts = flow.starttime
        connections = self.table("connections", MAX_IPS)
        known = connections.get(target) or ()
        if not any(old == source and abs(started - ts) < 1.0 for old, started in known):
            connections.set(target, (*known[-(MAX_PER_IP - 1):], (source, ts)), ts + PAIR_SECONDS)
        found: list[Fact] = []
        for client, answered, query in self.table("answers", MAX_IPS).get(target) or ():
            if _version(client) != _version(source) and answered <= ts <= answered + PAIR_SECONDS:
                found += self._candidate(client, source, query, ts)
        return found or None

    def _candidate(self, client: str, source: str, query: str, ts: float) -> list[Fact]:
        """``client`` resolved ``query`` and ``source`` connected to an answer: count the pair."""
        pair = (client, source) if client < source else (source, client)
        candidates = self.table("candidates", MAX_IPS)
        queries = candidates.get(pair) or ()
        if query in queries:
            return []
        queries = (*queries, query)[:PAIR_QUERIES]
        candidates.set(pair, queries, ts + CANDIDATE_SECONDS)
        if len(queries) == PAIR_QUERIES and not self.facts_of(DualStacks).dual_stack_paired(*pair):
            return [DualStack(a=pair[0], b=pair[1], ts=ts)]
        return []
