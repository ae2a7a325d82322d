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

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import LoginRecord
from flowalerts.engine.detection import Detection, Tally
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
)


class Login(Detection):
    """Telnet, rlogin and rsh logins and their outcome."""

    id = "login"
    channels = ("new_login",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
    evidence = (LOGIN,)

    def handle(self, msg: Message[LoginRecord]) -> None:
        flow = msg.flow
        if not is_ip(flow.daddr) or not is_ip(flow.saddr):
            return
        proto = flow.proto[:20] or "login"
        self.tally(msg, (flow.daddr, proto), 1, update=lambda tally: _note(tally, flow))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: Tally) -> None:
        server, proto = key
        extra = tally.extra
        users = values(extra["users"])
        outcomes = ", ".join(f"{extra[name]} {name}" for name in ("successful", "failed", "confused") if extra[name])
        user_text = f" for user {', '.join(escape_text(u, limit=64) for u in users)}" if users else ""
        if tally.count == 1:
            status = next(name for name in ("successful", "failed", "confused") if extra[name])
            text = f"{status} {proto} login from {profile} to {server}{user_text}"
        else:
            text = f"{tally.count} {proto} logins from {profile} to {server} ({outcomes}){user_text}"
        self.report(
            LOGIN,
            profile=profile,
            twid=twid,
            ts=tally.first_ts,
            attacker=dst_ip(server),
            victim=src_ip(profile),
            uids=tally.uids,
            details=LoginDetails(proto=proto, successful=extra["successful"], failed=extra["failed"],
                                 confused=extra["confused"], users=users),
            description=text,
            src_port=extra["ports"][1] or None,
            dst_port=extra["ports"][2] or None,
            count=tally.count,
            occurrences=tally.count,
            evidence_id=self.tally_id(LOGIN, profile, twid, key),
        )


def _note(tally: Tally, flow: LoginRecord) -> None:
    extra = tally.extra
    if "users" not in extra:
        extra.update(users=[], successful=0, failed=0, confused=0, ports=(flow.starttime, flow.sport, flow.dport))
    extra["ports"] = min(extra["ports"], (flow.starttime, flow.sport, flow.dport))  # of the earliest login
    extra[login_status(flow)] += 1
    if flow.user:
        keep_earliest(extra["users"], flow.starttime, flow.user[:64], MAX_USERS)
