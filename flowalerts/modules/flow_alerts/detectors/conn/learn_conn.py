"""Learns facts from conn.log that other detectors read (priority 10).

For every flow: the conn summary by uid (ssh.log and pastebin join on it),
the (profile, destination) contact time (DNS-without-connection), the source
MAC -> IP mapping (devices changing IPs, other IP version of a host) and,
once, the local network (first private CIDR of ``client_ips``, else the /24
of the first RFC 1918 IPv4 source seen).
"""

from __future__ import annotations

from flowalerts.core.knowledge.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result


class ConnLearner(Detector):
    """Records conn-derived facts; emits no evidence."""

    channels = ("new_flow",)
    evidence_types = ()
    priority = 10

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        ts = flow.starttime
        facts = self.facts
        facts.record_conn(flow)
        if flow.daddr:
            facts.record_contact(msg.profile, flow.daddr, ts)
        if flow.smac and is_ip(flow.saddr):
            facts.record_mac(flow.smac.lower(), flow.saddr, ts)
        if facts.local_network is None and flow.saddr:
            facts.learn_local_network(flow.saddr, self.ctx.config.parameters.client_ips)
        return None
