"""Learner of dhcp.log facts (global): DHCP servers (connections to them
need no DNS resolution, spec 2.3) and the MAC address of each client."""

from __future__ import annotations

from collections.abc import Iterable

from flowalerts.core.facts import Fact
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DhcpRecord
from flowalerts.engine.detection import Learner
from flowalerts.learners.conn import MacAddress, MacTable
from flowalerts.learners.servers import Server, ServerRoles


class DhcpFacts(Learner):
    """Learns DHCP servers and client MAC addresses."""

    id = "dhcp_facts"
    channels = ("new_dhcp",)
    provides = (ServerRoles, MacTable)

    def learn(self, msg: Message[DhcpRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        facts: list[Fact] = []
        server = canonical_ip(flow.daddr) if flow.daddr else None
        if server is not None:
            facts.append(Server(role="dhcp", ip=server, ts=flow.starttime))
        client = canonical_ip(flow.assigned_addr or flow.saddr or "")
        if flow.mac and client is not None:
            facts.append(MacAddress(mac=flow.mac.lower(), ip=client, ts=flow.starttime))
        return facts
