"""Learners of TLS facts (global scope).

* ``tls_facts`` (ssl.log): the SNI each server IP was asked for, and
  DNS-over-HTTPS servers (ssl.log ``is_DoH``, or a well-known DoH host name);
  connection-without-DNS skips those (spec 2.39). An SNI is learned for the
  server only from a TLS session the server completed (``established``) and
  only when it is a host name: RFC 6066 forbids IP literals in the SNI, and
  what an Internet scanner sends to a local host's port 443 in a handshake
  that went nowhere (issue 21, CTU-Normal-44: "10.1.138.176" sent to the
  Windows host) says nothing about that host's names.
* ``certificates`` (x509.log): every certificate, by fingerprint (Zeek 5+:
  ssl.log names the chain in ``cert_chain_fps`` and has no subject or issuer)
  and by file id (older Zeek: ``cert_chain_fuids``), so the certificate
  detections can join an ssl record to its certificate whichever of the two
  records comes first. Zeek 5+ logs a certificate only the first time it sees
  it within ``X509::relog_known_certificates_after`` (default 1 day): the
  certificate is kept ``keep_seconds`` of flow time after its x509 record
  (default 1 day + 1 hour of lateness), at most ``MAX_CERTIFICATES``
  entries, with at most ``MAX_SAN`` DNS names each (lower case, no
  trailing dot). Raise
  ``keep_seconds`` if your Zeek re-logs certificates less often.
"""

from __future__ import annotations

from collections.abc import Iterable

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Direction, Ioc
from flowalerts.core.facts import Fact, FactStore
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord, X509Record
from flowalerts.engine.detection import Learner
from flowalerts.learners.servers import Server, ServerRoles
from flowalerts.traffic.tls_names import is_dns_name, is_doh, normalise_host

# Longest certificate name kept (a DNS name is at most 253 characters).
MAX_NAME = 253


# Certificates (x509.log). Zeek 5+ logs a certificate only the first time it
# sees it within ``X509::relog_known_certificates_after`` (1 day by default)
# and ssl.log refers to it by fingerprint (``cert_chain_fps``), so a
# certificate is kept by fingerprint until the expiry its learner chose (at
# least that day). Older Zeek logs it once per connection under the file id
# that ssl.log's ``cert_chain_fuids`` names: those entries are only needed for
# the connection's own ssl record.
CERTIFICATE_FUID_TTL = 3600.0
MAX_CERTIFICATES = 100_000
MAX_SAN = 200
SNI_TTL = 86400.0 + 3600.0  # seconds of flow time an SNI is kept after it was last seen


class ServerName(Fact, tag="sni"):
    ip: str
    name: str
    ts: float


class ServerNames(FactStore):
    """The name (SNI) each server IP was asked for in a completed TLS session."""

    keeps = {ServerName: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        self._sni = self.state.table("facts.sni")  # ip -> name

    def add(self, fact: ServerName) -> None:
        self._sni.set(fact.ip, fact.name, fact.ts + SNI_TTL)

    def sni_of(self, ip: str) -> str | None:
        return self._sni.get(ip)

    def enrich(self, ioc: Ioc) -> None:
        # An SNI names a server: only the destination side of an evidence is
        # one. A client's evidence never shows what others asked it for.
        if ioc.SNI is None and ioc.direction is Direction.DST:
            ioc.SNI = self.sni_of(ioc.value)


class Certificate(Fact, tag="cert"):
    """A certificate from x509.log, kept until ``expires`` (flow time).

    ``fingerprint`` (lower case; Zeek 5+) and ``fuid`` (the x509 ``id`` of
    older Zeek) are the two ways ssl.log refers to it; either may be empty.
    """

    fingerprint: str
    fuid: str
    subject: str
    issuer: str
    not_valid_before: float
    not_valid_after: float
    san_dns: list[str]
    ts: float
    expires: float


class Certificates(FactStore):
    """Certificates from x509.log, by fingerprint and by file id."""

    keeps = {Certificate: "add"}

    def __init__(self, facts) -> None:
        super().__init__(facts)
        # ("fp", fingerprint) or ("fuid", file id) -> Certificate
        self._certificates = self.state.table("facts.certificates", MAX_CERTIFICATES)

    def add(self, fact: Certificate) -> None:
        if fact.fingerprint:
            self._certificates.set(("fp", fact.fingerprint), fact, fact.expires)
        if fact.fuid:
            self._certificates.set(("fuid", fact.fuid), fact, fact.ts + CERTIFICATE_FUID_TTL)

    def certificate(self, fingerprint: str = "", fuid: str = "") -> Certificate | None:
        """The certificate with this fingerprint (any case) or x509 file id, if seen and not expired."""
        if fingerprint:
            found = self._certificates.get(("fp", fingerprint.lower()))
            if found is not None:
                return found
        if fuid:
            return self._certificates.get(("fuid", fuid))
        return None


class TlsFacts(Learner):
    """Learns SNIs and DoH servers."""

    id = "tls_facts"
    channels = ("new_ssl",)
    provides = (ServerNames, ServerRoles)

    def learn(self, msg: Message[SslRecord]) -> Iterable[Fact] | None:
        flow = msg.flow
        if not flow.daddr:
            return None
        facts: list[Fact] = []
        name = flow.server_name
        if name and flow.established and is_dns_name(name) and not is_ip(name):
            facts.append(ServerName(ip=flow.daddr, name=name, ts=flow.starttime))
        if is_doh(flow):
            facts.append(Server(role="doh", ip=flow.daddr, ts=flow.starttime))
        return facts


class CertificatesConfig(SectionConfig):
    # Seconds of flow time a certificate is remembered after its x509 record:
    # Zeek's X509::relog_known_certificates_after (1 day) + 1 hour.
    keep_seconds: float = 90000.0


class CertificateFacts(Learner[CertificatesConfig]):
    """Remembers certificates from x509.log by fingerprint and file id."""

    id = "certificates"
    channels = ("new_x509",)
    provides = (Certificates,)

    def learn(self, msg: Message[X509Record]) -> Iterable[Fact] | None:
        flow = msg.flow
        fingerprint = flow.fingerprint.strip().lower()
        if not fingerprint and not flow.uid:
            return None
        names = [normalise_host(name) for name in flow.san_dns[:MAX_SAN] if name and len(name) <= MAX_NAME]
        return (
            Certificate(
                fingerprint=fingerprint,
                fuid=flow.uid,
                subject=flow.subject,
                issuer=flow.issuer,
                not_valid_before=flow.not_valid_before,
                not_valid_after=flow.not_valid_after,
                san_dns=names,
                ts=flow.starttime,
                expires=flow.starttime + self.config.keep_seconds,
            ),
        )
