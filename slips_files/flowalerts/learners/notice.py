"""Learner of notice.log facts (global): the hosts Zeek reported scanning
ports (``Scan::Port_Scan``, ``Scan::Address_Scan``). Connections of a port
scanner to unknown ports are the scan itself, not a service on an unknown
port (spec 2.5: UNKNOWN_PORT skips them)."""

from __future__ import annotations

from collections.abc import Iterable

from flowalerts.core.facts import Fact, FactStore
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import NoticeRecord
from flowalerts.engine.detection import Learner

SCAN_NOTES = ("Port_Scan", "Address_Scan")


PORT_SCANNER_TTL = 86400.0  # seconds of flow time a scanner is remembered after its last notice


class PortScanner(Fact, tag="scanner"):
    """Zeek reported ``ip`` scanning ports (notice.log) at ``ts``."""

    ip: str
    ts: float


class PortScanners(FactStore):
    """When Zeek reported each IP scanning (first and last notice)."""

    keeps = {PortScanner: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._scanners = self.state.table("facts.port_scanners")  # ip -> (first ts, last ts)

    def add(self, fact: PortScanner) -> None:
        known = self._scanners.get(fact.ip)
        span = (fact.ts, fact.ts) if known is None else (min(known[0], fact.ts), max(known[1], fact.ts))
        self._scanners.set(fact.ip, span, span[1] + PORT_SCANNER_TTL)

    def port_scan_span(self, ip: str) -> tuple[float, float] | None:
        """(first, last) flow time Zeek reported ``ip`` scanning ports, or None."""
        return self._scanners.get(ip)


class NoticeFacts(Learner):
    """Learns the port scanners Zeek reported."""

    id = "notice_facts"
    channels = ("new_notice",)
    provides = (PortScanners,)

    def learn(self, msg: Message[NoticeRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        if not any(note in flow.note for note in SCAN_NOTES):
            return None
        scanner = canonical_ip(flow.scanning_ip or flow.saddr)
        if scanner is None:
            return None
        return (PortScanner(ip=scanner, ts=flow.starttime),)
