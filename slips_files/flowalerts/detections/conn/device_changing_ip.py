"""Devices changing IPs (seed "Devices changing IPs"; spec 2.34).

The learners map each MAC address (Zeek ``orig_l2_addr`` in conn.log, the
client MAC in dhcp.log) to the IPs it was seen with and when each was first
seen. The first private IPv4 a MAC was seen with is the device's address; a
flow from another private IPv4 with the same MAC is the device having changed
its IP (or someone taking over its MAC). Reported once per (MAC, new IP) for
as long as the MAC facts live (7 days of flow time), owned by the new IP's
profile, in the window of the first flow from it.

Order: Zeek writes a conn record when the connection ends, so the record that
shows a MAC's first IP can arrive after a later one from its new IP. The
decision for (MAC, IP) is therefore taken when the watermark passes the first
flow of that pair (a timer): every record that started earlier has arrived,
so the "first IP" is the same in any arrival order within the allowed
lateness.

Exceptions, and why:

* sources that are not private IPv4 (public, IPv6, link-local, 0.0.0.0): a
  MAC seen with public addresses is a router forwarding traffic; IPv4 and
  IPv6 addresses of one device coexist;
* flows without a MAC (most Zeek setups do not log it).
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, NoConfig
from flowalerts.learners.conn import MAC_TTL, LayerTwo, MacTable
from flowalerts.learners.dhcp import DhcpFacts
from flowalerts.traffic.conn_flows import PRIVATE, ip_info


class DeviceChangingIpDetails(Details):
    mac: str
    original_ip: str  # the first private IPv4 the MAC was seen with


DEVICE_CHANGING_IP = EvidenceKind(
    "DEVICE_CHANGING_IP",
    ThreatLevel.MEDIUM,
    confidence=0.8,
    details=DeviceChangingIpDetails,
    category="Fraud.Masquerade",
    summary="a MAC first seen with one private IPv4 now sourcing traffic from another; once per (MAC, IP)",
)


class Pending(msgspec.Struct, array_like=True, gc=False):
    """The first flow seen from (MAC, IP), waiting for the watermark."""

    profile: str
    twid: int
    ts: float
    uid: str


def _private_v4(ip: str) -> str | None:
    info = ip_info(ip)
    if info is None or info.version != 4 or not info.flags & PRIVATE:
        return None
    return info.canonical


class DeviceChangingIp(Detection[NoConfig]):
    """A MAC first seen with one private IPv4, later sourcing from another."""

    id = "device_changing_ip"
    channels = ("new_flow",)
    evidence = (DEVICE_CHANGING_IP,)
    needs = (LayerTwo, DhcpFacts)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        if not flow.smac:
            return
        ip = _private_v4(flow.saddr)
        if ip is None:
            return
        key = (flow.smac.lower(), ip)
        if self.table("decided").get(key) is not None:
            return
        waiting = self.pending(key)
        ts = flow.starttime
        if waiting is not None and waiting.ts <= ts:
            return
        # Decide once every record that started before this pair's first flow has arrived.
        self.schedule(key, ts, Pending(profile=msg.profile, twid=msg.twid, ts=ts, uid=flow.uid))

    def on_timer(self, key: tuple[str, str], payload: Pending) -> None:
        mac, ip = key
        self.table("decided").set(key, True, payload.ts + MAC_TTL)
        original = next((known for known in map(_private_v4, self.facts_of(MacTable).ips_of_mac(mac)) if known), None)
        if original is None or original == ip:
            return
        self.report(
            DEVICE_CHANGING_IP,
            profile=payload.profile,
            twid=payload.twid,
            ts=payload.ts,
            attacker=src_ip(ip),
            uids=[payload.uid],
            details=DeviceChangingIpDetails(mac=mac, original_ip=original),
            description=f"the device with MAC {mac} now uses IP {ip}; it was first seen with IP {original}",
        )
