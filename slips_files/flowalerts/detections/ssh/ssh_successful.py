"""Successful SSH logins (seed "Successful SSH connections"; spec 2.2, 5.1 item 3).

Two ways, as the seed says (INFO, 0.8; attacker the client, victim the server):

* **Zeek**: ssh.log ``auth_success`` is true (JSON ``true`` and TSV ``T`` both
  read as True; the reference compared the JSON boolean with strings and
  never took this path);
* **bytes**: otherwise, the connection's payload bytes in both directions
  (its conn.log record, joined by uid through the ``conn_by_uid`` learner)
  exceed ``threshold`` (4290): a login that failed exchanges less.

**Waiting for the conn record (issue 12).** Zeek writes ssh.log when the
authentication is seen and conn.log when the connection *ends*, hours later
for a long interactive session. So the byte method waits, with the timer
service only: a timer due at the ssh record's start fires once the watermark
passes it, i.e. once every conn record of a session up to
``time.allowed_lateness`` long has arrived; if the record is still missing the
session is still open, and the check is repeated every ``recheck`` seconds of
flow time (less than the learner keeps a conn record) for at most
``max_wait`` (24 h) after the login. At end of input what arrived decides.
The Zeek method needs no conn record and reports at once. The detection also
reads conn records: the conn record of a waiting session decides it when it
arrives (its timer is cancelled), so the join does not depend on the
learner still holding that record when the timer fires (on a busy network
its bounded table forgets within minutes).

One evidence per (profile, window, server) (issue 13): each successful login
reports it again with the same id and the grown count (an update), since a
decision can come after its window closed. INFO whatever the count.

Exceptions, and why: ssh records without a uid cannot be joined to their
conn record (the Zeek method still works for them).
"""

from __future__ import annotations

import math

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord, SshRecord
from flowalerts.engine.detection import Detection
from flowalerts.learners.conn import CONN_BY_UID_TTL, ConnByUid, ConnsByUid, ConnSummary, conn_summary

MAX_UIDS = 1_000
# How long the per-server sums are kept after their last login (seconds of flow time).
SUMS_TTL = 2 * 86400.0


class SshSuccessfulConfig(SectionConfig):
    threshold: int = 4290  # bytes in both directions, strictly more
    max_wait: float = 86400.0  # seconds of flow time after the login to wait for the conn record
    recheck: float = CONN_BY_UID_TTL / 2  # seconds of flow time between checks for a long session

    slips_keys = {"ssh_succesful_detection_threshold": "threshold"}


class PendingSsh(msgspec.Struct, gc=False):
    profile: str
    twid: int
    ts: float
    saddr: str
    daddr: str
    # Already reported by Zeek's verdict: the conn record only adds its byte count.
    by_zeek: bool = False


class Logins(msgspec.Struct):
    """The successful logins of one (profile, window) to one server, kept
    while later decisions can still update its evidence."""

    first_ts: float
    saddr: str  # the client (from the first login's conn record when known)
    zeek: int = 0  # decided by Zeek's auth_success
    bytes: int = 0  # decided by the byte count
    largest: int = -1  # the largest byte count seen (-1: none)
    uids: list[str] = msgspec.field(default_factory=list)  # sorted, at most MAX_UIDS

    def add(self, ts: float, uid: str, method: str, size: int) -> None:
        self.first_ts = min(self.first_ts, ts)
        if method == "zeek":
            self.zeek += 1
        else:
            self.bytes += 1
        self.largest = max(self.largest, size)
        if uid and uid not in self.uids and len(self.uids) < MAX_UIDS:
            self.uids.append(uid)
            self.uids.sort()


class SshSuccessfulDetails(Details):
    server: str
    sessions: int  # successful logins to this server in this window
    by_zeek: int  # decided by Zeek's auth_success
    by_bytes: int  # decided by the byte count
    largest_bytes: int  # the largest byte count seen (-1: no conn record for any)
    threshold: int


SSH_SUCCESSFUL = EvidenceKind(
    "SSH_SUCCESSFUL",
    ThreatLevel.INFO,
    confidence=0.8,
    details=SshSuccessfulDetails,
    category="Attempt.Login",
    summary="an SSH login that succeeded (Zeek's auth_success, or > 4290 bytes in its conn record); one per server and window",
)


