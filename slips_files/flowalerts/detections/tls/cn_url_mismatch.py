"""CN-URL mismatch (seed; spec 2.27 INTENT, spec 5 item 19).

The name the client asked for (SNI, ``server_name``) is not a name the
server's certificate is valid for: a misconfigured server at best, an
impostor or interception at worst.

Names are compared by RFC 6125 rules (whole name, case-insensitive, one
leftmost-label wildcard), against the certificate's CN and against its SAN
DNS names from x509.log (the reference matched a prefix of the SNI, so
``google.com.attacker.net`` passed for ``google.com``).

Exceptions, and why:

* the SNI or the CN is empty, the SNI is an IP, or the CN is not a DNS name
  (no dot, or spaces: ``Plex Media Server`` names a product, not a host):
  there is nothing to compare;
* the SNI and the CN share a registrable domain (offline public suffix list)
  or belong to the same supported organisation (``www.gstatic.com`` for
  ``www.youtube.com``): the same owner's names.

Zeek 5+ ssl.log has no subject: the certificate (CN and SANs) comes from
x509.log by fingerprint, logged once a day (``shared/cert_join.py``); in the
older schema the CN comes from ssl.log and the SANs from the connection's own
x509 record. A candidate mismatch waits for that x509 record (its SANs may
cover the SNI), at most ``CERT_WAIT`` seconds of flow time. **Without the
x509 record** (no x509.log; inside Slips, which publishes none) the SANs are
unknown, and the seed's own rule is applied to the CN alone: the SNI is
neither the CN nor related to it. Today's certificates name their hosts in
the SANs, so a CN alone misses names a SAN would cover: that evidence says
so in its description and ``details.cn_only``, with half the confidence
(``CN_ONLY_CONFIDENCE``, 0.4).

Evidence, as the reference's pair: the client (SRC saddr, victim the SNI as
DOMAIN, LOW, profile saddr) and the name (DST DOMAIN SNI, victim SRC saddr,
MEDIUM, profile daddr), confidence 0.8, linked. One pair per (client profile,
window, SNI, server), with the count and every uid. The confidence grows with
the count (the kind grows its confidence only) but the levels stay: the usual
false positive is a misconfigured server, and visiting it often does not make
it more dangerous; ``occurrences`` keeps each connection's weight for alerts.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import (
    Details,
    EvidenceKind,
    Growth,
    ThreatLevel,
    dst_domain,
    escape_text,
    src_ip,
)
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord
from flowalerts.detections.shared.cert_join import CertificateJoin
from flowalerts.engine.detection import Finding, NoConfig, Tally
from flowalerts.traffic.tls_names import (
    CertView,
    any_matches,
    is_dns_name,
    normalise_host,
    registrable_domain,
    wildcard_match,
)

MAX_CNS = 10


class CnUrlMismatchDetails(Details):
    server_name: str
    server: str
    cns: list[str]  # the CNs that did not cover it (first 10)
    san_count: int  # SAN names compared (0: none known)
    cn_only: bool = False  # judged from the CN alone: no x509 record gave the SANs


# Confidence of a mismatch judged from the CN alone (SANs unknown).
CN_ONLY_CONFIDENCE = 0.4


CN_URL_MISMATCH = EvidenceKind(
    "CN_URL_MISMATCH",
    ThreatLevel.MEDIUM,
    confidence=0.8,
    details=CnUrlMismatchDetails,
    category="Fraud.Masquerade",
    # A misconfigured server visited often is not more dangerous: only the confidence grows.
    grows=Growth(level=False),
    summary="the SNI is covered by neither the certificate's CN nor its SANs, nor related to them (RFC 6125); "
    "without x509.log (inside Slips too) judged from the CN alone, confidence 0.4; paired client (low) and name "
    "(medium) evidence",
)


class MismatchTally(Tally):
    cns: list[str] = msgspec.field(default_factory=list)  # first MAX_CNS
    san_count: int = 0  # most SAN names compared
    dport: int = -1  # the server port of the first connection (-1: none yet)
    cn_only: bool = True  # judged from the CN alone (only while no connection had the SANs)

    def note(self, flow: SslRecord, cn: str, san_count: int, cn_only: bool) -> None:
        if cn not in self.cns and len(self.cns) < MAX_CNS:
            self.cns.append(cn)
        self.san_count = max(self.san_count, san_count)
        if self.dport < 0:
            self.dport = flow.dport
        self.cn_only = self.cn_only and cn_only


class CnUrlMismatch(CertificateJoin[NoConfig, MismatchTally]):
    """A server name not covered by the certificate's CN or SANs, nor related to it."""

    id = "cn_url_mismatch"
    evidence = (CN_URL_MISMATCH,)

    def _names(self, flow: SslRecord, view: CertView | None) -> tuple[str, str] | None:
        """(SNI, CN) when they can be compared and the CN neither covers nor relates to the SNI."""
        if view is None:
            return None
        sni = normalise_host(flow.server_name)
        cn = view.cn
        if not is_dns_name(sni) or not is_dns_name(cn) or is_ip(sni) or not is_ip(flow.daddr):
            return None
        if wildcard_match(cn, sni) or self._related(cn, sni):
            return None
        return sni, cn

    def _related(self, cn: str, sni: str) -> bool:
        cn_domain = registrable_domain(cn)
        if cn_domain and cn_domain == registrable_domain(sni):
            return True
        orgs = self.knowledge.orgs
        org = orgs.org_of_domain(cn.removeprefix("*."))
        return org is not None and orgs.domain_in_org(sni, org)

    def wait_for_x509(self, msg: Message[SslRecord], view: CertView | None) -> bool:
        # No CN yet (Zeek 5+), or a candidate mismatch whose SANs may cover the SNI.
        return view is None or not view.subject or self._names(msg.flow, view) is not None

    def decide(self, msg: Message[SslRecord], view: CertView | None) -> None:
        flow = msg.flow
        names = self._names(flow, view)
        if names is None or view is None:
            return
        sni, cn = names
        if view.from_x509 and any_matches(view.san_dns, sni):
            return  # a SAN covers the name
        san_count = len(view.san_dns)
        cn_only = not view.from_x509
        self.tally(msg, (sni, flow.daddr), 1, update=lambda tally: tally.note(flow, cn, san_count, cn_only))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: MismatchTally) -> list[Finding]:
        sni, server = key
        cns = list(tally.cns)
        san_count = tally.san_count
        cn_only = tally.cn_only
        sans = f" nor any of its {san_count} SAN names" if san_count else ""
        shown_cns = ", ".join(f"'{escape_text(cn, 200)}'" for cn in cns)
        description = (
            f"TLS certificate CN {shown_cns}{sans} does not cover the requested server name "
            f"'{escape_text(sni, 200)}' (server {server}, client {profile}): {tally.count} connection(s) in this "
            "time window"
            + ("; judged from the CN alone (no x509 record gave the certificate's SAN names, which may cover it)"
               if cn_only else "")
        )
        details = CnUrlMismatchDetails(server_name=sni, server=server, cns=cns, san_count=san_count, cn_only=cn_only)
        confidence = CN_ONLY_CONFIDENCE if cn_only else None
        dst_port = tally.dport if tally.dport > 0 else None
        client = Finding(attacker=src_ip(profile), victim=dst_domain(sni), level=ThreatLevel.LOW,
                         confidence=confidence, details=details, description=description, dst_port=dst_port,
                         proto="tcp")
        name = Finding(profile=server, attacker=dst_domain(sni), victim=src_ip(profile), level=ThreatLevel.MEDIUM,
                       confidence=confidence, details=details, description=description, dst_port=dst_port,
                       proto="tcp", id_key=(*key, "name"))
        return [client, name]
