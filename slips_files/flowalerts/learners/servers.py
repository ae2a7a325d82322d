"""Servers learned from traffic, by role: DNS servers (``dns_facts``: a
private host that answered port-53 DNS), DHCP servers (``dhcp_facts``) and
DNS-over-HTTPS servers (``tls_facts``). The fact and its store live here
because three learners teach it; each declares ``ServerRoles`` in its
``provides``."""

from __future__ import annotations

from typing import Literal

from flowalerts.core.facts import Fact, FactStore

LEARNED_SERVER_TTL = 7 * 86400.0  # seconds of flow time a server role is kept after it was last seen


class Server(Fact, tag="srv"):
    role: Literal["dns", "dhcp", "doh"]
    ip: str
    ts: float


class ServerRoles(FactStore):
    """Which IPs acted as DNS, DHCP or DoH servers (first seen, kept a week of flow time)."""

    keeps = {Server: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._servers = self.state.table("facts.servers")  # (role, ip) -> first ts

    def add(self, fact: Server) -> None:
        key = (fact.role, fact.ip)
        first = self._servers.get(key)
        self._servers.set(key, fact.ts if first is None else min(first, fact.ts), fact.ts + LEARNED_SERVER_TTL)

    def is_server(self, role: str, ip: str) -> bool:
        return self._servers.get((role, ip)) is not None

    def is_dns_server(self, ip: str) -> bool:
        return self.is_server("dns", ip)

    def is_dhcp_server(self, ip: str) -> bool:
        return self.is_server("dhcp", ip)

    def is_doh_server(self, ip: str) -> bool:
        return self.is_server("doh", ip)
