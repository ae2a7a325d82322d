"""DNS over HTTPS (spec 2.39, under its own evidence type instead of the
reference's mislabelled DIFFERENT_LOCALNET, which never fired).

A client resolving names over HTTPS: its lookups are invisible in dns.log,
which matters for the DNS-based detections (connection-without-DNS skips
DoH servers, see the ``tls_facts`` learner). Informational.

An ssl connection is DoH when ssl.log ``is_DoH`` is true
(``zeek-scripts/detect_doh.zeek``) or its SNI is a well-known DoH resolver
(``shared/tls_names.DOH_HOSTNAMES``, exact name, any case).

Exceptions: none (an SNI that merely contains a resolver's name, such as
``notdns.google.evil``, is not one).

**DNS over TLS** (RFC 7858) is not DNS over HTTPS: the same resolvers answer
on TCP port 853 (IANA ``domain-s``), with the same names in the SNI. TLS to
port 853 is reported as DNS_OVER_TLS (issue 21: CTU-Normal-44's Windows host
using cloudflare-dns.com on 1.1.1.2:853 was reported as DNS over HTTPS).

Slips has no such type and its nearest (DIFFERENT_LOCALNET) would mislead:
the evidence is not sent to Slips (NOT_IN_SLIPS), only counted and written
by the standalone hosts.

INFO, confidence 0.9, attacker the DoH server (DST), victim the client,
profile the client. One evidence per (profile, window, server), with the
count and every uid (INFO: the level does not grow).
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import (
    FIXED,
    NOT_IN_SLIPS,
    Details,
    EvidenceKind,
    ThreatLevel,
    dst_ip,
    escape_text,
    src_ip,
)
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.traffic.tls_names import is_doh, normalise_host

MAX_NAMES = 10


class DnsOverHttpsDetails(Details):
    server: str
    server_names: list[str]  # SNIs seen (first 10)
    marked_by_zeek: bool  # at least one connection had ssl.log is_DoH


DNS_OVER_HTTPS = EvidenceKind(
    "DNS_OVER_HTTPS",
    ThreatLevel.INFO,
    confidence=0.9,
    details=DnsOverHttpsDetails,
    slips=NOT_IN_SLIPS,
    grows=FIXED,
    summary="TLS to a DNS-over-HTTPS resolver (ssl.log is_DoH, or a well-known DoH name); one per server",
)
DNS_OVER_TLS = EvidenceKind(
    "DNS_OVER_TLS",
    ThreatLevel.INFO,
    confidence=0.9,
    details=DnsOverHttpsDetails,
    slips=NOT_IN_SLIPS,
    grows=FIXED,
    summary="the same, to port 853: DNS over TLS (RFC 7858), not over HTTPS; one per server",
)
# TCP port of DNS over TLS (IANA domain-s).
DOT_PORT = 853


class ResolverTally(Tally):
    names: list[str] = msgspec.field(default_factory=list)  # SNIs, first MAX_NAMES
    marked_by_zeek: bool = False  # a connection had ssl.log is_DoH
    dport: int = -1  # the first connection's server port (-1: none yet)

    def note(self, flow: SslRecord) -> None:
        name = normalise_host(flow.server_name)[:253]
        if name and name not in self.names and len(self.names) < MAX_NAMES:
            self.names.append(name)
        self.marked_by_zeek = self.marked_by_zeek or bool(flow.is_DoH)
        if self.dport < 0:
            self.dport = flow.dport


class DnsOverHttps(Detection[NoConfig, ResolverTally]):
    """A client resolving names over HTTPS."""

    id = "dns_over_https"
    channels = ("new_ssl",)
    evidence = (DNS_OVER_HTTPS, DNS_OVER_TLS)

    def handle(self, msg: Message[SslRecord]) -> None:
        flow = msg.flow
        if not is_doh(flow) or not is_ip(flow.daddr) or not is_ip(flow.saddr):
            return
        key = (flow.daddr, DOT_PORT) if flow.dport == DOT_PORT else flow.daddr
        self.tally(msg, key, 1, update=lambda tally: tally.note(flow))

    def report_tally(self, profile: str, twid: int, key: str | tuple[str, int], tally: ResolverTally) -> Finding:
        kind, server = (DNS_OVER_TLS, key[0]) if isinstance(key, tuple) else (DNS_OVER_HTTPS, key)
        protocol = "TLS" if kind is DNS_OVER_TLS else "HTTPS"
        names = list(tally.names)
        shown = f" ({', '.join(escape_text(name, 100) for name in names)})" if names else ""
        return Finding(
            kind=kind,
            attacker=dst_ip(server),
            victim=src_ip(profile),
            details=DnsOverHttpsDetails(server=server, server_names=names, marked_by_zeek=tally.marked_by_zeek),
            description=(
                f"DNS over {protocol} from {profile} to resolver {server}{shown}: {tally.count} connection(s) in this "
                "time window"
            ),
            dst_port=tally.dport if tally.dport > 0 else None,
            proto="tcp",
        )
