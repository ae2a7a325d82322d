"""Multiple reconnection attempts (seed; spec 2.12, 2.13).

Five or more TCP connection attempts that never got established (Zeek
``conn_state`` S0, REJ, RSTOS0, RSTRH, SH, SHR, and RSTR/RST/FIN with at most
3 packets) from a profile to one destination IP and port within a time window:
a service being hammered (C2 retrying, brute force, a scan of one port).

One evidence per (profile, window, destination, port): it is reported when the
count reaches the threshold and updated (same id) when the window closes with
the final count and every attempt's uid. Its threat level and confidence grow
with the count (``flowalerts.core.evidence.scale_with_count``), and for alerts it
weighs as one evidence per ``threshold`` attempts.

Exceptions, and why:

* UDP is not counted: it has no handshake, and Zeek marks every unanswered
  datagram (broadcasts, retries) S0;
* telnet (TCP 23 and 2323) uses its own, lower threshold (4) and counts per
  destination (any of the two ports): telnet brute forcing of IoT devices
  spreads over both ports.
"""

from __future__ import annotations

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, scale_with_count, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Tally

TELNET_PORTS = frozenset({23, 2323})


class ReconnectionConfig(SectionConfig):
    threshold: int = 5
    telnet_threshold: int = 4

    slips_keys = {
        "reconnection_attempts_threshold": "threshold",
        "telnet_reconnection_attempts_threshold": "telnet_threshold",
    }


class ReconnectionDetails(Details):
    attempts: int
    threshold: int
    dport: int  # 0 for telnet (23 and 2323 together)
    telnet: bool
    states: list[str]


MULTIPLE_RECONNECTION_ATTEMPTS = EvidenceKind(
    "MULTIPLE_RECONNECTION_ATTEMPTS",
    ThreatLevel.MEDIUM,
    confidence=0.5,
    details=ReconnectionDetails,
    category="Attempt.Login",
    summary=">= 5 not-established TCP attempts to one IP and port in a window (telnet: 4 per IP); one per target",
)


def _note_state(tally: Tally, state: str) -> None:
    # A tuple: most tallies of a busy network never reach the threshold and
    # keep one state (a list would cost more and be tracked by the GC).
    states = tally.extra.get("states", ())
    if state not in states and len(states) < 16:
        tally.extra["states"] = (*states, state)


class ReconnectionAttempts(Detection):
    """Repeated not-established TCP connections to one destination and port."""

    id = "reconnection_attempts"
    channels = ("new_flow",)
    Config = ReconnectionConfig
    evidence = (MULTIPLE_RECONNECTION_ATTEMPTS,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        if flow.is_established or flow.proto.lower() != "tcp" or not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return
        telnet = flow.dport in TELNET_PORTS
        key = (flow.daddr, 0 if telnet else flow.dport)
        threshold = self.config.telnet_threshold if telnet else self.config.threshold
        self.tally(msg, key, threshold, update=lambda tally: _note_state(tally, flow.state))

    def report_tally(self, profile: str, twid: int, key: tuple[str, int], tally: Tally) -> None:
        daddr, dport = key
        threshold = tally.threshold
        level, confidence = scale_with_count(MULTIPLE_RECONNECTION_ATTEMPTS, tally.count, threshold)
        target = f"{daddr} telnet (23, 2323)" if dport == 0 else f"{daddr} port {dport}/tcp"
        self.report(
            MULTIPLE_RECONNECTION_ATTEMPTS,
            profile=profile,
            twid=twid,
            ts=tally.first_ts,
            attacker=src_ip(profile),
            victim=dst_ip(daddr),
            uids=tally.uids,
            threat_level=level,
            confidence=confidence,
            details=ReconnectionDetails(attempts=tally.count, threshold=threshold, dport=dport,
                                        telnet=dport == 0, states=sorted(tally.extra.get("states", ()))),
            description=f"{tally.count} failed connection attempts from {profile} to {target} in this time window",
            dst_port=dport or None,
            proto="tcp",
            count=tally.count,
            occurrences=tally.count // threshold,
            evidence_id=self.tally_id(MULTIPLE_RECONNECTION_ATTEMPTS, profile, twid, key),
        )
