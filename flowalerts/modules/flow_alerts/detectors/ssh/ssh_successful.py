"""Successful SSH logins (spec 2.2, both methods).

From ssh.log: ``auth_success`` true (JSON ``true`` and TSV ``T`` both read as
True) is a success "by Zeek"; otherwise the connection's payload bytes in both
directions (its conn.log record, joined by uid) above
``ssh_succesful_detection_threshold`` is a success "by byte count".

The conn record can be logged after the ssh record (Zeek writes conn.log when
the connection ends), so each ssh record waits in a pending table until its
conn record is known or flow time passes ``ts + CONN_WAIT``; anything left is
settled at end of input. Never the wall clock. Once per uid.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SshRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence

# Seconds of flow time to wait for the conn record of an ssh record.
CONN_WAIT = 300.0
PENDING_TTL = CONN_WAIT + 3600.0
DONE_TTL = 4 * 3600.0


class PendingSsh(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    profile: str
    twid: int
    starttime: float
    saddr: str
    daddr: str
    auth_success: bool


class SshSuccessful(Detector):
    """An SSH connection that authenticated (Zeek's verdict or byte count)."""

    channels = ("new_ssh",)
    evidence_types = (EvidenceType.SSH_SUCCESSFUL,)
    threat_level = ThreatLevel.INFO
    confidence = 0.8

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.pending = self.state.table("ssh_successful_pending")
        self.done = self.state.table("ssh_successful_done")

    def handle(self, msg: Message[SshRecord]) -> Result:
        flow = msg.flow
        if not flow.uid or self.done.get(flow.uid) is not None or self.pending.get(flow.uid) is not None:
            return None
        entry = PendingSsh(profile=msg.profile, twid=msg.twid, starttime=flow.starttime, saddr=flow.saddr,
                           daddr=flow.daddr, auth_success=flow.auth_success is True)
        self.pending.set(flow.uid, entry, flow.starttime + PENDING_TTL)
        return self._settle(self.state.watermark, final=False, only=flow.uid)

    def on_watermark(self, watermark: float) -> Result:
        return self._settle(watermark, final=False)

    def finish(self) -> Result:
        return self._settle(float("inf"), final=True)

    def _settle(self, watermark: float, final: bool, only: str | None = None) -> list[Evidence]:
        out: list[Evidence] = []
        keys = [only] if only is not None else [uid for uid, _ in self.pending.items()]
        for uid in keys:
            entry = self.pending.get(uid)
            if entry is None:
                continue
            conn = self.facts.conn_of_uid(uid)
            if conn is None and not final and watermark < entry.starttime + CONN_WAIT:
                continue
            self.pending.delete(uid)
            evidence = self._decide(uid, entry, conn)
            if evidence is not None:
                self.done.set(uid, True, entry.starttime + DONE_TTL)
                out.append(evidence)
        return out

    def _decide(self, uid: str, entry: PendingSsh, conn) -> Evidence | None:
        size = conn.sbytes + conn.dbytes if conn is not None else None
        if entry.auth_success:
            method = "Zeek (auth_success)"
        elif size is not None and size > self.config.ssh_succesful_detection_threshold:
            method = f"byte count (above {self.config.ssh_succesful_detection_threshold} bytes)"
        else:
            return None
        saddr = conn.saddr if conn is not None and conn.saddr else entry.saddr
        daddr = conn.daddr if conn is not None and conn.daddr else entry.daddr
        size_text = f"{size} bytes exchanged" if size is not None else "byte count unknown (no conn record)"
        return make_evidence(
            EvidenceType.SSH_SUCCESSFUL,
            description=f"Successful SSH login from {saddr} to {daddr}, {size_text}; detected by {method}",
            attacker=src_ip(saddr),
            victim=dst_ip(daddr),
            threat_level=self.threat_level,
            confidence=self.confidence,
            profile=entry.profile,
            twid=entry.twid,
            timestamp=entry.starttime,
            uids=[uid],
        )
