"""Learns DHCP servers from dhcp.log (priority 10).

A DhcpRecord's ``daddr`` is the server address; connections to a known DHCP
server need no DNS resolution (spec 2.3).
"""

from __future__ import annotations

from flowalerts.core.knowledge.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DhcpRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result


class DhcpLearner(Detector):
    """Records the DHCP server of each dhcp.log line; emits no evidence."""

    channels = ("new_dhcp",)
    evidence_types = ()
    priority = 10

    def handle(self, msg: Message[DhcpRecord]) -> Result:
        server = msg.flow.daddr
        if server and is_ip(server):
            self.facts.add_dhcp_server(server, msg.flow.starttime)
        return None
