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

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import SshRecord
from flowalerts.modules.flow_alerts.conn_join import ConnJoinDetector
from flowalerts.modules.flow_alerts.detector import Result, make_evidence


class PendingSsh(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    profile: str
    twid: int
    starttime: float
    saddr: str
    daddr: str
    auth_success: bool


class SshSuccessful(ConnJoinDetector):
    """An SSH connection that authenticated (Zeek's verdict or byte count)."""

    channels = ("new_ssh",)
    evidence_types = (EvidenceType.SSH_SUCCESSFUL,)
    threat_level = ThreatLevel.INFO
    confidence = 0.8

    table_prefix = "ssh_successful"

    def handle(self, msg: Message[SshRecord]) -> Result:
        flow = msg.flow
        entry = PendingSsh(profile=msg.profile, twid=msg.twid, starttime=flow.starttime, saddr=flow.saddr,
                           daddr=flow.daddr, auth_success=flow.auth_success is True)
        return self.wait_for_conn(flow.uid, entry, flow.starttime)

    def decide(self, uid: str, entry: PendingSsh, conn) -> Evidence | None:
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
