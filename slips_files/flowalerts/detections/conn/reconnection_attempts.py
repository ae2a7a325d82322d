"""Multiple reconnection attempts (seed; spec 2.12, 2.13).

Five or more TCP connection attempts that never got established (Slips's
interpreted state: Zeek ``conn_state`` S0, REJ, RSTOS0, SH, and RSTR/RST/FIN
with at most 3 packets) from a profile to one destination IP and port within
a time window: a service being hammered (C2 retrying, brute force, a scan of
one port).

One evidence per (profile, window, destination, port): it is reported when the
count reaches the threshold and updated (same id) when the window closes with
the final count and every attempt's uid. Its threat level and confidence grow
with the count over the threshold (the kind's ``Growth``), and for alerts it
weighs as one evidence per ``threshold`` attempts.

Exceptions, and why:

* UDP is not counted: it has no handshake, and Zeek marks every unanswered
  datagram (broadcasts, retries) S0;
* only the profile's unanswered attempts count (``attempt``): the history
  shows the originator trying (its SYN ``S``, or payload ``D`` sent into
  silence) and nothing came back from the server (no ``d``, no bytes). A
  record of only the responder's packets (``SHR`` with history ``f``: the
  tail of a connection that ended, logged on its own) is not an attempt,
  and one that carried payload from the server (``RSTOS0`` with a megabyte:
  a connection Zeek saw part of) was not a failure (issue 21,
  CTU-Normal-44: all 10 benign flows this detection hit);
* **the server answered the profile** in the same window (an established
  connection, or payload from the server, to the same IP and port; telnet:
  to either port): the service is up and reachable from this host, so the
  failures are transient (packet loss, an overloaded server, a browser
  giving up parallel connections), not a host hammering a dead service, a
  closed port or a C2 that is gone. The evidence is then info (context,
  never alert weight). It is reported at the threshold as usual; when the
  server's answer comes later in the window, the window's close reports the
  final, info version (same id), so the result is the same in any arrival
  order.
* telnet (TCP 23 and 2323) uses its own, lower threshold (4) and counts per
  destination (any of the two ports): telnet brute forcing of IoT devices
  spreads over both ports.
"""

from __future__ import annotations

import dataclasses

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, Growth, ThreatLevel, dst_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.traffic.conn_flows import MIDSTREAM_STATES

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
    summary=">= 5 unanswered TCP attempts (SYN seen, nothing exchanged) to one IP and port in a window (telnet: 4 "
    "per IP); info when the server answered the host in it; one per target",
    grows=Growth(weighs="threshold"),
)


# Most (destination, port) pairs remembered per window as having answered.
MAX_ANSWERED = 10_000


def answered(flow: ConnRecord) -> bool:
    """The server answered: an established connection (Slips's interpreted
    state), or payload from the responder on a connection Zeek saw part of."""
    return flow.is_established or flow.dbytes > 0 or "d" in flow.history


def attempt(flow: ConnRecord) -> bool:
    """A connection attempt of the originator that got no answer: not
    established, nothing from the server (``answered``), not a state of only
    the responder's packets (SHR, RSTRH) or mid-stream traffic (OTH), and the
    history shows the originator trying (its SYN ``S``, or payload ``D``
    sent into silence) rather than only a FIN or ACK of an earlier
    connection."""
    if answered(flow) or flow.state in MIDSTREAM_STATES:
        return False
    history = flow.history
    return not history or "S" in history or "D" in history


# (destination IP, port; 0 for telnet)
Target = tuple[str, int]


class ReconnectionTally(Tally):
    # A tuple: most tallies of a busy network never reach the threshold and
    # keep one state (a set would cost more and be tracked by the GC).
    states: tuple[str, ...] = ()  # up to 16

    def note_state(self, state: str) -> None:
        if state not in self.states and len(self.states) < 16:
            self.states = (*self.states, state)


@dataclasses.dataclass(slots=True)  # one per (profile, window): no __dict__
class Answered:
    """The targets that answered the profile in a window (up to MAX_ANSWERED)."""

    targets: set[Target] = dataclasses.field(default_factory=set)


class ReconnectionAttempts(Detection[ReconnectionConfig, ReconnectionTally]):
    """Repeated not-established TCP connections to one destination and port."""

    id = "reconnection_attempts"
    channels = ("new_flow",)
    evidence = (MULTIPLE_RECONNECTION_ATTEMPTS,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        if flow.proto.lower() != "tcp" or not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return
        telnet = flow.dport in TELNET_PORTS
        key = (flow.daddr, 0 if telnet else flow.dport)
        if answered(flow):
            self._answered(msg, key)
            return
        if not attempt(flow):
            return
        threshold = self.config.telnet_threshold if telnet else self.config.threshold
        state = flow.state
        self.tally(msg, key, threshold, update=lambda tally: tally.note_state(state))

    def _answered(self, msg: Message[ConnRecord], key: Target) -> None:
        targets = self.window(msg, Answered).targets
        if key in targets or len(targets) >= MAX_ANSWERED:
            return
        targets.add(key)
        tally = self.tallies(msg.profile, msg.twid).get(key)
        if tally is not None and tally.reported:
            # Already reported as failures: the window's close reports the final, info version.
            tally.reported = 0

    def report_tally(self, profile: str, twid: int, key: Target, tally: ReconnectionTally) -> Finding:
        window = self.window_of(profile, twid, Answered)
        server_answered = window is not None and key in window.targets
        daddr, dport = key
        target = f"{daddr} telnet (23, 2323)" if dport == 0 else f"{daddr} port {dport}/tcp"
        return Finding(
            victim=dst_ip(daddr),
            level=ThreatLevel.INFO if server_answered else None,
            details=ReconnectionDetails(attempts=tally.count, threshold=tally.threshold, dport=dport,
                                        telnet=dport == 0, states=sorted(tally.states)),
            description=f"{tally.count} failed connection attempts from {profile} to {target} in this time window"
            + (" (the server answered this host in the window: transient failures)" if server_answered else ""),
            dst_port=dport or None,
            proto="tcp",
        )
