"""Connections to Tor exit nodes (seed "Tor Exit Nodes"; spec 2.8).

The destination is in the Tor exit-node list (``threatintelligence.
tor_exit_nodes``, refreshed from the Tor project's bulk exit list when
online). Informational: using Tor is a policy matter, not an attack by itself.
The exit node is the attacker (DST), the profile's host the victim (SRC), as
in Slips.

Exceptions, and why:

* only the destination is checked: traffic arriving *from* an exit node is
  someone using Tor to reach us, which every public service sees.

Repeated: one evidence per (profile, window, exit node), reported at the
first connection and updated at window close with the count and every uid.
It stays INFO (context, never alert weight); its confidence is already 1.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.traffic.conn_flows import ip_info, top


class TorExitNodeDetails(Details):
    connections: int
    dports: list[int]  # destination ports used (up to 32)


TOR_EXIT_NODE = EvidenceKind(
    "TOR_EXIT_NODE",
    ThreatLevel.INFO,
    confidence=1.0,
    details=TorExitNodeDetails,
    category="Other.Uncategorized",
    summary="a connection to a Tor exit node (Tor's exit list); one per exit node",
)


class TorExitNodeTally(Tally):
    dports: set[int] = msgspec.field(default_factory=set)  # up to 64

    def note(self, dport: int) -> None:
        if len(self.dports) < 64:
            self.dports.add(dport)


class TorExitNode(Detection[NoConfig, TorExitNodeTally]):
    """A connection whose destination is a known Tor exit node."""

    id = "tor_exit_node"
    channels = ("new_flow",)
    evidence = (TOR_EXIT_NODE,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        exits = self.knowledge.feeds.tor_exits
        if not exits:
            return
        flow = msg.flow
        daddr = flow.daddr
        if daddr not in exits:
            # The list holds canonical addresses; only IPv6 has other spellings.
            if ":" not in daddr:
                return
            info = ip_info(daddr)
            if info is None or info.canonical not in exits:
                return
            daddr = info.canonical
        if ip_info(flow.saddr) is None:
            return
        dport = flow.dport
        self.tally(msg, daddr, update=lambda tally: tally.note(dport))

    def report_tally(self, profile: str, twid: int, key: str, tally: TorExitNodeTally) -> Finding:
        dports = top(tally.dports)
        return Finding(
            attacker=dst_ip(key),
            victim=src_ip(profile),
            details=TorExitNodeDetails(connections=tally.count, dports=dports),
            description=(
                f"{tally.count} connection(s) from {profile} to the Tor exit node {key} "
                f"(ports {', '.join(map(str, dports))}) in this time window"
            ),
            dst_port=dports[0] if len(dports) == 1 else None,
        )
