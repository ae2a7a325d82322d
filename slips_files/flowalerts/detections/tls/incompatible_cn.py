"""Incompatible certificate CN (seed; spec 2.26 INTENT, spec 5 item 18).

A server presents a certificate that claims to belong to a well-known
organisation (Google, Microsoft, Apple, Facebook, Twitter) while neither the
server nor the requested name belongs to it: someone else's certificate on
an impostor, or interception.

The claim is read from the parsed subject, not searched in the raw string: its
``O`` names the organisation as a whole word (``orgs.org_of_name``, so
"Pineapple" is not Apple), or its ``CN`` is one of the organisation's domains
(``orgs.org_of_domain``, suffix-aware). ``OU`` is not a claim.

Exceptions, and why:

* the server IP belongs to the organisation (its ranges or ASNs): its own
  server;
* the SNI is one of the organisation's domains: the client asked for the
  organisation, and got its certificate;
* **a CDN serving the organisation**: the server IP's AS is a CDN the
  organisation is known to use (``cdn_asns``, by default Akamai's CDN
  networks for Microsoft and Apple), the certificate is the one the client
  asked for, and its chain did not fail validation other than on time or
  for want of an issuer in Zeek's root store ("unable to get local issuer
  certificate": ``tls_names.chain_trusted``). A CA issued the organisation a
  certificate for that name, so the name is the organisation's even when it
  is not in our domain lists (``mem.gfx.ms``, ``assets.onestore.ms`` on
  Akamai in test9), and CDNs serve their customers' certificates from their
  own addresses. A self-signed or untrusted "Microsoft" certificate is not
  excused. "The one the client asked for": its CN or one of its SAN names
  matches the SNI (RFC 6125) when x509.log gives the SANs; from ssl.log
  alone (no x509.log, or inside Slips) the SANs are unknown, and the CN and
  the SNI naming the same registrable domain is enough (issue 21:
  ``CN=wildcard.onestore.ms`` for ``assets.onestore.ms`` on Akamai).

Zeek 5+ ssl.log has no subject: the certificate comes from x509.log by
fingerprint (``shared/cert_join.py``), so both schemas give the same
evidence. Inside Slips there is no x509 channel: on Zeek 5+ logs this
detection only works standalone or attached, and the CDN exception compares
the CN only.

Deviation from the reference (which blames the client): the attacker is the
server (DST daddr), the victim the client (SRC saddr); the evidence stays in
the client's profile, where the connection was seen. One evidence per
(profile, window, server, claimed organisation), with the count and every
connection's uid; threat level (MEDIUM) and confidence (0.9) grow with the
count (the kind's growth, threshold 1).
"""

from __future__ import annotations

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text, src_ip
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord
from flowalerts.detections.shared.cert_join import CertificateJoin
from flowalerts.engine.detection import Finding, Tally
from flowalerts.traffic.tls_names import (
    MAX_TEXT,
    CertView,
    chain_trusted,
    normalise_host,
    parse_dn,
    registrable_domain,
)

# Akamai's CDN networks (by their registered handles; not AS63949, Akamai's
# Linode cloud, where anyone can rent a server, nor Nominum's DNS networks).
AKAMAI_ASNS = [12222, 16625, 20940, 21342, 24319, 31108, 32787, 33905, 34164, 35994, 36183]
MAX_NAMES = 10
MAX_NAME = 253


class IncompatibleCnConfig(SectionConfig):
    # Organisation -> ASNs of CDNs known to serve it from their own addresses.
    cdn_asns: dict[str, list[int]] = msgspec.field(
        default_factory=lambda: {"microsoft": list(AKAMAI_ASNS), "apple": list(AKAMAI_ASNS)}
    )


class IncompatibleCnDetails(Details):
    org: str
    claimed_by: str  # "O" or "CN": the subject attribute that names the organisation
    subject: str
    server_names: list[str]  # SNIs of the connections (first 10), "" when none


INCOMPATIBLE_CN = EvidenceKind(
    "INCOMPATIBLE_CN",
    ThreatLevel.MEDIUM,
    confidence=0.9,
    details=IncompatibleCnDetails,
    category="Fraud.Masquerade",
    summary="a certificate claiming Google/Microsoft/Apple/Facebook/Twitter on a server and SNI outside it "
    "(CDNs serving the organisation excepted); one per server and organisation",
)


