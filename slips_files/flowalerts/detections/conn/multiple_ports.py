"""Connections to multiple ports of one destination (seed "Connection to
multiple ports"; spec 2.18).

Established TCP connections from a profile to ``threshold`` (2) or more
distinct ports of one destination in a time window, on ports with no known
service: Zeek recognised no protocol (``service`` empty) and services.csv
does not list the port. Informational: a host using several unusual services
of one server (a backdoor's control and data ports, a custom application).

Exceptions, and why:

* not established, or established without a handshake Zeek saw (``OTH``, a
  TCP history without ``S``: the capture started mid-stream): a failed
  attempt is the reconnection and scan detections' business, and a
  mid-stream flow was never seen established (issue 13);
* a recognised service or a known port: many ports of one server with known
  services (a mail server's 25/465/587/993) are normal;
* destinations that are multicast, link-local, loopback or reserved (as the
  reference's index);
* flows whose source is not the profile (the reverse direction): the
  reference's branch for them was dead and blamed the destination twice.

Repeated: one evidence per (profile, window, destination), tracked per
destination (the reference suppressed every destination but the first: spec
4.14 item 4). Reported when the distinct ports reach the threshold and
updated at window close with the final ports, connections and every uid. It
stays INFO; its confidence grows with the number of ports over the threshold,
not with the count of connections (``repeat_level``; so the kind's own growth
is ``FIXED``), and it weighs as one evidence.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.traffic.conn_flows import (
    LOOPBACK,
    MULTICAST,
    UPLOAD_IGNORED,
    ip_info,
    repeat_level,
    start_seen,
    top,
)

# Ports remembered per (profile, window, destination); more are counted only.
MAX_PORTS = 4096


class MultiplePortsConfig(SectionConfig):
    threshold: int = 2  # distinct unknown ports of one destination


class MultiplePortsDetails(Details):
    ports: int  # distinct ports
    connections: int
    threshold: int
    port_list: list[int]  # the lowest 64


CONNECTION_TO_MULTIPLE_PORTS = EvidenceKind(
    "CONNECTION_TO_MULTIPLE_PORTS",
    ThreatLevel.INFO,
    confidence=0.5,
    details=MultiplePortsDetails,
    category="Recon.Scanning",
    summary="established TCP (handshake seen) to >= 2 unknown-service ports of one destination in a window; "
    "one per destination",
    grows=FIXED,  # the confidence grows with the ports, in report_tally
)


class MultiplePortsTally(Tally):
    ports: set[int] = msgspec.field(default_factory=set)  # up to MAX_PORTS
    more_ports: int = 0  # distinct ports beyond MAX_PORTS (counted, not kept)

    def note_port(self, dport: int) -> None:
        if dport in self.ports:
            return
        if len(self.ports) < MAX_PORTS:
            self.ports.add(dport)
        else:
            self.more_ports += 1

    @property
    def port_count(self) -> int:
        return len(self.ports) + self.more_ports


class MultiplePorts(Detection[MultiplePortsConfig, MultiplePortsTally]):
    """Established TCP to several unknown-service ports of one host."""

    id = "multiple_ports"
    channels = ("new_flow",)
    evidence = (CONNECTION_TO_MULTIPLE_PORTS,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        if flow.appproto or flow.proto.lower() != "tcp" or not flow.is_established:
            return
        dport = flow.dport
        if self.knowledge.ports.is_known(dport, "tcp") or not start_seen(flow):
            return
        destination = ip_info(flow.daddr)
        if destination is None or destination.flags & (MULTICAST | UPLOAD_IGNORED | LOOPBACK):
            return
        if flow.saddr != msg.profile or ip_info(flow.saddr) is None:
            return
        # Reported once the distinct ports reach the threshold (see hold_tally).
        self.tally(msg, destination.canonical, update=lambda entry: entry.note_port(dport))

    def hold_tally(self, key: str, tally: MultiplePortsTally) -> bool:
        return tally.port_count < self.config.threshold

    def recount(self, profile: str, twid: int) -> None:
        """Window close: destinations with fewer ports than the threshold are no finding."""
        for key, tally in list(self.tallies(profile, twid).items()):
            if self.hold_tally(key, tally):
                self.drop_tally(profile, twid, key)

    def report_tally(self, profile: str, twid: int, key: str, tally: MultiplePortsTally) -> Finding:
        threshold = self.config.threshold
        count = tally.port_count
        _, confidence = repeat_level(CONNECTION_TO_MULTIPLE_PORTS, count, threshold)
        ports = top(tally.ports, 64)
        shown = ", ".join(map(str, ports[:20])) + (" ..." if count > 20 else "")
        return Finding(
            victim=dst_ip(key),
            confidence=confidence,
            occurrences=1,
            details=MultiplePortsDetails(ports=count, connections=tally.count, threshold=threshold, port_list=ports),
            description=(
                f"{profile} made {tally.count} established TCP connection(s) to {count} ports with no known "
                f"service on {key} in this time window: {shown}"
            ),
            proto="tcp",
        )
