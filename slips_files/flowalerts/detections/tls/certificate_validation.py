"""Self-signed and invalid certificates (seed "Zeek alerts"; spec 2.15, and
2.16 which the reference never implemented).

Zeek validates each server certificate chain when its ``validate-certs``
policy is loaded (``zeek-scripts/scan-and-certs.zeek``) and reports the result
in ssl.log ``validation_status`` and, for failures, as an
``SSL::Invalid_Server_Cert`` notice ("SSL certificate validation failed with
(certificate has expired)"). Both are read here: "self signed ..." gives
SELF_SIGNED_CERTIFICATE, any other failure (expired, not yet valid, unable to
get local issuer certificate ...) INVALID_CERTIFICATE. A connection reported
by both logs (same uid) counts once.

Slips has no INVALID_CERTIFICATE type: inside Slips it is delivered as
SELF_SIGNED_CERTIFICATE (a certificate that failed validation, the nearest
type), with "INVALID_CERTIFICATE" at the start of its description.

Exceptions, and why:

* "ok" or no status: Zeek did not validate, or the chain is fine;
* **Zeek could not build the chain** ("unable to get local issuer
  certificate", "unable to get issuer certificate", "unable to verify the
  first certificate", "unable to get certificate CRL":
  ``tls_names.MISSING_CHAIN_STATUSES``). Zeek validates against its own root
  store, which is not the client's: processed years after the capture, a
  chain to a root since retired fails (Google's 2018 chain in the WRCCDC
  capture, processed by Zeek 6.2); so do enterprise CAs and servers that let
  the client fetch an intermediate (Microsoft Delivery Optimization). That
  is a fact about Zeek's store, not about the server: not evidence. They are
  counted and the run gets one note at the end of input;
* **a wrong capture clock**. "certificate has expired" and "certificate is
  not yet valid" only compare the certificate's dates with the capture's
  clock. When that clock is implausible, every certificate fails and the
  failures say nothing about the servers (test9: its capture clock reads
  1970 and 132 "not yet valid" evidence came out of it). A capture's clock is
  implausible when the flow time is before 2000 (no certificate in use today
  was valid then), or when at least ``clock_quorum`` (3) certificates seen in
  x509.log, and more than half of them, were more than ``clock_margin`` (30
  days) outside their validity when Zeek saw them (real traffic is
  overwhelmingly valid certificates: a majority of them far outside their
  dates means the clock is off, not the servers). Such clock-only failures
  are not reported; they are counted and the run gets ONE warning (through
  ``notify``, at the end of input) naming the count and the reason. Failures
  that are not about time (self-signed, unknown issuer ...) are reported
  whatever the clock says. To judge the clock from every certificate of the
  window, evidence whose failures are all about time is reported when its
  window closes, not at the first connection. Inside Slips there is no
  x509 channel: only the before-2000 rule applies.

One evidence pair per (client profile, window, type, server), as the
reference's pair: the client (SRC saddr, profile saddr) and the server (DST
daddr, profile daddr), LOW, no victim, linked; it carries the count, every
uid, the statuses and server names seen. Confidence (0.5) grows with the
count (the kinds grow their confidence only); the level stays LOW, since more
visits to a badly configured server do not make it more dangerous, while
``occurrences`` keeps each visit's weight for alerts.
"""

from __future__ import annotations

from typing import Any

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import (
    Details,
    EvidenceKind,
    Growth,
    ThreatLevel,
    dst_ip,
    escape_text,
    iso_timestamp,
    src_ip,
)
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import NoticeRecord, SslRecord, X509Record
from flowalerts.engine.detection import CountedOnce, Detection, Finding, Tally
from flowalerts.traffic.tls_names import (
    MAX_TEXT,
    is_failed_status,
    is_missing_chain_status,
    is_self_signed_status,
    is_time_status,
    normalise_host,
)

# 2000-01-01T00:00:00Z: a capture clock before this is not a real one.
PLAUSIBLE_SINCE = 946684800.0
INVALID_CERT_NOTE = "SSL::Invalid_Server_Cert"
MAX_LISTED = 10


