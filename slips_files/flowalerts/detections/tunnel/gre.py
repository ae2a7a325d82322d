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

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, scale_with_count, src_ip
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import TunnelRecord
from flowalerts.engine.detection import Detection, Tally
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
)

GRE_SCAN = EvidenceKind(
    "GRE_SCAN",
    ThreatLevel.LOW,
    confidence=1.0,
    details=GreScanDetails,
    category="Recon.Scanning",
    summary="GRE tunnels discovered (tunnel.log DISCOVER); one per window, growing with the destinations",
)


class GreTunnel(Detection):
    """GRE tunnels that were used, and GRE tunnels being discovered."""

    id = "gre"
    channels = ("new_tunnel",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
    evidence = (GRE_TUNNEL, GRE_SCAN)

    def handle(self, msg: Message[TunnelRecord]) -> None:
        flow = msg.flow
        if flow.tunnel_type != GRE:
            return
        daddr = canonical_ip(flow.daddr)
        if daddr is None:
            return
        if flow.action == DISCOVER:
            self.tally(msg, (GRE_SCAN.name,), 1, update=lambda tally: _add(tally, "destinations", flow.starttime, daddr))
        else:
            self.tally(msg, (GRE_TUNNEL.name, daddr), 1,
                       update=lambda tally: _add(tally, "actions", flow.starttime, flow.action[:50]))

    def report_tally(self, profile: str, twid: int, key: tuple[str, ...], tally: Tally) -> None:
        many = f" ({tally.count} records in this time window)" if tally.count > 1 else ""
        if key[0] == GRE_TUNNEL.name:
            daddr = key[1]
            actions = values(tally.extra["actions"])
            self.report(
                GRE_TUNNEL, profile=profile, twid=twid, ts=tally.first_ts, attacker=src_ip(profile),
                victim=dst_ip(daddr), uids=tally.uids,
                details=GreTunnelDetails(records=tally.count, actions=actions),
                description=f"GRE tunnel from {profile} to {daddr}, tunnel action: "
                            f"{', '.join(escape_text(a, limit=50) for a in actions)}{many}",
                count=tally.count, occurrences=tally.count,
                evidence_id=self.tally_id(GRE_TUNNEL, profile, twid, key),
            )
            return
        destinations = values(tally.extra["destinations"])
        distinct = tally.extra["distinct"]
        level, confidence = scale_with_count(GRE_SCAN, distinct, 1)
        target = destinations[0] if distinct == 1 else f"{distinct} hosts"
        self.report(
            GRE_SCAN, profile=profile, twid=twid, ts=tally.first_ts, attacker=src_ip(profile),
            victim=dst_ip(destinations[0]) if distinct == 1 else None, uids=tally.uids,
            threat_level=level, confidence=confidence,
            details=GreScanDetails(discoveries=tally.count, destinations=destinations, distinct_destinations=distinct),
            description=f"GRE scan from {profile} to {target} (Tunnel::DISCOVER){many}",
            count=tally.count, occurrences=tally.count,
            evidence_id=self.tally_id(GRE_SCAN, profile, twid, key),
        )


def _add(tally: Tally, name: str, ts: float, value: str) -> None:
    sample = tally.extra.setdefault(name, [])
    seen = tally.extra.setdefault("seen", set())
    if value not in seen and len(seen) < MAX_SEEN:
        seen.add(value)
        tally.extra["distinct"] = tally.extra.get("distinct", 0) + 1
    keep_earliest(sample, ts, value, MAX_DESTINATIONS)
