"""Port scans reported by Zeek in notice.log (seed "Zeek alerts"; spec 2.14).

* ``Scan::Port_Scan`` -> VERTICAL_PORT_SCAN: one host probed many ports of
  one host. Attacker the scanner (the notice's ``src``), victim the scanned
  host, read from Zeek's message ("... ports of host X in ...") and kept only
  when it is an IP address (the reference raised on anything else and
  stopped the whole module, spec 5.4 item 34).
* ``Scan::Address_Scan`` -> HORIZONTAL_PORT_SCAN: one host probed one port on
  many hosts. No victim; the port is in the details.

Both HIGH, 1.0, owned by the scanner's profile. A Zeek notice is already a
threshold decision ("at least 15 ports"), and Zeek suppresses repeats of the
same notice for an hour, so a repeat in one window is the same scan seen
again (a longer capture, or logs of two sensors). One evidence per (profile,
window, scanned host) for vertical scans and per (profile, window, port) for
horizontal ones (issue 13): reported at the first notice, updated at window
close with the number of notices and their uids. Its level does not grow (the
notice already stands for many probes); for alerts it weighs as one evidence
per notice, as before.

Exceptions, and why:

* other notices: SSH password guessing belongs to Slips's brute-force module,
  ICMP scans to its network-discovery module, and the gateway notice to the
  profiler;
* a scanner that is not an IP address.
"""

from __future__ import annotations

from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_ip, escape_text
from flowalerts.core.ips import canonical_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import NoticeRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally

VICTIM_MARK = "ports of host "
MAX_MESSAGE = 300


def victim_of_port_scan(text: str) -> str | None:
    """The host after "ports of host " up to the next space, if it is an IP."""
    start = text.find(VICTIM_MARK)
    if start < 0:
        return None
    rest = text[start + len(VICTIM_MARK) : start + len(VICTIM_MARK) + 64]
    return canonical_ip(rest.split(" ", 1)[0])


class PortScanDetails(Details):
    notices: int  # Zeek notices of this scan in this window
    port: int  # the scanned port (horizontal), 0 when Zeek did not say
    scanned_host: str  # the scanned host (vertical), "" when unknown
    message: str  # Zeek's message of the earliest notice (cut to 300 characters)


VERTICAL_PORT_SCAN = EvidenceKind(
    "VERTICAL_PORT_SCAN",
    ThreatLevel.HIGH,
    confidence=1.0,
    details=PortScanDetails,
    category="Recon.Scanning",
    summary="Zeek's Scan::Port_Scan notice (many ports of one host); one per scanned host and window",
    grows=FIXED,  # the notice already stands for many probes; weighs as each notice
)

HORIZONTAL_PORT_SCAN = EvidenceKind(
    "HORIZONTAL_PORT_SCAN",
    ThreatLevel.HIGH,
    confidence=1.0,
    details=PortScanDetails,
    category="Recon.Scanning",
    summary="Zeek's Scan::Address_Scan notice (one port on many hosts); one per port and window",
    grows=FIXED,  # the notice already stands for many probes; weighs as each notice
)


class NoticeTally(Tally):
    # Zeek's message of the earliest notice (by flow time, not by arrival), so
    # the evidence does not depend on the order the notices were read.
    message: str = ""
    message_ts: float = float("inf")

    def note(self, flow: NoticeRecord) -> None:
        if self.count == 1 or flow.starttime < self.message_ts:  # count is 1 at the first notice
            self.message, self.message_ts = flow.msg[:MAX_MESSAGE], flow.starttime


class ZeekNotices(Detection[NoConfig, NoticeTally]):
    """Vertical and horizontal port scans reported by Zeek."""

    id = "zeek_notices"
    channels = ("new_notice",)
    evidence = (VERTICAL_PORT_SCAN, HORIZONTAL_PORT_SCAN)

    def handle(self, msg: Message[NoticeRecord]) -> None:
        flow = msg.flow
        note = flow.note
        if "Port_Scan" in note:
            kind = VERTICAL_PORT_SCAN
        elif "Address_Scan" in note:
            kind = HORIZONTAL_PORT_SCAN
        else:
            return
        scanner = canonical_ip(flow.scanning_ip or flow.saddr)
        if scanner is None:
            return
        if kind is VERTICAL_PORT_SCAN:
            target: str | int = victim_of_port_scan(flow.msg) or ""
        else:
            target = flow.scanned_port or flow.dport
        self.tally(msg, (kind.name, scanner, target), 1, update=lambda tally: tally.note(flow))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str, str | int], tally: NoticeTally) -> Finding:
        kind_name, scanner, target = key
        vertical = kind_name == VERTICAL_PORT_SCAN.name
        message = tally.message
        what = "vertical port scan" if vertical else "horizontal port scan"
        times = f" ({tally.count} notices in this time window)" if tally.count > 1 else ""
        # Owned by the scanner (the notice's profile may be another address).
        return Finding(
            kind=VERTICAL_PORT_SCAN if vertical else HORIZONTAL_PORT_SCAN,
            profile=scanner,
            victim=dst_ip(str(target)) if vertical and target else None,
            details=PortScanDetails(notices=tally.count, port=0 if vertical else int(target),
                                    scanned_host=str(target) if vertical else "", message=message),
            description=f"{what} reported by Zeek: {escape_text(message, limit=MAX_MESSAGE)}{times}",
            dst_port=None if vertical else (int(target) or None),
        )
