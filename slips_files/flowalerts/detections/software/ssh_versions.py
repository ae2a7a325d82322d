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

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, escape_text, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SoftwareRecord
from flowalerts.engine.detection import Detection, Tally

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
)


class SshVersions(Detection):
    """A host's SSH client or server version changed."""

    id = "ssh_versions"
    channels = ("new_software",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
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
        flow = payload.flow
        self.tally(payload, role, 1, update=lambda tally: _note(tally, previous, current, flow.software_name))

    def report_tally(self, profile: str, twid: int, key: str, tally: Tally) -> None:
        versions = list(tally.extra["versions"])
        software = tally.extra["software"]
        name = f" ({escape_text(software, limit=100)})" if software else ""
        self.report(
            MULTIPLE_SSH_VERSIONS,
            profile=profile,
            twid=twid,
            ts=tally.first_ts,
            attacker=src_ip(profile),
            uids=(),
            details=SshVersionsDetails(role=key, changes=tally.count, versions=versions, software=software),
            description=(
                f"SSH {key} version of {profile} changed: "
                f"{' -> '.join(escape_text(v, limit=100) for v in versions)}{name}"
            ),
            count=tally.count,
            occurrences=tally.count,
            evidence_id=self.tally_id(MULTIPLE_SSH_VERSIONS, profile, twid, key),
        )


def _note(tally: Tally, previous: str, current: str, software: str) -> None:
    versions = tally.extra.setdefault("versions", [previous])
    if len(versions) < MAX_VERSIONS:
        versions.append(current)
    tally.extra["software"] = software[:100]