class CertificateValidationConfig(SectionConfig):
    # Seconds a certificate may be outside its validity, when seen, before it
    # counts as "far outside" for the capture-clock check.
    clock_margin: float = 30 * 86400.0
    # Certificates far outside their validity (and a majority of those seen)
    # that make the capture clock implausible.
    clock_quorum: int = 3


class CertificateValidationDetails(Details):
    server: str
    statuses: list[str]  # the validation statuses seen (first 10)
    server_names: list[str]  # SNIs seen in ssl.log (first 10)
    sources: list[str]  # "ssl.log", "notice.log"


# A weak finding: more connections make it surer, never more severe.
CONFIDENCE_ONLY = Growth(level=False)

SELF_SIGNED_CERTIFICATE = EvidenceKind(
    "SELF_SIGNED_CERTIFICATE",
    ThreatLevel.LOW,
    confidence=0.5,
    details=CertificateValidationDetails,
    category="Vulnerable.System",
    grows=CONFIDENCE_ONLY,
    summary="Zeek found the server's certificate self-signed (ssl.log or notice.log); one pair per server",
)
INVALID_CERTIFICATE = EvidenceKind(
    "INVALID_CERTIFICATE",
    ThreatLevel.LOW,
    confidence=0.5,
    details=CertificateValidationDetails,
    slips="SELF_SIGNED_CERTIFICATE",
    category="Vulnerable.System",
    grows=CONFIDENCE_ONLY,
    summary="the server's certificate failed Zeek's validation (expired, not yet valid, revoked ...); not when Zeek "
    "only lacked an issuer to build the chain ('unable to get local issuer certificate': one note instead) or the "
    "capture clock is implausible (one warning instead); one pair per server",
)


class ClockCheck(msgspec.Struct, gc=False):
    """What the capture clock looks like, and what its check held back."""

    certificates_valid: int = 0
    certificates_far_outside: int = 0
    skipped_failures: int = 0
    skipped_servers: int = 0
    reason: str = ""
    # Results that only say Zeek could not build the chain (not evidence).
    missing_chain: int = 0


def status_of_notice(text: str) -> str:
    """The status inside the first '(' and the last ')' of the notice message."""
    start = text.find("(")
    end = text.rfind(")")
    if start < 0 or end <= start:
        return text.strip()
    return text[start + 1 : end].strip()


class FailureTally(Tally):
    time_only: bool = True  # every status was about time (expired, not yet valid)
    dport: int = -1  # the server port of the first connection (-1: none yet)
    statuses: list[str] = msgspec.field(default_factory=list)  # first MAX_LISTED
    names: list[str] = msgspec.field(default_factory=list)  # SNIs, first MAX_LISTED
    sources: list[str] = msgspec.field(default_factory=list)  # "ssl.log", "notice.log"

    def note(self, status: str, sni: str, source: str, dport: int) -> None:
        self.time_only = self.time_only and is_time_status(status)
        if self.dport < 0:
            self.dport = dport
        for values, value in ((self.statuses, status[:MAX_TEXT]), (self.names, sni[:253]), (self.sources, source)):
            if value and value not in values and len(values) < MAX_LISTED:
                values.append(value)


