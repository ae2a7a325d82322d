"""Detections that need the conn.log record of their connection (by uid).

Zeek writes conn.log when a connection ends, so the conn record can come after
the ssh/ssl record that needs its byte counts. A ``ConnJoinDetector`` keeps
each such record in a pending table until the conn record is known
(``facts.conn_of_uid``) or flow time passes ``ts + CONN_WAIT``, then calls
``decide``; anything left is decided at end of input. Never the wall clock.
Each uid is reported at most once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flowalerts.core.evidence import Evidence
from flowalerts.core.facts import ConnSummary
from flowalerts.modules.flow_alerts.detector import Detector, DetectorContext, Result

# Seconds of flow time to wait for the conn record.
CONN_WAIT = 300.0
PENDING_TTL = CONN_WAIT + 3600.0
DONE_TTL = 4 * 3600.0


class ConnJoinDetector(Detector):
    """Base class: ``wait_for_conn`` in ``handle``, verdict in ``decide``."""

    abstract = True
    # Prefix of the two state tables (pending entries, reported uids).
    table_prefix: ClassVar[str] = ""

    def __init__(self, ctx: DetectorContext) -> None:
        super().__init__(ctx)
        self.pending = self.state.table(f"{self.table_prefix}_pending")
        self.done = self.state.table(f"{self.table_prefix}_done")

    def decide(self, uid: str, entry: Any, conn: ConnSummary | None) -> Evidence | None:
        """The evidence for a settled entry (``conn`` is None if never seen)."""
        raise NotImplementedError

    def wait_for_conn(self, uid: str, entry: Any, ts: float) -> list[Evidence] | None:
        """Hold ``entry`` until the conn record of ``uid`` is known."""
        if not uid or self.done.get(uid) is not None or self.pending.get(uid) is not None:
            return None
        self.pending.set(uid, entry, ts + PENDING_TTL)
        return self._settle([uid], self.state.watermark, final=False)

    def on_watermark(self, watermark: float) -> Result:
        return self._settle([uid for uid, _ in self.pending.items()], watermark, final=False)

    def finish(self) -> Result:
        return self._settle([uid for uid, _ in self.pending.items()], float("inf"), final=True)

    def _settle(self, uids: list[str], watermark: float, final: bool) -> list[Evidence]:
        out: list[Evidence] = []
        for uid in uids:
            entry = self.pending.get(uid)
            if entry is None:
                continue
            conn = self.facts.conn_of_uid(uid)
            if conn is None and not final and watermark < entry.starttime + CONN_WAIT:
                continue
            self.pending.delete(uid)
            evidence = self.decide(uid, entry, conn)
            if evidence is not None:
                self.done.set(uid, True, entry.starttime + DONE_TTL)
                out.append(evidence)
        return out
