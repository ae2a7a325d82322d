"""Learner of notice.log facts (global): the hosts Zeek reported scanning
ports (``Scan::Port_Scan``, ``Scan::Address_Scan``). Connections of a port
scanner to unknown ports are the scan itself, not a service on an unknown
port (spec 2.5: UNKNOWN_PORT skips them)."""

from __future__ import annotations

from collections.abc import Iterable

from flowalerts.core.facts import Fact, PortScanner
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import NoticeRecord
from flowalerts.engine.detection import Learner

SCAN_NOTES = ("Port_Scan", "Address_Scan")


class NoticeFacts(Learner):
    """Learns the port scanners Zeek reported."""

    id = "notice_facts"
    channels = ("new_notice",)

    def learn(self, msg: Message[NoticeRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        if not any(note in flow.note for note in SCAN_NOTES):
            return None
        scanner = canonical_ip(flow.scanning_ip or flow.saddr)
        if scanner is None:
            return None
        return (PortScanner(ip=scanner, ts=flow.starttime),)
