"""SMTP login brute force (spec 2.23): at least ``smtp_bruteforce_threshold``
bad logins (see ``bad_smtp_login.is_bad_login``) from one source within any
``smtp_bruteforce_window`` seconds of flow time.

State: a sliding list of (ts, uid, server) per source profile, bounded to the
threshold (older entries fall out of the window). One evidence per burst:
once it fired, it re-arms only when the window has emptied (a bad login more
than the window after the previous one). HIGH, confidence 1.0, uids of the
burst, victim the server of the last bad login.
"""

from __future__ import annotations

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.messages import Message
from flowalerts.records import SmtpRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.smtp.bad_smtp_login import is_bad_login
from flowalerts.modules.flow_alerts.detectors.tls.names import is_ip

MAX_BURST = 100


class SmtpBruteforce(Detector):
    """Several failed SMTP logins from one source in a short time."""

    channels = ("new_smtp",)
    evidence_types = (EvidenceType.SMTP_LOGIN_BRUTEFORCE,)
    threat_level = ThreatLevel.HIGH
    confidence = 1.0

    def handle(self, msg: Message[SmtpRecord]) -> Result:
        flow = msg.flow
        if not is_bad_login(flow.last_reply) or not is_ip(flow.daddr):
            return None
        window = self.config.smtp_bruteforce_window
        threshold = max(1, self.config.smtp_bruteforce_threshold)
        ts = flow.starttime
        table = self.state.table("smtp_bruteforce")
        burst = table.get(msg.profile) or {"attempts": [], "fired": False}
        attempts = burst["attempts"]
        if attempts and ts - attempts[-1][0] > window:
            # The window emptied since the last bad login: a new burst.
            burst["fired"] = False
        attempts = [a for a in attempts if ts - a[0] <= window]
        attempts.append([ts, flow.uid])
        del attempts[:-MAX_BURST]
        burst["attempts"] = attempts
        table.set(msg.profile, burst, ts + window + 1.0)
        if burst["fired"] or len(attempts) < threshold:
            return None
        burst["fired"] = True
        table.set(msg.profile, burst, ts + window + 1.0)
        span = attempts[-1][0] - attempts[0][0]
        return [
            make_evidence(
                EvidenceType.SMTP_LOGIN_BRUTEFORCE,
                description=(
                    f"SMTP login brute force from {flow.saddr} to {flow.daddr}: {len(attempts)} failed logins "
                    f"in {span:.1f} seconds (threshold {threshold} within {window:g} s)"
                ),
                attacker=src_ip(flow.saddr),
                victim=dst_ip(flow.daddr),
                threat_level=self.threat_level,
                confidence=self.confidence,
                profile=msg.profile,
                twid=msg.twid,
                timestamp=ts,
                uids=[a[1] for a in attempts],
            )
        ]
