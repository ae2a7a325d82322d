"""Devices changing IPs (spec 2.34).

The conn learner maps each source MAC (Zeek ``orig_l2_addr``) to the IPs it
was seen with, first first. The first private IPv4 a MAC was seen with is its
original address; a flow from a different private IPv4 with that MAC is a
device that changed its IP. Once per (MAC, IP) while the MAC facts live.
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, src_ip
from flowalerts.facts import MAC_TTL
from flowalerts.knowledge.ips import is_ipv4, is_rfc1918_or_ula
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord


def _private_v4(ip: str) -> bool:
    return is_ipv4(ip) and is_rfc1918_or_ula(ip)


class DeviceChangingIp(Detector):
    """A MAC first seen with one private IPv4, now sourcing from another."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.DEVICE_CHANGING_IP,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.8

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.reported = self.state.table("device_changing_ip_reported")

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not flow.smac or not _private_v4(flow.saddr):
            return None
        mac = flow.smac.lower()
        original = next((ip for ip in self.facts.ips_of_mac(mac) if _private_v4(ip)), None)
        if original is None or original == flow.saddr:
            return None
        key = (mac, flow.saddr)
        if self.reported.get(key) is not None:
            return None
        self.reported.set(key, flow.starttime, flow.starttime + MAC_TTL)
        return [
            make_evidence(
                EvidenceType.DEVICE_CHANGING_IP,
                description=f"Device with MAC {flow.smac} now uses IP {flow.saddr}; "
                f"it was first seen with IP {original}",
                attacker=src_ip(flow.saddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
            )
        ]