class SshSuccessful(Detection[SshSuccessfulConfig]):
    """SSH connections that authenticated (Zeek's verdict or the byte count)."""

    id = "ssh_successful"
    # conn records decide the sessions waiting for them (see the docstring).
    channels = ("new_ssh", "new_flow")
    # Late records too: a conn record is written when its session ends, often
    # after the login's window closed, and still decides it; the decisions use
    # no window state (reported by id, as updates).
    late_records = True
    evidence = (SSH_SUCCESSFUL,)
    needs = (ConnByUid,)
    logs = ("ssh",)  # without conn.log the Zeek method still works

    def handle(self, msg: Message[SshRecord | ConnRecord]) -> None:
        flow = msg.flow
        if isinstance(flow, ConnRecord):
            self._connection(flow)
            return
        if not is_ip(flow.saddr) or not is_ip(flow.daddr):
            return
        conn = self.facts_of(ConnsByUid).conn_of_uid(flow.uid) if flow.uid else None
        entry = PendingSsh(profile=msg.profile, twid=msg.twid, ts=flow.starttime, saddr=flow.saddr, daddr=flow.daddr)
        if flow.auth_success is True:
            self._success(entry, flow.uid, "zeek", conn)
            entry.by_zeek = True
        elif conn is not None:
            self._decide(entry, flow.uid, conn)
        if conn is None and flow.uid:
            self.schedule(flow.uid, flow.starttime, entry)

    def on_timer(self, key: str, payload: PendingSsh) -> None:
        uid, entry = key, payload
        conn = self.facts_of(ConnsByUid).conn_of_uid(uid)
        if conn is not None:
            if entry.by_zeek:
                self._add_bytes(entry, conn)
            else:
                self._decide(entry, uid, conn)
            return
        watermark = self.watermark
        if math.isfinite(watermark) and watermark < entry.ts + self.config.max_wait:
            # The session is still open (its conn record comes when it ends): look again later.
            self.schedule(uid, min(watermark + self.config.recheck, entry.ts + self.config.max_wait), entry)

    # -- internals --------------------------------------------------------------------
    def _connection(self, flow: ConnRecord) -> None:
        """The conn record of a session waiting for it (if any) decides it now."""
        if not flow.uid:
            return
        entry: PendingSsh | None = self.cancel(flow.uid)
        if entry is None:
            return
        conn = conn_summary(flow)
        if entry.by_zeek:
            self._add_bytes(entry, conn)
        else:
            self._decide(entry, flow.uid, conn)

    def _decide(self, entry: PendingSsh, uid: str, conn: ConnSummary) -> None:
        if conn.sbytes + conn.dbytes > self.config.threshold:
            self._success(entry, uid, "bytes", conn)

    def _add_bytes(self, entry: PendingSsh, conn: ConnSummary) -> None:
        """A login Zeek already reported: its conn record adds the byte count (an update)."""
        known: Logins | None = self.table("sessions").get((entry.profile, entry.twid, entry.daddr))
        size = conn.sbytes + conn.dbytes
        if known is not None and size > known.largest:
            known.largest = size
            self._report(entry, known, size, "zeek")

    def _success(self, entry: PendingSsh, uid: str, method: str, conn: ConnSummary | None) -> None:
        saddr = conn.saddr if conn is not None and conn.saddr else entry.saddr
        size = conn.sbytes + conn.dbytes if conn is not None else -1
        sums = self.table("sessions")
        key = (entry.profile, entry.twid, entry.daddr)
        known: Logins | None = sums.get(key)
        if known is None:
            known = Logins(first_ts=entry.ts, saddr=saddr)
        known.add(entry.ts, uid, method, size)
        sums.set(key, known, entry.ts + SUMS_TTL)
        self._report(entry, known, size, method)

    def _report(self, entry: PendingSsh, known: Logins, size: int, method: str) -> None:
        saddr, daddr = known.saddr, entry.daddr
        sessions = known.zeek + known.bytes
        size_text = f"{size} bytes exchanged" if size >= 0 else "byte count unknown (no conn record)"
        how = "Zeek's auth_success" if method == "zeek" else f"its byte count (above {self.config.threshold})"
        many = f"; {sessions} successful logins to {daddr} in this time window" if sessions > 1 else ""
        self.report(
            SSH_SUCCESSFUL,
            profile=entry.profile,
            twid=entry.twid,
            ts=known.first_ts,
            attacker=src_ip(known.saddr),
            victim=dst_ip(daddr),
            uids=known.uids,
            details=SshSuccessfulDetails(server=daddr, sessions=sessions, by_zeek=known.zeek,
                                         by_bytes=known.bytes, largest_bytes=known.largest,
                                         threshold=self.config.threshold),
            description=f"successful SSH login from {saddr} to {daddr}, {size_text}; decided by {how}{many}",
            count=sessions,
            occurrences=sessions,
            evidence_id=self.tally_id(SSH_SUCCESSFUL, entry.profile, entry.twid, daddr),
        )