class CertificateValidation(Detection[CertificateValidationConfig, FailureTally]):
    """A TLS server whose certificate failed Zeek's validation."""

    id = "certificate_validation"
    channels = ("new_ssl", "new_notice", "new_x509")
    # ssl.log or notice.log alone is enough; x509.log only informs the clock check.
    logs = ()
    evidence = (SELF_SIGNED_CERTIFICATE, INVALID_CERTIFICATE)

    def handle(self, msg: Message[Any]) -> None:
        flow = msg.flow
        if isinstance(flow, SslRecord):
            self._failure(msg, flow.validation_status, normalise_host(flow.server_name), "ssl.log")
        elif isinstance(flow, NoticeRecord):
            if flow.note == INVALID_CERT_NOTE:
                self._failure(msg, status_of_notice(flow.msg), "", "notice.log")
        elif isinstance(flow, X509Record):
            self._observe_certificate(flow)

    # -- the capture clock ------------------------------------------------------------
    def _clock(self) -> ClockCheck:
        table = self.table("clock")
        check = table.get("check")
        if check is None:
            check = ClockCheck()
            table.set("check", check, float("inf"))
        return check

    def _observe_certificate(self, flow: X509Record) -> None:
        before, after = flow.not_valid_before, flow.not_valid_after
        if not flow.host_cert or not before or not after:
            return
        margin = self.config.clock_margin
        check = self._clock()
        if flow.starttime < before - margin or flow.starttime > after + margin:
            check.certificates_far_outside += 1
        else:
            check.certificates_valid += 1

    def clock_problem(self, ts: float) -> str:
        """Why the capture clock at flow time ``ts`` is implausible, or ""."""
        if ts < PLAUSIBLE_SINCE:
            return f"flow time {iso_timestamp(ts)} is before 2000"
        check = self._clock()
        far, valid = check.certificates_far_outside, check.certificates_valid
        if far >= self.config.clock_quorum and far > valid:
            days = self.config.clock_margin / 86400.0
            return f"{far} of {far + valid} certificates seen were more than {days:g} days outside their validity"
        return ""

    # -- failures -----------------------------------------------------------------------
    def _failure(self, msg: Message[Any], status: str, sni: str, source: str) -> None:
        flow = msg.flow
        status = status.strip()
        if not is_failed_status(status) or not is_ip(flow.saddr) or not is_ip(flow.daddr):
            return
        if is_missing_chain_status(status):
            self._clock().missing_chain += 1
            return
        kind = SELF_SIGNED_CERTIFICATE if is_self_signed_status(status) else INVALID_CERTIFICATE
        key = (kind.name, flow.daddr)
        if flow.uid and not self.window(msg, CountedOnce).first(key, flow.uid):
            return
        self.tally(msg, key, 1, update=lambda tally: tally.note(status, sni, source, flow.dport))

    def hold_tally(self, key: Any, tally: FailureTally) -> bool:
        # Failures that are all about time wait for the window's end, when the
        # clock check has seen the window's certificates.
        return tally.time_only

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: FailureTally) -> list[Finding] | None:
        kind_name, server = key
        kind = SELF_SIGNED_CERTIFICATE if kind_name == SELF_SIGNED_CERTIFICATE.name else INVALID_CERTIFICATE
        if tally.time_only:
            problem = self.clock_problem(tally.first_ts)
            if problem:
                check = self._clock()
                check.skipped_failures += tally.count
                check.skipped_servers += 1
                check.reason = check.reason or problem
                return None
        statuses = list(tally.statuses)
        names = list(tally.names)
        details = CertificateValidationDetails(server=server, statuses=statuses, server_names=names,
                                               sources=sorted(tally.sources))
        what = "self-signed certificate" if kind is SELF_SIGNED_CERTIFICATE else "INVALID_CERTIFICATE: invalid certificate"
        shown = "; ".join(escape_text(status, 200) for status in statuses)
        sni = f" (SNI {', '.join(escape_text(name, 100) for name in names)})" if names else ""
        description = (
            f"{what} on server {server}{sni} contacted by {profile}: validation status '{shown}', "
            f"{tally.count} connection(s) in this time window"
        )
        dst_port = tally.dport if tally.dport > 0 else None
        client = Finding(kind=kind, attacker=src_ip(profile), victim=None, details=details, description=description,
                         dst_port=dst_port, proto="tcp")
        server_side = Finding(kind=kind, profile=server, attacker=dst_ip(server), victim=None, details=details,
                              description=description, dst_port=dst_port, proto="tcp", id_key=(*key, "server"))
        return [client, server_side]

    def finish(self) -> None:
        check = self.table("clock").get("check")
        if check is not None and check.missing_chain:
            self.ctx.notify(
                f"certificate validation: {check.missing_chain} record(s) (ssl.log, notice.log) saying Zeek could not "
                f"build the certificate chain (e.g. 'unable to get local issuer certificate') are not evidence: Zeek's root "
                f"store lacked the issuer, which says nothing about the server"
            )
        if check is not None and check.skipped_failures:
            self.ctx.notify(
                f"warning: certificate validation: {check.skipped_failures} 'expired' / 'not yet valid' result(s) for "
                f"{check.skipped_servers} server(s) were not reported as evidence, because the capture's clock "
                f"looks wrong ({check.reason}); check the sensor's clock"
            )
