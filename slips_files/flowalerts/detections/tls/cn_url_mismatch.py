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
the count (``scale_with_count``, threshold 1) but the levels stay: the usual
false positive is a misconfigured server, and visiting it often does not make
it more dangerous; ``occurrences`` keeps each connection's weight for alerts.
"""

from __future__ import annotations

from flowalerts.core.evidence import (
    Details,
    EvidenceKind,
    ThreatLevel,
    dst_domain,
    escape_text,
    scale_with_count,
    src_ip,
)
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import SslRecord
from flowalerts.detections.shared.cert_join import CertificateJoin
from flowalerts.engine.detection import Tally
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
    summary="the SNI is covered by neither the certificate's CN nor its SANs, nor related to them (RFC 6125); "
    "without x509.log (inside Slips too) judged from the CN alone, confidence 0.4; paired client (low) and name "
    "(medium) evidence",
)


def _note(tally: Tally, flow: SslRecord, cn: str, san_count: int, cn_only: bool) -> None:
    cns = tally.extra.setdefault("cns", [])
    if cn not in cns and len(cns) < MAX_CNS:
        cns.append(cn)
    tally.extra["san_count"] = max(tally.extra.get("san_count", 0), san_count)
    tally.extra.setdefault("dport", flow.dport)
    # Judged from the CN alone only while no connection had the SANs.
    tally.extra["cn_only"] = tally.extra.get("cn_only", True) and cn_only


class CnUrlMismatch(CertificateJoin):
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
        self.tally(msg, (sni, flow.daddr), 1, update=lambda tally: _note(tally, flow, cn, san_count, cn_only))

    def report_tally(self, profile: str, twid: int, key: tuple[str, str], tally: Tally) -> None:
        sni, server = key
        cns = list(tally.extra.get("cns", []))
        san_count = tally.extra.get("san_count", 0)
        cn_only = tally.extra.get("cn_only", False)
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
        common = dict(twid=twid, ts=tally.first_ts, uids=tally.uids, details=details, description=description,
                      dst_port=tally.extra.get("dport") or None, proto="tcp", count=tally.count,
                      occurrences=tally.count, send=False)
        # Only the confidence grows: a misconfigured server visited often is not more dangerous.
        _, confidence = scale_with_count(CN_URL_MISMATCH, tally.count, 1,
                                         confidence=CN_ONLY_CONFIDENCE if cn_only else None)
        client = self.report(
            CN_URL_MISMATCH,
            profile=profile,
            attacker=src_ip(profile),
            victim=dst_domain(sni),
            threat_level=ThreatLevel.LOW,
            confidence=confidence,
            evidence_id=self.tally_id(CN_URL_MISMATCH, profile, twid, key),
            **common,
        )
        name = self.report(
            CN_URL_MISMATCH,
            profile=server,
            attacker=dst_domain(sni),
            victim=src_ip(profile),
            threat_level=ThreatLevel.MEDIUM,
            confidence=confidence,
            evidence_id=self.tally_id(CN_URL_MISMATCH, profile, twid, (*key, "name")),
            **common,
        )
        self.report_linked(client, name)
