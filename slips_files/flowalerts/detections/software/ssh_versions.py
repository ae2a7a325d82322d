"""SSH version changing (seed "SSH version changing"; spec 2.25, 5.3 item 31).

Zeek's software.log names the SSH client (``SSH::CLIENT``) and server
(``SSH::SERVER``) software each host uses. A host whose SSH client or server
version changes may be a different machine behind the same address, or a
tool (a scanner, a brute forcer) speaking from it (MEDIUM, 0.9).

Each line is compared with the *previous* version of that host and role
(major.minor, or the unparsed version when Zeek could not parse it), by flow
time, kept for a week of flow time: one change is one change. The reference
compared with the first version it ever saw, so a host that moved on
re-alerted on every later line. "Previous" is decided once the watermark
passes the line's time (a timer), when every earlier line has arrived, so
lines read out of order give the same evidence.

One evidence per (profile, window, role) (issue 13): reported at the first
change, updated at window close with the number of changes and the versions
seen. The level does not grow with the count; for alerts it weighs as one
evidence per change. software.log has no uid, so the evidence has none.

Exceptions, and why:

* other software types (HTTP browsers, servers ...): user agents change all
  the time; the seed is about SSH;
* the patch level (8.9p1 vs 8.9p2) is ignored: updates are routine;
* a host that is not an IP address.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, escape_text
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SoftwareRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally

ROLES = {"SSH::CLIENT": "client", "SSH::SERVER": "server"}
# How long a host's last version is remembered, in seconds of flow time.
VERSION_TTL = 7 * 86400.0
MAX_VERSIONS = 16
# Lines of one host and role kept to find the previous version.
MAX_HISTORY = 32


def version_of(flow: SoftwareRecord) -> str:
    if flow.version_major is not None:
        return f"{flow.version_major}.{flow.version_minor if flow.version_minor is not None else 0}"
    return flow.unparsed_version[:100]


class SshVersionsDetails(Details):
    role: str  # "client" or "server"
    changes: int  # version changes in this window
    versions: list[str]  # the versions in the order seen, the one before the first change first
    software: str  # Zeek's software name of the last line (e.g. OpenSSH)


MULTIPLE_SSH_VERSIONS = EvidenceKind(
    "MULTIPLE_SSH_VERSIONS",
    ThreatLevel.MEDIUM,
    confidence=0.9,
    details=SshVersionsDetails,
    summary="a host's SSH client or server version (major.minor) changed (software.log); one per role and window",
    grows=FIXED,  # MEDIUM 0.9 whatever the count; weighs as each change
)


class VersionsTally(Tally):
    versions: list[str] = msgspec.field(default_factory=list)  # the one before the first change, then each new one
    software: str = ""  # of the last line

    def note(self, previous: str, current: str, software: str) -> None:
        if not self.versions:
            self.versions.append(previous)
        if len(self.versions) < MAX_VERSIONS:
            self.versions.append(current)
        self.software = software[:100]


class SshVersions(Detection[NoConfig, VersionsTally]):
    """A host's SSH client or server version changed."""

    id = "ssh_versions"
    channels = ("new_software",)
    # A late line still joins the host's version history, which the lines
    # after it are compared with (its own change is not reported: its window is settled).
    late_records = True
    evidence = (MULTIPLE_SSH_VERSIONS,)

    def handle(self, msg: Message[SoftwareRecord]) -> None:
        flow = msg.flow
        role = ROLES.get(flow.software)
        if role is None or not is_ip(flow.saddr):
            return
        current = version_of(flow)
        if not current:
            return
        key = (flow.saddr, role)
        history = self.table("history")
        seen = [entry for entry in history.get(key) or () if entry[0] != flow.starttime or entry[1] != current]
        seen.append((flow.starttime, current))
        seen.sort()
        history.set(key, seen[-MAX_HISTORY:], seen[-1][0] + VERSION_TTL)
        # Decide when every line up to this one's time has arrived.
        self.schedule((key, flow.starttime, current), flow.starttime, msg)

    def on_timer(self, key: tuple[tuple[str, str], float, str], payload: Message[SoftwareRecord]) -> None:
        (host, role), ts, current = key
        earlier = [version for at, version in self.table("history").get((host, role)) or () if at < ts]
        previous = earlier[-1] if earlier else None
        if previous is None or previous == current:
            return
        software = payload.flow.software_name
        # software.log has no uid: the evidence has none.
        self.tally(payload, role, 1, uid="", update=lambda tally: tally.note(previous, current, software))

    def report_tally(self, profile: str, twid: int, key: str, tally: VersionsTally) -> Finding:
        versions = list(tally.versions)
        software = tally.software
        name = f" ({escape_text(software, limit=100)})" if software else ""
        return Finding(
            victim=None,
            details=SshVersionsDetails(role=key, changes=tally.count, versions=versions, software=software),
            description=(
                f"SSH {key} version of {profile} changed: "
                f"{' -> '.join(escape_text(v, limit=100) for v in versions)}{name}"
            ),
        )
