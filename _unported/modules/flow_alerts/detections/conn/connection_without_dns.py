"""Connections without a DNS resolution (spec 2.3, seed).

A connection to a public address that no host resolved within
``connection_without_dns_lookback`` seconds (24 h) of flow time before it, or
within ``connection_without_dns_grace`` seconds after it (Zeek logs the query
and the connection it enables close together, in either order). The DNS
learner records the final A/AAAA answers of every query, so CNAME chains are
already covered. Decisions are pending until the flow-time watermark passes
ts + grace, and are settled at end of input.

Exempt destinations: private, loopback, reserved, link-local, multicast and
broadcast (``is_ignored_ip``); learned DHCP servers and DoH servers;
``client_ips`` (an IP or a CIDR); addresses of a well-known organisation
(Google, Microsoft, Apple, Facebook, Twitter: by IP range/ASN, or by the SNI,
rDNS or resolved domains seen for the IP); addresses whose resolved domains
are whitelisted. Flows whose service is dns or icmp are skipped.

Live mode only: nothing during the first ``live_warmup_minutes`` of wall
clock, and confidence 0.1 instead of 0.8 during the first 5 hours.
One evidence per (profile, window, destination). The destination is set as
victim so whitelisting by destination works (spec 5, item 45).
"""

from __future__ import annotations

import ipaddress

import msgspec

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ignored_ip, is_ip, parse_ip
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

SKIPPED_SERVICES = frozenset({"dns", "icmp"})
LIVE_LOW_CONFIDENCE_SECONDS = 5 * 3600.0
LOW_CONFIDENCE = 0.1


class PendingConn(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    profile: str
    twid: int
    starttime: float
    uid: str
    saddr: str
    sport: int
    daddr: str
    dport: int
    proto: str


class ConnectionWithoutDns(Detector):
    """A connection to a public IP nobody resolved around that time."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.CONNECTION_WITHOUT_DNS,)
    threat_level = ThreatLevel.INFO
    confidence = 0.8

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.pending = self.state.table("conn_without_dns_pending")
        # (profile, twid, daddr) already pending or reported.
        self.seen = self.state.table("conn_without_dns_seen")
        self.started = ctx.wall_clock() if ctx.live else 0.0
        self.client_nets = []
        for entry in ctx.config.parameters.client_ips:
            try:
                self.client_nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if self.ctx.live and self._live_elapsed() < self.config.live_warmup_minutes * 60:
            return None
        if SKIPPED_SERVICES.intersection(flow.appproto.lower().split(",")):
            return None
        daddr = flow.daddr
        if not daddr or is_ignored_ip(daddr):
            return None
        key = (msg.profile, msg.twid, daddr)
        if self.seen.get(key) is not None:
            return None
        # The resolution check is a dict lookup; the exemptions cost more.
        if self._resolved(daddr, flow.starttime) or self._exempt(daddr):
            return None
        expires = flow.starttime + self.ctx.config.parameters.width + 3600.0
        self.seen.set(key, True, expires)
        uid_key = flow.uid or f"{flow.saddr}-{flow.sport}-{daddr}-{flow.starttime}"
        self.pending.set(
            uid_key,
            PendingConn(profile=msg.profile, twid=msg.twid, starttime=flow.starttime, uid=flow.uid,
                        saddr=flow.saddr, sport=flow.sport, daddr=daddr, dport=flow.dport, proto=flow.proto),
            flow.starttime + self.config.connection_without_dns_grace + 3600.0,
        )
        return None

    def on_watermark(self, watermark: float) -> Result:
        return self._settle(watermark)

    def finish(self) -> Result:
        return self._settle(float("inf"))

    # -- checks ----------------------------------------------------------------
    def _live_elapsed(self) -> float:
        return self.ctx.wall_clock() - self.started

    def _exempt(self, daddr: str) -> bool:
        facts = self.facts
        if facts.is_dhcp_server(daddr) or facts.is_doh_server(daddr):
            return True
        ip = parse_ip(daddr)
        if any(ip is not None and ip.version == net.version and ip in net for net in self.client_nets):
            return True
        orgs = self.knowledge.orgs
        if orgs.org_of_ip(daddr):
            return True
        names = [n for n in (facts.sni_of(daddr), facts.rdns_of(daddr)) if n]
        domains = facts.domains_of_ip(daddr)
        if any(orgs.org_of_domain(name) for name in (*names, *domains)):
            return True
        whitelist = self.knowledge.whitelist
        return any(whitelist.domain_whitelisted(domain) for domain in domains)

    def _resolved(self, daddr: str, ts: float) -> bool:
        resolution = self.facts.resolution_of(daddr)
        if resolution is None:
            return False
        # last_ts is the newest resolution: one after the connection also
        # counts (the grace period), one older than the lookback does not.
        return resolution.last_ts >= ts - self.config.connection_without_dns_lookback

    def _settle(self, watermark: float) -> list[Evidence]:
        grace = self.config.connection_without_dns_grace
        due = [(k, e) for k, e in self.pending.items() if e.starttime + grace <= watermark]
        out: list[Evidence] = []
        for key, entry in sorted(due, key=lambda item: item[1].starttime):
            self.pending.delete(key)
            if self._resolved(entry.daddr, entry.starttime) or self._exempt(entry.daddr):
                continue
            confidence = self.confidence
            if self.ctx.live and self._live_elapsed() < LIVE_LOW_CONFIDENCE_SECONDS:
                confidence = LOW_CONFIDENCE
            out.append(
                make_evidence(
                    EvidenceType.CONNECTION_WITHOUT_DNS,
                    description=f"{entry.saddr} connected to {entry.daddr} port {entry.dport}/{entry.proto} "
                    f"with no DNS resolution of that address seen",
                    attacker=src_ip(entry.saddr),
                    victim=dst_ip(entry.daddr),
                    threat_level=self.threat_level,
                    confidence=confidence,
                    profile=entry.profile,
                    twid=entry.twid,
                    timestamp=entry.starttime,
                    uids=[entry.uid],
                    src_port=entry.sport,
                    dst_port=entry.dport,
                )
            )
        return out
