"""CN-URL mismatch (spec 2.27 INTENT, spec 5 item 19).

The SNI (``server_name``) is compared with the certificate's CN using RFC
6125 rules (whole-name, case-insensitive, one leftmost-label wildcard), and
with the certificate's SAN DNS names from x509.log when they are known. It is
*not* a mismatch when the SNI and the CN share a registrable domain
(tldextract, offline public suffix list) or belong to the same supported
organisation. No evidence when the SNI or the CN is empty, or when the CN is
not a DNS name (has no dot or has spaces: a product name, not a host).

The x509 record of the leaf certificate is logged slightly after the ssl
record, so a connection whose CN does not match waits (pending table) until
its x509 record arrives, flow time passes ``ts + SAN_WAIT``, or input ends.

Paired evidence (spec): the client (SRC saddr, victim the SNI as DOMAIN, LOW,
profile saddr) and the name (DST DOMAIN SNI, victim SRC saddr, MEDIUM, profile
daddr), confidence 0.8. Once per (profile, window, SNI, CN).
"""

from __future__ import annotations

from typing import Any

import msgspec

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_domain, link, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.records import SslRecord, X509Record
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.tls.names import (
    X509_SAN_TABLE,
    cert_conn_of,
    first_attr,
    normalise_host,
    registrable_domain,
    wildcard_match,
)

SAN_WAIT = 60.0
PENDING_TTL = SAN_WAIT + 3600.0


class PendingCn(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    profile: str
    twid: int
    starttime: float
    saddr: str
    daddr: str
    sport: int
    dport: int
    server_name: str
    cn: str
    leaf_fuid: str


def _is_dns_name(name: str) -> bool:
    return "." in name and not any(c.isspace() for c in name) and len(name) <= 253


class CnUrlMismatch(Detector):
    """A server name not covered by the certificate's CN or SANs, nor related to it."""

    channels = ("new_ssl", "new_x509")
    evidence_types = (EvidenceType.CN_URL_MISMATCH,)
    confidence = 0.8

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.pending = self.state.table("cn_url_mismatch_pending")

    def handle(self, msg: Message[Any]) -> Result:
        flow = msg.flow
        if isinstance(flow, X509Record):
            joined = cert_conn_of(self.state, flow.uid)
            if joined is not None and self.pending.get(joined.uid) is not None:
                return self._settle([joined.uid], final=True)
            return None
        if not isinstance(flow, SslRecord):
            return None
        sni = normalise_host(flow.server_name)
        cn = normalise_host(first_attr(flow.subject, "CN")) if flow.subject else ""
        if not sni or not cn or is_ip(sni) or not _is_dns_name(cn) or not flow.uid:
            return None
        if wildcard_match(cn, sni) or self._related(cn, sni):
            return None
        entry = PendingCn(profile=msg.profile, twid=msg.twid, starttime=flow.starttime, saddr=flow.saddr,
                          daddr=flow.daddr, sport=flow.sport, dport=flow.dport, server_name=sni, cn=cn,
                          leaf_fuid=flow.cert_chain_fuids[0] if flow.cert_chain_fuids else "")
        self.pending.set(flow.uid, entry, flow.starttime + PENDING_TTL)
        # Already know the SANs (or never will): decide now.
        final = not entry.leaf_fuid or self._sans(entry.leaf_fuid) is not None
        return self._settle([flow.uid], final=final)

    def on_watermark(self, watermark: float) -> Result:
        due = [uid for uid, entry in self.pending.items() if watermark >= entry.starttime + SAN_WAIT]
        return self._settle(due, final=True) if due else None

    def finish(self) -> Result:
        return self._settle([uid for uid, _ in self.pending.items()], final=True)

    def _sans(self, fuid: str) -> list[str] | None:
        return self.state.table(X509_SAN_TABLE).get(fuid) if fuid else None

    def _related(self, cn: str, sni: str) -> bool:
        cn_domain = registrable_domain(cn)
        if cn_domain and cn_domain == registrable_domain(sni):
            return True
        orgs = self.knowledge.orgs
        org = orgs.org_of_domain(cn.removeprefix("*."))
        return org is not None and orgs.domain_in_org(sni, org)

    def _settle(self, uids: list[str], final: bool) -> list[Evidence]:
        out: list[Evidence] = []
        if not final:
            return out
        for uid in uids:
            entry = self.pending.get(uid)
            if entry is None:
                continue
            self.pending.delete(uid)
            sans = self._sans(entry.leaf_fuid) or []
            if any(wildcard_match(san, entry.server_name) for san in sans[:200]):
                continue
            seen = self.state.window("cn_url_mismatch", entry.profile, entry.twid)
            key = (entry.server_name, entry.cn)
            if key in seen:
                continue
            seen[key] = True
            out.extend(self._evidence(uid, entry, len(sans)))
        return out

    def _evidence(self, uid: str, entry: PendingCn, san_count: int) -> list[Evidence]:
        sans = f" nor any of its {san_count} SAN names" if san_count else ""
        description = (
            f"TLS certificate CN '{entry.cn}'{sans} does not cover the requested server name "
            f"'{entry.server_name}' (server {entry.daddr}, client {entry.saddr})"
        )
        common = dict(description=description, confidence=self.confidence, twid=entry.twid,
                      timestamp=entry.starttime, uids=[uid], src_port=entry.sport, dst_port=entry.dport)
        client = make_evidence(
            EvidenceType.CN_URL_MISMATCH,
            attacker=src_ip(entry.saddr),
            victim=dst_domain(entry.server_name),
            threat_level=ThreatLevel.LOW,
            profile=entry.profile,
            **common,
        )
        name = make_evidence(
            EvidenceType.CN_URL_MISMATCH,
            attacker=dst_domain(entry.server_name),
            victim=src_ip(entry.saddr),
            threat_level=ThreatLevel.MEDIUM,
            profile=entry.daddr,
            **common,
        )
        return link(client, name)