def claimed_org(orgs, subject: str) -> tuple[str, str] | None:
    """(organisation, attribute) the subject claims, or None."""
    attrs = parse_dn(subject)
    for name in attrs.get("O", [])[:4]:
        org = orgs.org_of_name(name)
        if org:
            return org, "O"
    for cn in attrs.get("CN", [])[:4]:
        host = normalise_host(cn).removeprefix("*.")
        if host and " " not in host:
            org = orgs.org_of_domain(host)
            if org:
                return org, "CN"
    return None


def _asked_for(view: CertView, sni: str) -> bool:
    """The certificate is the one the client asked for: it covers the SNI, or
    (SANs unknown: no x509 record) its CN is in the SNI's registrable domain."""
    if view.covers(sni):
        return True
    if view.from_x509:
        return False
    domain = registrable_domain(view.cn)
    return bool(domain) and domain == registrable_domain(sni)


class ClaimTally(Tally):
    # The first connection's certificate and port describe the evidence.
    subject: str = ""
    attribute: str = ""  # "O" or "CN"
    dport: int = -1  # -1: none yet
    names: list[str] = msgspec.field(default_factory=list)  # SNIs ("" for none), first MAX_NAMES

    def note(self, flow: SslRecord, subject: str, attribute: str, sni: str) -> None:
        if self.dport < 0:
            self.subject, self.attribute, self.dport = subject[:MAX_TEXT], attribute, flow.dport
        sni = sni[:MAX_NAME]
        if sni not in self.names and len(self.names) < MAX_NAMES:
            self.names.append(sni)


class IncompatibleCn(CertificateJoin[IncompatibleCnConfig, ClaimTally]):
    """A certificate claiming a well-known organisation on a server outside it."""

    id = "incompatible_cn"
    evidence = (INCOMPATIBLE_CN,)

    def _candidate(self, flow: SslRecord, view: CertView | None) -> tuple[str, str] | None:
        """The claim, when neither the server IP nor the SNI belongs to it."""
        if view is None or not view.subject or not is_ip(flow.daddr):
            return None
        claim = claimed_org(self.knowledge.orgs, view.subject)
        if claim is None:
            return None
        org = claim[0]
        orgs = self.knowledge.orgs
        if orgs.ip_in_org(flow.daddr, org):
            return None
        sni = normalise_host(flow.server_name)
        if sni and orgs.domain_in_org(sni, org):
            return None
        return claim

    def _cdn_of_org(self, flow: SslRecord, org: str) -> bool:
        asns = self.config.cdn_asns.get(org)
        if not asns or not normalise_host(flow.server_name) or not chain_trusted(flow.validation_status):
            return False
        found = self.knowledge.orgs.asn_of(flow.daddr)
        return found is not None and found[0] in asns

    def wait_for_x509(self, msg: Message[SslRecord], view: CertView | None) -> bool:
        if view is None or not view.subject:
            return True
        claim = self._candidate(msg.flow, view)
        # Only the CDN exception needs the SANs; the CN may already cover the SNI.
        return claim is not None and self._cdn_of_org(msg.flow, claim[0]) and not view.covers(
            normalise_host(msg.flow.server_name))

    def decide(self, msg: Message[SslRecord], view: CertView | None) -> None:
        flow = msg.flow
        claim = self._candidate(flow, view)
        if claim is None or view is None:
            return
        org, attribute = claim
        sni = normalise_host(flow.server_name)
        if self._cdn_of_org(flow, org) and _asked_for(view, sni):
            return
        self.tally(msg, (flow.daddr, org), 1, update=lambda tally: tally.note(flow, view.subject, attribute, sni))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: ClaimTally) -> Finding:
        server, org = key
        subject = tally.subject
        names = list(tally.names)
        shown = ", ".join(escape_text(name, 100) for name in names if name) or "no SNI"
        return Finding(
            attacker=dst_ip(server),
            victim=src_ip(profile),
            details=IncompatibleCnDetails(org=org, claimed_by=tally.attribute, subject=subject, server_names=names),
            description=(
                f"server {server} ({shown}) presented a certificate claiming to belong to {org.capitalize()} "
                f"(subject '{escape_text(subject, 200)}'), but neither its IP nor the requested name belongs to "
                f"{org.capitalize()}: {tally.count} connection(s) from {profile} in this time window"
            ),
            dst_port=tally.dport if tally.dport > 0 else None,
            proto="tcp",
        )
