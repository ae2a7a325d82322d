"""Pastebin downloads over TLS (seed; spec 2.20 INTENT; the reference's TLS
path crashes and never reports).

A client downloads at least ``threshold`` bytes (default 700, inclusive; Slips
key ``pastebin_download_threshold``) over TLS from a host whose SNI contains
"pastebin": malware fetches second stages and configuration from paste
sites. The size is the connection's downloaded bytes, conn.log ``resp_bytes``
(``dbytes``), joined by uid (the ``conn_by_uid`` learner).

Zeek writes the conn record when the connection ends, often long after the
ssl record: the ssl record waits in a flow-time timer (``("conn", uid)``),
checked ``CONN_WAIT`` seconds after the connection's start and then every
``CONN_RECHECK`` seconds until ``max_wait`` (default 6 hours, the seed's
"may take hours"); with the clock's allowed lateness a check at ``ts + d``
has seen every connection that lasted up to ``d`` plus the lateness. Past
``max_wait``, or at the end of input, a connection whose conn record never
came is dropped. The detection also reads conn records: the conn record of
a waiting download decides it when it arrives (its timer is cancelled), so
the join does not depend on the learner still holding the record when the
timer fires (on a busy network its bounded table forgets within minutes).
Inside Slips the conn record comes from Slips's own ``new_flow`` channel:
the join works the same way.

Exceptions, and why:

* fewer bytes than the threshold: a page view or an error, not a download.

The evidence kind is shared with the HTTP path (``detections/http``), which
should import it from here.

INFO, confidence 1.0, attacker the client, profile the client. One evidence
per (profile, window, SNI), with the count of downloads, their total bytes and
every uid (INFO: the level does not grow).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import escape_text
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord, SslRecord
from flowalerts.detections.shared.pastebin import PASTEBIN_DOWNLOAD, PastebinDetails
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.learners.conn import ConnByUid, ConnsByUid, ConnSummary, conn_summary
from flowalerts.traffic.tls_names import normalise_host

CONN_WAIT = 300.0
CONN_RECHECK = 1800.0


class PastebinTlsConfig(SectionConfig):
    threshold: int = 700  # bytes, inclusive
    max_wait: float = 6 * 3600.0  # seconds of flow time to wait for the conn record

    slips_keys = {"pastebin_download_threshold": "threshold"}


class WaitingDownload(msgspec.Struct, array_like=True, gc=False):
    profile: str
    twid: int
    late: bool
    flow: SslRecord


@dataclasses.dataclass
class AwaitingConn:
    """Window state: a record of the window waits for its conn record (so the
    window is kept until it closes, and the join can tell whether it closed)."""

    records: int = 0


class DownloadTally(Tally):
    total_bytes: int = 0
    largest_bytes: int = 0
    dport: int = -1  # the first download's server port (-1: none yet)
    threshold_bytes: int = 0  # the threshold it was judged by

    def note(self, dbytes: int, dport: int, threshold: int) -> None:
        self.total_bytes += dbytes
        self.largest_bytes = max(self.largest_bytes, dbytes)
        if self.dport < 0:
            self.dport, self.threshold_bytes = dport, threshold


class PastebinTls(Detection[PastebinTlsConfig, DownloadTally]):
    """A download of at least the threshold from a pastebin host over TLS."""

    id = "pastebin_tls"
    # conn records decide the downloads waiting for them (see the docstring).
    channels = ("new_ssl", "new_flow")
    # A conn record that arrives after its window closed still ends the wait of
    # a download (its window's evidence is settled: the join then counts it as late).
    late_records = True
    logs = ("ssl", "conn")
    needs = (ConnByUid,)
    evidence = (PASTEBIN_DOWNLOAD,)

    def handle(self, msg: Message[SslRecord | ConnRecord]) -> None:
        flow = msg.flow
        if type(flow) is ConnRecord:
            waiting: WaitingDownload | None = self.cancel(("conn", flow.uid)) if flow.uid else None
            if waiting is not None:
                self._joined(waiting, conn_summary(flow))
            return
        if not isinstance(flow, SslRecord):
            return
        if "pastebin" not in flow.server_name.lower() or not flow.uid or not is_ip(flow.saddr):
            return
        conn = self.facts_of(ConnsByUid).conn_of_uid(flow.uid)
        if conn is not None:
            self._decide(Message(profile=msg.profile, twid=msg.twid, flow=flow, late=msg.late), conn)
            return
        if not msg.late:
            self.window(msg, AwaitingConn).records += 1
        waiting = WaitingDownload(profile=msg.profile, twid=msg.twid, late=msg.late, flow=flow)
        self.schedule(("conn", flow.uid), flow.starttime + CONN_WAIT, waiting)

    def on_timer(self, key: Any, payload: Any) -> None:
        waiting: WaitingDownload = payload
        flow = waiting.flow
        conn = self.facts_of(ConnsByUid).conn_of_uid(flow.uid)
        if conn is None:
            # Check again later, unless input ended or the wait is over.
            due = self.watermark + CONN_RECHECK
            if self.watermark != float("inf") and due <= flow.starttime + self.config.max_wait:
                self.schedule(key, due, waiting)
            return
        self._joined(waiting, conn)

    def _joined(self, waiting: WaitingDownload, conn: ConnSummary) -> None:
        closed = waiting.late or self.window_of(waiting.profile, waiting.twid) is None
        self._decide(Message(profile=waiting.profile, twid=waiting.twid, flow=waiting.flow, late=closed), conn)

    def _decide(self, msg: Message[SslRecord], conn: ConnSummary) -> None:
        if conn.dbytes < self.config.threshold:
            return
        flow = msg.flow
        threshold = self.config.threshold
        self.tally(msg, normalise_host(flow.server_name)[:253], 1,
                   update=lambda tally: tally.note(conn.dbytes, flow.dport, threshold))

    def report_tally(self, profile: str, twid: int, key: str, tally: DownloadTally) -> Finding:
        total = tally.total_bytes
        return Finding(
            victim=None,
            details=PastebinDetails(host=key, downloads=tally.count, total_bytes=total,
                                    largest_bytes=tally.largest_bytes, threshold=tally.threshold_bytes, path="tls"),
            description=(
                f"download from pastebin over TLS: {profile} received {total / 1e6:g} MB from "
                f"{escape_text(key, 200)} in {tally.count} connection(s) in this time window"
            ),
            dst_port=tally.dport if tally.dport > 0 else None,
            proto="tcp",
        )
