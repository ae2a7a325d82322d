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

from flowalerts.core.evidence import ThreatLevel, dst_ip, src_ip
from flowalerts.core.ips import is_rfc1918_or_ula, parse_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.detections.shared.localnet import DIFFERENT_LOCALNET, DifferentLocalnetDetails
from flowalerts.engine.detection import Detection, NoConfig, Tally
from flowalerts.learners.dns import DnsFacts
from flowalerts.learners.localnet import LocalNet
from flowalerts.learners.servers import ServerRoles

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


class DnsLocalnetTally(Tally):
    """The first query of an address outside the local network (its endpoints and the network then)."""

    noted: bool = False
    saddr: str = ""
    daddr: str = ""
    sport: int = 0
    dport: int = 0
    proto: str = ""
    localnet: str = ""

    def note(self, flow: DnsRecord, localnet: str) -> None:
        if self.noted:
            return
        self.noted = True
        self.saddr, self.daddr, self.sport, self.dport = flow.saddr, flow.daddr, flow.sport, flow.dport
        self.proto, self.localnet = flow.proto, localnet


class DnsDifferentLocalnet(Detection[NoConfig, DnsLocalnetTally]):
    """DNS traffic with a private endpoint outside the local network."""

    id = "dns_different_localnet"
    channels = ("new_dns",)
    evidence = (DIFFERENT_LOCALNET,)
    needs = (DnsFacts,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        flow = msg.flow
        if flow.dport != DNS_PORT and flow.sport != DNS_PORT:
            return
        local = self.facts_of(LocalNet)
        localnet = local.local_network
        if localnet is None:
            return
        roles = self.facts_of(ServerRoles)
        for side, ip, port in (("src", flow.saddr, flow.sport), ("dst", flow.daddr, flow.dport)):
            if not _candidate(ip, localnet.version) or local.in_local_network(ip):
                continue
            if port == DNS_PORT and roles.is_dns_server(ip):
                continue
            self.tally(msg, (side, ip), 1, update=lambda tally: tally.note(flow, str(localnet)))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: DnsLocalnetTally) -> None:
        side, ip = key
        client, server = tally.saddr, tally.daddr
        port = f"{tally.dport}/{tally.proto or 'udp'}"
        if side == "src":
            attacker, victim, level, owner = src_ip(client), dst_ip(server), ThreatLevel.LOW, profile
            text = f"DNS from the private address {client}, outside the local network {tally.localnet}, to {server} port {port}"
        else:
            attacker, victim, level, owner = dst_ip(server), src_ip(client), ThreatLevel.HIGH, server
            text = f"DNS from {client} to the private address {server}, outside the local network {tally.localnet}, port {port}"
        # Reported here, not as a Finding: DIFFERENT_LOCALNET (shared with the
        # conn.log detection) grows with the count, this one does not.
        self.report(
            DIFFERENT_LOCALNET,
            profile=owner,
            twid=twid,
            ts=tally.first_ts,
            attacker=attacker,
            victim=victim,
            uids=tally.uids,
            threat_level=level,
            details=DifferentLocalnetDetails(side=side, address=ip, local_network=tally.localnet,
                                             dport=tally.dport, proto=tally.proto, log="dns"),
            description=f"{text} ({tally.count} queries in this time window)" if tally.count > 1 else text,
            src_port=tally.sport,
            dst_port=tally.dport,
            proto=tally.proto or None,
            count=tally.count,
            # The destination's evidence is owned by the destination: one per client.
            evidence_id=self.tally_id(DIFFERENT_LOCALNET, owner, twid, (profile, *key)),
        )
