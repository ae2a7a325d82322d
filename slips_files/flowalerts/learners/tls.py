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
  (default 1 day + 1 hour of lateness), at most ``facts.MAX_CERTIFICATES``
  entries, with at most ``facts.MAX_SAN`` DNS names each (lower case, no
  trailing dot). Raise
  ``keep_seconds`` if your Zeek re-logs certificates less often.
"""

from __future__ import annotations

from collections.abc import Iterable

from flowalerts.core.config import SectionConfig
from flowalerts.core.facts import MAX_SAN, Certificate, Fact, Server, ServerName
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord, X509Record
from flowalerts.engine.detection import Learner
from flowalerts.traffic.tls_names import is_dns_name, is_doh, normalise_host

# Longest certificate name kept (a DNS name is at most 253 characters).
MAX_NAME = 253


class TlsFacts(Learner):
    """Learns SNIs and DoH servers."""

    id = "tls_facts"
    channels = ("new_ssl",)

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
