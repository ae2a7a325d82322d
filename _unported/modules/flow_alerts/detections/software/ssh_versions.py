"""SSH version changing (spec 2.25) from software.log: a host whose SSH
client (``SSH::CLIENT``) or server (``SSH::SERVER``) version changes.

Per (host, role) the *last* version seen is remembered (major.minor, or the
unparsed version string when Zeek could not parse it), and each new line is
compared with it: a change alerts once, and flapping back and forth alerts on
each actual change, not on every line that differs from the first version
ever seen (the reference's behaviour, spec 5 item 31). MEDIUM, confidence
0.9, attacker the host. software.log has no uid, so uids are empty.
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, src_ip
from flowalerts.messages import Message
from flowalerts.records import SoftwareRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip

ROLES = {"SSH::CLIENT": "client", "SSH::SERVER": "server"}
# Remember a host's version for a week of flow time.
VERSION_TTL = 7 * 86400.0


def version_of(flow: SoftwareRecord) -> str:
    if flow.version_major is not None:
        return f"{flow.version_major}.{flow.version_minor if flow.version_minor is not None else 0}"
    return flow.unparsed_version[:100]


class SshVersions(Detector):
    """A host's SSH client or server version changed."""

    channels = ("new_software",)
    evidence_types = (EvidenceType.MULTIPLE_SSH_VERSIONS,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.9

    def handle(self, msg: Message[SoftwareRecord]) -> Result:
        flow = msg.flow
        role = ROLES.get(flow.software)
        if role is None or not is_ip(flow.saddr):
            return None
        current = version_of(flow)
        if not current:
            return None
        table = self.state.table("ssh_versions")
        key = (flow.saddr, flow.software)
        previous = table.get(key)
        table.set(key, current, flow.starttime + VERSION_TTL)
        if previous is None or previous == current:
            return None
        name = f" ({flow.software_name})" if flow.software_name else ""
        return [
            make_evidence(
                EvidenceType.MULTIPLE_SSH_VERSIONS,
                description=f"SSH {role} version of {flow.saddr} changed from {previous} to {current}{name}",
                attacker=src_ip(flow.saddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[],
            )
        ]
