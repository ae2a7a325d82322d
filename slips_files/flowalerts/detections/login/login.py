"""Login log entries: telnet, rlogin, rsh (seed "Login log entries"; spec 2.37).

login.log (written by zeek-scripts/login.zeek) records logins over the old
clear-text remote-login protocols. Each is informational evidence about the
server that received it (attacker DST = the server, victim SRC = the client,
owned by the client's profile, as in Slips; INFO, 1.0) with its outcome:
successful, confused (Zeek could not tell) or failed.

One evidence per (profile, window, server, protocol) (issue 13): reported at
the first login, updated at window close with the number of logins per
outcome, the user names and every uid. INFO whatever the count (INFO adds
nothing to alerts); brute forcing is other detections' business.

Exceptions, and why: entries whose client or server is not an IP address
(nothing to attribute them to).
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import LoginRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.engine.samples import keep_earliest, values

MAX_USERS = 20


def login_status(flow: LoginRecord) -> str:
    if flow.success:
        return "successful"
    if flow.confused:
        return "confused"
    return "failed"


class LoginDetails(Details):
    proto: str  # telnet, rlogin, rsh, or "login" when Zeek did not say
    successful: int
    failed: int
    confused: int
    users: list[str]  # the user names seen first (at most 20)


LOGIN = EvidenceKind(
    "LOGIN",
    ThreatLevel.INFO,
    confidence=1.0,
    details=LoginDetails,
    category="Attempt.Login",
    summary="telnet/rlogin/rsh logins from login.log with their outcome; one per server and window",
    grows=FIXED,  # INFO 1.0 whatever the count; weighs as each login
)


class LoginTally(Tally):
    users: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, user), the earliest MAX_USERS
    successful: int = 0
    failed: int = 0
    confused: int = 0
    # (ts, sport, dport) of the earliest login.
    earliest: tuple[float, int, int] = (float("inf"), 0, 0)

    def note(self, flow: LoginRecord) -> None:
        self.earliest = min(self.earliest, (flow.starttime, flow.sport, flow.dport))
        status = login_status(flow)
        if status == "successful":
            self.successful += 1
        elif status == "confused":
            self.confused += 1
        else:
            self.failed += 1
        if flow.user:
            keep_earliest(self.users, flow.starttime, flow.user[:64], MAX_USERS)


class Login(Detection[NoConfig, LoginTally]):
    """Telnet, rlogin and rsh logins and their outcome."""

    id = "login"
    channels = ("new_login",)
    evidence = (LOGIN,)

    def handle(self, msg: Message[LoginRecord]) -> None:
        flow = msg.flow
        if not is_ip(flow.daddr) or not is_ip(flow.saddr):
            return
        proto = flow.proto[:20] or "login"
        self.tally(msg, (flow.daddr, proto), 1, update=lambda tally: tally.note(flow))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: LoginTally) -> Finding:
        server, proto = key
        users = values(tally.users)
        counts = {"successful": tally.successful, "failed": tally.failed, "confused": tally.confused}
        outcomes = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        user_text = f" for user {', '.join(escape_text(u, limit=64) for u in users)}" if users else ""
        if tally.count == 1:
            status = next(name for name, n in counts.items() if n)
            text = f"{status} {proto} login from {profile} to {server}{user_text}"
        else:
            text = f"{tally.count} {proto} logins from {profile} to {server} ({outcomes}){user_text}"
        _, sport, dport = tally.earliest
        return Finding(
            attacker=dst_ip(server),
            victim=src_ip(profile),
            details=LoginDetails(proto=proto, successful=tally.successful, failed=tally.failed,
                                 confused=tally.confused, users=users),
            description=text,
            src_port=sport or None,
            dst_port=dport or None,
        )
