"""Bad SMTP logins (seed "Bad SMTP logins"; spec 2.22).

An smtp.log ``last_reply`` that says the client's authentication failed:
"bad smtp-auth user" (the reference's literal, any case) or a ``535`` reply
about authentication ("535 5.7.8 Error: authentication failed"): someone
trying credentials on a mail server (HIGH, 1.0; attacker the client, victim
the server).

One evidence per (profile, window, server) (issue 13): reported at the first
failure, updated at window close with the number of failed logins and every
uid. Threat level and confidence grow with the count (the kind's ``Growth``,
threshold 1: critical from 4 failures), and for alerts it weighs as one
evidence per failure, as before.

Exceptions, and why:

* other replies (including other 5xx): only an authentication failure says
  someone tried credentials;
* records whose server is not an IP address.
"""

from __future__ import annotations

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SmtpRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.traffic.smtp_replies import is_bad_login


class BadSmtpLoginDetails(Details):
    failures: int  # failed logins to this server in this window
    server: str
    last_reply: str  # the reply of the first failure (cut to 200 characters)


BAD_SMTP_LOGIN = EvidenceKind(
    "BAD_SMTP_LOGIN",
    ThreatLevel.HIGH,
    confidence=1.0,
    details=BadSmtpLoginDetails,
    category="Attempt.Login",
    summary="an SMTP authentication failure (smtp.log last_reply); one per server and window, growing with the count",
)


class BadSmtpLoginTally(Tally):
    reply: str = ""  # of the first failure counted (cut to 200 characters)

    def note(self, reply: str) -> None:
        if self.count == 1:  # the first failure
            self.reply = reply[:200]


class BadSmtpLogin(Detection[NoConfig, BadSmtpLoginTally]):
    """Failed SMTP authentications against one server."""

    id = "bad_smtp_login"
    channels = ("new_smtp",)
    evidence = (BAD_SMTP_LOGIN,)

    def handle(self, msg: Message[SmtpRecord]) -> None:
        flow = msg.flow
        if not is_bad_login(flow.last_reply) or not is_ip(flow.daddr):
            return
        self.tally(msg, flow.daddr, 1, update=lambda tally: tally.note(flow.last_reply))

    def report_tally(self, profile: str, twid: int, key: str, tally: BadSmtpLoginTally) -> Finding:
        reply = tally.reply
        return Finding(
            victim=dst_ip(key),
            details=BadSmtpLoginDetails(failures=tally.count, server=key, last_reply=reply),
            description=(
                f"{tally.count} failed SMTP login{'s' if tally.count > 1 else ''} from {profile} to {key} "
                f"in this time window (reply: {escape_text(reply, limit=200)})"
            ),
        )
