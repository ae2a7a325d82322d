"""Connections without a DNS resolution (seed "Connections without DNS
resolution"; spec 2.3).

A connection to a public address that no host resolved (an A/AAAA answer in
dns.log, CNAME chains included) within ``lookback`` seconds (24 h) of flow
time before it, or ``grace`` seconds (30) after it: software that reaches an
IP it did not look up (hard-coded C2, scanners, some malware) is slightly
suspicious. Informational.

Order: Zeek logs a DNS answer when it is seen, and a connection when it ends,
with the time it started; the answer can also be logged just after the
connection starts. So a connection without a known resolution is decided
when the watermark passes its start + ``grace`` (a flow-time timer): every
record starting before then has arrived, and the answer is the same in any
arrival order within the allowed lateness. A resolution counts whoever made
it (the reference does the same).

Exceptions (seed), and why:

* destinations that never need DNS: private, loopback, link-local,
  multicast, reserved (255.255.255.255 included), and the x.y.z.255
  broadcast of the source's own /24 even when that network is public (the
  seed exempts broadcasts "only if private" because it cannot tell a public
  broadcast address; the source's segment tells it: on test10, Dropbox,
  Syncthing and Spotify LAN discovery broadcasts of a university network);
* connections Zeek saw mid-stream (``conn_state`` OTH, or a TCP history
  without an originator SYN): they started before the capture, and so did
  their DNS resolution, if any (issue 13's mid-stream class; the seed's live
  warm-up has the same reason; on test10 these are 8 connections to Amazon,
  GitHub, Cloudflare and Fastly);
* Zeek's service ``dns`` or ``icmp``: the resolver itself, pings;
* learned DHCP servers and DNS-over-HTTPS servers (their names are resolved
  inside TLS, invisible to dns.log), and ``parameters.client_ips``;
* well-known organisations (Google, Microsoft, Apple, Facebook, Twitter) by
  IP range/ASN, or by the SNI, rDNS or any name resolved earlier for the IP:
  their apps resolve through DoH or keep addresses for a long time;
* addresses, or names resolved earlier for them, whitelisted for alerts to
  the destination in the local whitelist;
* live mode: nothing during the first ``live_warmup_minutes`` (30) of wall
  clock (connections resolved before Flowalerts started), and confidence 0.1
  instead of 0.8 during the first ``live_low_confidence_hours`` (5).

Without dns.log in the folder the detection still runs, as Slips does: Zeek
writes no dns.log when it saw no DNS at all, and then no connection had one.
But **a host whose DNS queries conn.log shows** (port 53, Zeek's service
``dns`` or an answer) while dns.log has none of its queries around that time
(``lookback`` before to ``grace`` after the connection) resolved names we
were not given: its connections are not judged (issue 21: a capture without
its dns.log gave CONNECTION_WITHOUT_DNS on every outbound flow). They are
counted and the run gets one note at the end.

Repeated: one evidence per (profile, window, destination), reported at the
first decided connection and updated at window close with the count, the
ports and every uid. It stays INFO (context, never alert weight); its
confidence grows with the count (the kind's ``Growth``), except the live
mode's low confidence, which stays 0.1.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord, DnsRecord
from flowalerts.engine.detection import Detection, Finding, ModuleContext, Tally
from flowalerts.learners.dhcp import DhcpFacts
from flowalerts.learners.dns import DnsFacts, DnsNames
from flowalerts.learners.servers import ServerRoles
from flowalerts.learners.tls import ServerNames, TlsFacts
from flowalerts.traffic.conn_flows import (
    NO_DNS_NEEDED,
    IpInfo,
    ip_info,
    start_seen,
    to_whole_segment,
    top,
)

SKIPPED_SERVICES = frozenset({"dns", "icmp"})
DNS_PORT = 53
LIVE_LOW_CONFIDENCE = 0.1
# Entries of the per-address verdict memo (cleared when full).
MEMO_SIZE = 65536


class ConnectionWithoutDnsConfig(SectionConfig):
    lookback: float = 86400.0  # seconds of flow time before the connection
    grace: float = 30.0  # seconds after the connection's start
    live_warmup_minutes: float = 30.0  # live mode: nothing at all during this much wall clock
    live_low_confidence_hours: float = 5.0  # live mode: confidence 0.1 during this much wall clock

    slips_keys = {
        "connection_without_dns_lookback": "lookback",
        "connection_without_dns_grace": "grace",
        "live_warmup_minutes": "live_warmup_minutes",
    }


class ConnectionWithoutDnsDetails(Details):
    connections: int
    dports: list[int]  # up to 32
    lookback: float
    grace: float


CONNECTION_WITHOUT_DNS = EvidenceKind(
    "CONNECTION_WITHOUT_DNS",
    ThreatLevel.INFO,
    confidence=0.8,
    details=ConnectionWithoutDnsDetails,
    category="Other.Uncategorized",
    summary="a connection (handshake seen) to a public IP nobody resolved within 24 h before or 30 s after; "
    "not well-known orgs, DHCP/DoH servers, segment broadcasts; one per destination",
)


class ConnectionWithoutDnsTally(Tally):
    dports: set[int] = msgspec.field(default_factory=set)  # up to 64

    def note(self, dport: int) -> None:
        if len(self.dports) < 64:
            self.dports.add(dport)


class ConnectionWithoutDns(Detection[ConnectionWithoutDnsConfig, ConnectionWithoutDnsTally]):
    """A connection to a public IP that nobody resolved around that time."""

    id = "connection_without_dns"
    # dns.log records only to know whose queries it has (see "without dns.log").
    channels = ("new_flow", "new_dns")
    # Late records too: a late DNS query (in dns.log or conn.log) still tells
    # whether dns.log lacks a host's queries for connections decided later.
    late_records = True
    evidence = (CONNECTION_WITHOUT_DNS,)
    needs = (DnsFacts, TlsFacts, DhcpFacts)
    logs = ("conn",)

    def __init__(self, ctx: ModuleContext, config: Any = None) -> None:
        super().__init__(ctx, config)
        # Constants of this run (not state): when live mode started, the
        # client networks, and a memo of per-address verdicts that depend
        # only on configuration and shipped knowledge.
        self.started = ctx.wall_clock() if ctx.live else 0.0
        self.client_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in ctx.config.parameters.client_ips:
            try:
                self.client_nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        self._static_memo: dict[str, bool] = {}

    def window_close_delay(self) -> float:
        return self.config.grace

    def handle(self, msg: Message[ConnRecord | DnsRecord]) -> None:
        flow = msg.flow
        if isinstance(flow, DnsRecord):
            self._dns_seen("in_dns_log", msg.profile, flow.starttime)
            return
        if flow.dport == DNS_PORT and (flow.dbytes > 0 or "dns" in flow.appproto.lower().split(",")):
            self._dns_seen("in_conn_log", msg.profile, flow.starttime)
        destination = ip_info(flow.daddr)
        if destination is None or destination.flags & NO_DNS_NEEDED or msg.late:
            return  # a late connection's window was settled: only its DNS query counted
        if flow.appproto and SKIPPED_SERVICES.intersection(flow.appproto.lower().split(",")):
            return
        if not start_seen(flow):
            return  # started before the capture: so did its DNS answer, if any
        if self.ctx.live and self._live_elapsed() < self.config.live_warmup_minutes * 60:
            return
        # Cheapest first: a table lookup, then a memo of per-address verdicts.
        # What traffic may still teach (names, servers) is checked when deciding.
        if self._resolved(destination.canonical, flow.starttime) or self._static_exempt(destination):
            return
        source = ip_info(flow.saddr)
        if source is None or to_whole_segment(source, destination):
            return
        key = flow.uid or (flow.saddr, flow.sport, flow.daddr, flow.starttime)
        # The timer waits for the grace plus the lateness (an hour of traffic
        # on a busy network): it keeps only what the decision reads.
        waiting = ConnRecord(uid=flow.uid, starttime=flow.starttime, saddr=flow.saddr, daddr=flow.daddr,
                             dport=flow.dport)
        self.schedule(key, flow.starttime + self.config.grace, Message(msg.profile, msg.twid, waiting, msg.late))

    def on_timer(self, key: object, payload: Message[ConnRecord]) -> None:
        msg = payload
        flow = msg.flow
        destination = ip_info(flow.daddr)
        if destination is None:
            return
        if self._resolved(destination.canonical, flow.starttime) or self._learned_exempt(destination.canonical):
            return
        if self._queries_not_given(msg.profile, flow.starttime):
            counts = self.table("not_given").get("counts") or (0, ())
            hosts = counts[1] if msg.profile in counts[1] or len(counts[1]) >= 100 else (*counts[1], msg.profile)
            self.table("not_given").set("counts", (counts[0] + 1, hosts), float("inf"))
            return
        dport = flow.dport
        self.tally(msg, destination.canonical, update=lambda tally: tally.note(dport))

    # -- a dns.log that lacks the host's queries -------------------------------------
    def _dns_seen(self, where: str, profile: str, ts: float) -> None:
        """Note (first, last) flow time of ``profile``'s DNS queries seen ``where``."""
        table = self.table(where)
        span = table.get(profile)
        span = (ts, ts) if span is None else (min(span[0], ts), max(span[1], ts))
        table.set(profile, span, span[1] + self.config.lookback + self.config.grace)

    def _queries_not_given(self, profile: str, ts: float) -> bool:
        """conn.log shows DNS queries of ``profile`` around ``ts`` and dns.log none."""
        earliest, latest = ts - self.config.lookback, ts + self.config.grace

        def around(where: str) -> bool:
            span = self.table(where).get(profile)
            return span is not None and span[1] >= earliest and span[0] <= latest

        return around("in_conn_log") and not around("in_dns_log")

    def finish(self) -> None:
        counts = self.table("not_given").get("counts")
        if counts:
            self.ctx.notify(
                f"connection without DNS: {counts[0]} connection(s) of {len(counts[1])} host(s) not judged: conn.log "
                "shows their DNS queries (port 53) but dns.log has none of them (is dns.log missing?)"
            )

    # -- checks -----------------------------------------------------------------
    def _live_elapsed(self) -> float:
        return self.ctx.wall_clock() - self.started

    def _resolved(self, ip: str, ts: float) -> bool:
        names = self.facts_of(DnsNames).names_of_ip(ip)
        if names is None:
            return False
        # Resolved by anyone between lookback before and grace after the start.
        return names.last_ts >= ts - self.config.lookback and names.first_ts <= ts + self.config.grace

    def _static_exempt(self, destination: IpInfo) -> bool:
        """client_ips, well-known organisation by IP range or ASN, whitelisted
        IP: answers that depend only on configuration and shipped data, kept
        in a bounded memo (the ASN lookup costs about a millisecond)."""
        ip = destination.canonical
        memo = self._static_memo
        verdict = memo.get(ip)
        if verdict is None:
            address = ipaddress.ip_address(ip)
            verdict = (
                any(address.version == net.version and address in net for net in self.client_nets)
                or self.knowledge.orgs.org_of_ip(ip) is not None
                or self.knowledge.whitelist.is_whitelisted_alert(ip, "ip", "dst")
            )
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[ip] = verdict
        return verdict

    def _learned_exempt(self, ip: str) -> bool:
        """What the traffic taught about the address: DHCP or DoH server, or an
        SNI, rDNS or earlier resolved name of a well-known organisation or
        whitelisted."""
        roles = self.facts_of(ServerRoles)
        if roles.is_dhcp_server(ip) or roles.is_doh_server(ip):
            return True
        dns = self.facts_of(DnsNames)
        orgs = self.knowledge.orgs
        names = [name for name in (self.facts_of(ServerNames).sni_of(ip), dns.ptr_of(ip)) if name]
        domains = dns.domains_of_ip(ip)
        if any(orgs.org_of_domain(name) for name in (*names, *domains)):
            return True
        whitelist = self.knowledge.whitelist
        return any(whitelist.is_whitelisted_alert(domain, "domain", "dst") for domain in domains)

    def report_tally(self, profile: str, twid: int, key: str, tally: ConnectionWithoutDnsTally) -> Finding:
        confidence = None
        if self.ctx.live and self._live_elapsed() < self.config.live_low_confidence_hours * 3600:
            # The live mode's low confidence does not grow with the count: the
            # starting point that the kind's growth brings back to it.
            # TRANSITIONAL until a Finding can opt out of growth.
            confidence = LIVE_LOW_CONFIDENCE - 0.1 * math.floor(math.log2(max(1, tally.count)) + 1e-9)
        dports = top(tally.dports)
        return Finding(
            victim=dst_ip(key),
            confidence=confidence,
            details=ConnectionWithoutDnsDetails(connections=tally.count, dports=dports,
                                                lookback=self.config.lookback, grace=self.config.grace),
            description=(
                f"{tally.count} connection(s) from {profile} to {key} (ports {', '.join(map(str, dports))}) "
                "with no DNS resolution of that address seen"
            ),
            dst_port=dports[0] if len(dports) == 1 else None,
        )
