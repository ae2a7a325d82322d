"""Learner of ssl.log facts (global): the SNI each server IP was asked for,
and DNS-over-HTTPS servers (ssl.log ``is_DoH``, or a well-known DoH host
name); connection-without-DNS skips those (spec 2.39)."""

from __future__ import annotations

from collections.abc import Iterable

from flowalerts.facts import Fact, Server, ServerName
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detection import Learner
from flowalerts.modules.flow_alerts.shared.tls_names import is_doh
from flowalerts.records import SslRecord


class TlsFacts(Learner):
    """Learns SNIs and DoH servers."""

    id = "tls_facts"
    channels = ("new_ssl",)

    def learn(self, msg: Message[SslRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        if not flow.daddr:
            return None
        facts: list[Fact] = []
        if flow.server_name:
            facts.append(ServerName(ip=flow.daddr, name=flow.server_name, ts=flow.starttime))
        if is_doh(flow):
            facts.append(Server(role="doh", ip=flow.daddr, ts=flow.starttime))
        return facts
