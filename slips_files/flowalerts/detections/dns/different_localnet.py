"""Private addresses outside the local network, dns.log path (seed "Connection to
private IPs outside the current local network"; spec 2.32 INTENT, 5.2 item 16).

DNS traffic (port 53) with a private endpoint (RFC 1918, or ULA when the local
network is IPv6) outside the local network learned from ``client_ips`` or the
first private source (``flowalerts.learners.localnet.local_network_candidate``): a host that uses
a resolver of another network, or a forged or misrouted packet. A private
*source* outside the network is LOW (profile: the source); a private
*destination* outside it is HIGH (profile: the destination), as the seed says.

One evidence per (profile, window, side, address): reported at the first query
and updated (same id) at window close with the query count and every uid. Its
level does not grow with the count and for alerts it weighs as one evidence:
the finding is an address outside the network, and a host asking its (odd)
resolver a hundred times is not a hundred times as odd.

Exceptions, and why:

* a **learned DNS server** on port 53, in either direction: the DNS learner
  marks every private address that answered port-53 queries
  ("Detected DNS server by traffic heuristic: <ip>", once per server, IPv4
  and IPv6). It runs before this detection, so a resolver is exempt from its
  first answered query on: a resolver in another private network is a DNS
  configuration (VPN, second interface), not an attack (seed);
* addresses of the other IP version than the local network: no local network
  is known for that version, so "outside" cannot be decided (the reference
  flagged every IPv6 DNS query, spec 5.2 item 16);
* loopback, 0.0.0.0, broadcast and multicast: local stub resolvers (127.0.0.53)
  and mDNS are not hosts of another network;
* no local network learned yet: nothing to compare with.
"""

from __future__ import annotations

import functools
from typing import Any

from flowalerts.core.evidence import ThreatLevel, dst_ip, src_ip
from flowalerts.core.ips import is_rfc1918_or_ula, parse_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.detections.shared.localnet import DIFFERENT_LOCALNET, DifferentLocalnetDetails
from flowalerts.engine.detection import Detection, Tally
from flowalerts.learners.dns import DnsFacts

DNS_PORT = 53


@functools.lru_cache(maxsize=65536)
def _candidate(ip: str, version: int) -> bool:
    """A private unicast address of the local network's IP version."""
    address = parse_ip(ip)
    if address is None or address.version != version:
        return False
    if address.is_loopback or address.is_multicast or address.is_unspecified or address.is_link_local:
        return False
    return is_rfc1918_or_ula(ip)


class DnsDifferentLocalnet(Detection):
    """DNS traffic with a private endpoint outside the local network."""

    id = "dns_different_localnet"
    channels = ("new_dns",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
    evidence = (DIFFERENT_LOCALNET,)
    needs = (DnsFacts,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        flow = msg.flow
        if flow.dport != DNS_PORT and flow.sport != DNS_PORT:
            return
        localnet = self.facts.local_network
        if localnet is None:
            return
        facts = self.facts
        for side, ip, port in (("src", flow.saddr, flow.sport), ("dst", flow.daddr, flow.dport)):
            if not _candidate(ip, localnet.version) or facts.in_local_network(ip):
                continue
            if port == DNS_PORT and facts.is_dns_server(ip):
                continue
            self.tally(msg, (side, ip), 1, update=lambda tally: _remember(tally, msg, localnet))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: Tally) -> None:
        side, ip = key
        extra = tally.extra
        client, server = extra["saddr"], extra["daddr"]
        port = f"{extra['dport']}/{extra['proto'] or 'udp'}"
        if side == "src":
            attacker, victim, level, owner = src_ip(client), dst_ip(server), ThreatLevel.LOW, profile
            text = f"DNS from the private address {client}, outside the local network {extra['localnet']}, to {server} port {port}"
        else:
            attacker, victim, level, owner = dst_ip(server), src_ip(client), ThreatLevel.HIGH, server
            text = f"DNS from {client} to the private address {server}, outside the local network {extra['localnet']}, port {port}"
        self.report(
            DIFFERENT_LOCALNET,
            profile=owner,
            twid=twid,
            ts=tally.first_ts,
            attacker=attacker,
            victim=victim,
            uids=tally.uids,
            threat_level=level,
            details=DifferentLocalnetDetails(side=side, address=ip, local_network=extra["localnet"],
                                             dport=extra["dport"], proto=extra["proto"], log="dns"),
            description=f"{text} ({tally.count} queries in this time window)" if tally.count > 1 else text,
            src_port=extra["sport"],
            dst_port=extra["dport"],
            proto=extra["proto"] or None,
            count=tally.count,
            # The destination's evidence is owned by the destination: one per client.
            evidence_id=self.tally_id(DIFFERENT_LOCALNET, owner, twid, (profile, *key)),
        )


def _remember(tally: Tally, msg: Message[DnsRecord], localnet: Any) -> None:
    if "saddr" in tally.extra:
        return
    flow = msg.flow
    tally.extra.update(saddr=flow.saddr, daddr=flow.daddr, sport=flow.sport, dport=flow.dport,
                       proto=flow.proto, localnet=str(localnet))
