"""The local network (seed; spec 2.31), taught by the ``layer_two`` (conn.log)
and ``dns_facts`` (dns.log) learners: from ``parameters.client_ips`` when
configured, else from the traffic (the earliest private source in flow time,
so the answer does not depend on the order records arrive in). The fact and
its store live here because two learners teach it; each declares
``LocalNet`` in its ``provides``."""

from __future__ import annotations

import ipaddress
import math

from flowalerts.core.facts import Fact, FactStore
from flowalerts.core.ips import canonical_ip, is_ipv4, is_rfc1918_or_ula, parse_ip
from flowalerts.core.state import FlowTimeTable

# The key of the one entry of the learned-network table.
LEARNED = "network"


class LocalNetwork(Fact, tag="net"):
    """A candidate local network: from ``parameters.client_ips`` (``ts`` None,
    final at once) or from a private source seen at flow time ``ts``. The
    candidate with the earliest time wins, so the local network does not
    depend on the order records arrive in."""

    cidr: str
    ts: float | None = None


class LocalNet(FactStore):
    """The local network learned so far, and whether an address is in it."""

    keeps = {LocalNetwork: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._in_local: dict[str, bool] = {}
        self._table: FlowTimeTable[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, float]] | None = None
        self._table_of: object = None

    @property
    def _learned(self) -> FlowTimeTable[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, float]]:
        # One entry that never expires: the state's tables are what a checkpoint
        # keeps. Read on every record: the table is looked up once per state.
        state = self.state
        if self._table is None or self._table_of is not state:
            self._table, self._table_of = state.table("facts.local_network", 1), state
        return self._table

    @property
    def local_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The local network learned (or configured), if any."""
        learned = self._learned.get(LEARNED)
        return None if learned is None else learned[0]

    @property
    def local_network_ts(self) -> float:
        """Flow time of the record the local network was learned from (-inf:
        configured; +inf: none yet). It is final once the watermark passed it."""
        learned = self._learned.get(LEARNED)
        return math.inf if learned is None else learned[1]

    def add(self, fact: LocalNetwork) -> None:
        ts = -math.inf if fact.ts is None else fact.ts
        if self.local_network is not None and self.state.watermark >= self.local_network_ts:
            return  # final: an earlier source arriving now is beyond the allowed lateness
        if self.local_network is None or ts < self.local_network_ts:
            self._learned.set(LEARNED, (ipaddress.ip_network(fact.cidr, strict=False), ts), math.inf)
            self._in_local.clear()

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
