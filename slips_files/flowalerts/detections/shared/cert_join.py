"""The join of an ssl record to its certificate, for the detections that
judge a certificate's names (INCOMPATIBLE_CN, CN_URL_MISMATCH).

Zeek < 5 writes the leaf certificate's subject into ssl.log and its SANs into
an x509 record (one per connection, ``cert_chain_fuids``). Zeek 5+ writes no
subject into ssl.log: the certificate is in x509.log, keyed by
``fingerprint`` and named by ssl.log's ``cert_chain_fps``, and logged only the
first time Zeek sees it in a day. The ``certificates`` learner remembers
every certificate; this base joins each ssl record to it:

* when the certificate is already known (a reused one, or its x509 record
  came first), or the decision does not depend on it, the detection decides
  at once;
* otherwise the record waits in a flow-time timer keyed by the certificate
  (``("cert", "fp"|"fuid", value)``; the payload holds every record waiting
  for it, at most ``MAX_WAITING``). The x509 record, when it arrives, settles
  them all; else flow time passing ``ts + CERT_WAIT`` (or the end of input)
  settles them with what is known.

Subclasses implement ``wait_for_x509(msg, view)`` (whether the decision
depends on x509 facts that are missing) and ``decide(msg, view)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import msgspec

from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord, X509Record
from flowalerts.engine.detection import CfgT, Detection, Learner, TallyT
from flowalerts.learners.tls import CertificateFacts, Certificates
from flowalerts.traffic.tls_names import (
    CERT_WAIT,
    CertView,
    awaiting_certificate,
    certificate_view,
    leaf_reference,
)

# Most ssl records waiting for one certificate; more are decided at once.
MAX_WAITING = 256


@dataclasses.dataclass
class AwaitingCertificate:
    """Window state: records of the window wait for their certificate (so the
    window is kept until it closes, and a settled record can tell whether it closed)."""

    records: int = 0


class WaitingRecord(msgspec.Struct, array_like=True, gc=False):
    profile: str
    twid: int
    late: bool
    flow: SslRecord


class Waiting(msgspec.Struct, array_like=True, gc=False):
    due: float
    records: list[WaitingRecord]


class CertificateJoin(Detection[CfgT, TallyT]):
    """Base: ssl records joined to their certificate (see the module docstring)."""

    abstract = True
    channels: ClassVar[tuple[str, ...]] = ("new_ssl", "new_x509")
    # An x509 record that arrives after its window closed still settles the ssl
    # records waiting for it (their windows' evidence is settled: they count as late).
    late_records = True
    # x509.log makes the detection complete on Zeek 5+, but ssl.log alone is enough on older Zeek.
    logs: ClassVar[tuple[str, ...] | None] = ("ssl",)
    needs: ClassVar[tuple[type[Learner[Any]], ...]] = (CertificateFacts,)

    def wait_for_x509(self, msg: Message[SslRecord], view: CertView | None) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def decide(self, msg: Message[SslRecord], view: CertView | None) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def handle(self, msg: Message[Any]) -> None:
        flow = msg.flow
        if isinstance(flow, X509Record):
            self._certificate_seen(flow)
        elif isinstance(flow, SslRecord):
            self._consider(msg, settled=False)

    def on_timer(self, key: Any, payload: Any) -> None:
        self._settle(payload)

    # -- internals -------------------------------------------------------------------
    def _consider(self, msg: Message[SslRecord], settled: bool) -> None:
        view = certificate_view(self.facts_of(Certificates), msg.flow)
        waits = not settled and awaiting_certificate(msg.flow, view) and self.wait_for_x509(msg, view)
        if waits and self._wait(msg):
            return
        self.decide(msg, view)

    def _wait(self, msg: Message[SslRecord]) -> bool:
        reference = leaf_reference(msg.flow)
        if reference is None:
            return False
        key = ("cert", *reference)
        waiting = self.pending(key)
        if waiting is None:
            waiting = Waiting(due=msg.flow.starttime + CERT_WAIT, records=[])
        elif len(waiting.records) >= MAX_WAITING:
            return False
        if not msg.late:
            self.window(msg, AwaitingCertificate).records += 1
        waiting.records.append(WaitingRecord(profile=msg.profile, twid=msg.twid, late=msg.late, flow=msg.flow))
        self.schedule(key, waiting.due, waiting)
        return True

    def _certificate_seen(self, flow: X509Record) -> None:
        keys = []
        if flow.fingerprint:
            keys.append(("cert", "fp", flow.fingerprint.strip().lower()))
        if flow.uid:
            keys.append(("cert", "fuid", flow.uid))
        for key in keys:
            waiting = self.pending(key)
            if waiting is not None:
                self.cancel(key)
                self._settle(waiting)

    def _settle(self, waiting: Waiting) -> None:
        for item in waiting.records:
            # The record's window may have closed while it waited: then it is late.
            closed = item.late or self.window_of(item.profile, item.twid) is None
            self._consider(Message(profile=item.profile, twid=item.twid, flow=item.flow, late=closed), settled=True)
