"""GRE tunnels and GRE scans from tunnel.log (seed "GRE tunnels", "GRE tunnel
scans"; spec 2.35, 2.36, 5.3 item 28).

Zeek logs a GRE tunnel with action ``Tunnel::DISCOVER`` when it first sees
it, and again with ``Tunnel::CLOSE`` or ``Tunnel::EXPIRE`` when it ends.
GRE carries other traffic out of sight of most tools (LOW, 1.0):

* any other action than DISCOVER -> GRE_TUNNEL (a tunnel that was used);
* DISCOVER -> GRE_SCAN (the seed: every discovery counts as a scan; a
  single tunnel therefore also gives one GRE_SCAN at its start).

One GRE_TUNNEL per (profile, window, tunnel endpoint), and one GRE_SCAN per
(profile, window) (issue 13), each reported at the first record and updated
at window close with the count and every uid. GRE_SCAN lists the
destinations (the first 100) and its level and confidence grow with how many
different destinations were probed (``scale_with_count``, threshold 1:
medium from 4): one discovery is a tunnel starting, many are a sweep. For
alerts each weighs as one evidence per record, as before.

Exceptions, and why: other tunnel types (Teredo, AYIYA, VXLAN, IP-in-IP):
the seed is about GRE.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, scale_with_count
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import TunnelRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.engine.samples import keep_earliest, values

GRE = "Tunnel::GRE"
DISCOVER = "Tunnel::DISCOVER"
MAX_DESTINATIONS = 100
MAX_SEEN = 10_000  # distinct values remembered per tally (past it, repeats may count again)


class GreTunnelDetails(Details):
    records: int  # tunnel.log records (closed or expired tunnels) to this endpoint in this window
    actions: list[str]


class GreScanDetails(Details):
    discoveries: int  # DISCOVER records in this window
    destinations: list[str]  # the distinct destinations probed first (at most 100)
    distinct_destinations: int


GRE_TUNNEL = EvidenceKind(
    "GRE_TUNNEL",
    ThreatLevel.LOW,
    confidence=1.0,
    details=GreTunnelDetails,
    summary="a GRE tunnel closed or expired (tunnel.log); one per endpoint and window",
    grows=FIXED,  # LOW 1.0 whatever the count; weighs as each record
)

GRE_SCAN = EvidenceKind(
    "GRE_SCAN",
    ThreatLevel.LOW,
    confidence=1.0,
    details=GreScanDetails,
    category="Recon.Scanning",
    summary="GRE tunnels discovered (tunnel.log DISCOVER); one per window, growing with the destinations",
    grows=FIXED,  # grown by the distinct destinations in report_tally; weighs as each record
)


class GreTally(Tally):
    """The actions (GRE_TUNNEL) or the destinations (GRE_SCAN) seen."""

    sample: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, value), the earliest MAX_DESTINATIONS
    seen: set[str] = msgspec.field(default_factory=set)  # at most MAX_SEEN
    distinct: int = 0

    def note(self, ts: float, value: str) -> None:
        if value not in self.seen and len(self.seen) < MAX_SEEN:
            self.seen.add(value)
            self.distinct += 1
        keep_earliest(self.sample, ts, value, MAX_DESTINATIONS)


class GreTunnel(Detection[NoConfig, GreTally]):
    """GRE tunnels that were used, and GRE tunnels being discovered."""

    id = "gre"
    channels = ("new_tunnel",)
    evidence = (GRE_TUNNEL, GRE_SCAN)

    def handle(self, msg: Message[TunnelRecord]) -> None:
        flow = msg.flow
        if flow.tunnel_type != GRE:
            return
        daddr = canonical_ip(flow.daddr)
        if daddr is None:
            return
        if flow.action == DISCOVER:
            self.tally(msg, (GRE_SCAN.name,), 1, update=lambda tally: tally.note(flow.starttime, daddr))
        else:
            self.tally(msg, (GRE_TUNNEL.name, daddr), 1, update=lambda tally: tally.note(flow.starttime,
                                                                                          flow.action[:50]))

    def report_tally(self, profile: str, twid: int, key: tuple[str, ...], tally: GreTally) -> Finding:
        many = f" ({tally.count} records in this time window)" if tally.count > 1 else ""
        if key[0] == GRE_TUNNEL.name:
            daddr = key[1]
            actions = values(tally.sample)
            return Finding(
                kind=GRE_TUNNEL,
                victim=dst_ip(daddr),
                details=GreTunnelDetails(records=tally.count, actions=actions),
                description=f"GRE tunnel from {profile} to {daddr}, tunnel action: "
                            f"{', '.join(escape_text(a, limit=50) for a in actions)}{many}",
            )
        destinations = values(tally.sample)
        distinct = tally.distinct
        # Grown by the distinct destinations, not the records (the kind is FIXED:
        # the base would grow by the tally's count).
        level, confidence = scale_with_count(GRE_SCAN, distinct, 1)
        target = destinations[0] if distinct == 1 else f"{distinct} hosts"
        return Finding(
            kind=GRE_SCAN,
            victim=dst_ip(destinations[0]) if distinct == 1 else None,
            level=level,
            confidence=confidence,
            details=GreScanDetails(discoveries=tally.count, destinations=destinations, distinct_destinations=distinct),
            description=f"GRE scan from {profile} to {target} (Tunnel::DISCOVER){many}",
        )
