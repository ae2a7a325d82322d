"""Bad SMTP logins (seed "Bad SMTP logins"; spec 2.22).

An smtp.log ``last_reply`` that says the client's authentication failed:
"bad smtp-auth user" (the reference's literal, any case) or a ``535`` reply
about authentication ("535 5.7.8 Error: authentication failed"): someone
trying credentials on a mail server (HIGH, 1.0; attacker the client, victim
the server).

One evidence per (profile, window, server) (issue 13): reported at the first
failure, updated at window close with the number of failed logins and every
uid. Threat level and confidence grow with the count (``scale_with_count``,
threshold 1: critical from 4 failures), and for alerts it weighs as one
evidence per failure, as before.

Exceptions, and why:

* other replies (including other 5xx): only an authentication failure says
  someone tried credentials;
* records whose server is not an IP address.
"""

from __future__ import annotations

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, scale_with_count, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SmtpRecord
from flowalerts.engine.detection import Detection, Tally
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


class BadSmtpLogin(Detection):
    """Failed SMTP authentications against one server."""

    id = "bad_smtp_login"
    channels = ("new_smtp",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
    evidence = (BAD_SMTP_LOGIN,)

    def handle(self, msg: Message[SmtpRecord]) -> None:
        flow = msg.flow
        if not is_bad_login(flow.last_reply) or not is_ip(flow.daddr):
            return
        self.tally(msg, flow.daddr, 1, update=lambda tally: tally.extra.setdefault("reply", flow.last_reply[:200]))

    def report_tally(self, profile: str, twid: int, key: str, tally: Tally) -> None:
        level, confidence = scale_with_count(BAD_SMTP_LOGIN, tally.count, 1)
        reply = tally.extra["reply"]
        self.report(
            BAD_SMTP_LOGIN,
            profile=profile,
            twid=twid,
            ts=tally.first_ts,
            attacker=src_ip(profile),
            victim=dst_ip(key),
            uids=tally.uids,
            threat_level=level,
            confidence=confidence,
            details=BadSmtpLoginDetails(failures=tally.count, server=key, last_reply=reply),
            description=(
                f"{tally.count} failed SMTP login{'s' if tally.count > 1 else ''} from {profile} to {key} "
                f"in this time window (reply: {escape_text(reply, limit=200)})"
            ),
            count=tally.count,
            occurrences=tally.count,
            evidence_id=self.tally_id(BAD_SMTP_LOGIN, profile, twid, key),
        )
