"""Young domains (spec 2.21, 5.3 item 30 fixed): a queried domain whose
registrable domain (public-suffix aware, offline list) was created less than
``young_domain_max_age_days`` (60) days before the query's *flow* time.

Creation dates come from ``ctx.lookups.creation_date``, which never blocks:
the first query of a domain usually only schedules the whois lookup and later
queries see the answer. Offline, or when whois fails, there is no evidence.
Evidence: one LOW per answer IP (attacker DST = the IP, profile = the IP) and
one INFO for the asking host (attacker SRC, profile = source), all linked.
Once per (profile, window, registrable domain).
"""

from __future__ import annotations

import datetime as dt

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_domain, dst_ip, link, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.knowledge.orgs import registered_domain
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.dns import names

SECONDS_PER_DAY = 86400.0


def registrable_domain(name: str) -> str | None:
    """``a.b.example.co.uk`` -> ``example.co.uk``; None without a public suffix."""
    return registered_domain(name) or None


class YoungDomain(Detector):
    """A DNS query for a domain registered less than 60 days before the query."""

    channels = ("new_dns",)
    evidence_types = (EvidenceType.YOUNG_DOMAIN,)
    confidence = 1.0

    def handle(self, msg: Message[DnsRecord]) -> Result:
        if not self.ctx.lookups.online:
            self.ctx.lookups.notes["lookups_offline"] += 1
            return None
        flow = msg.flow
        query = names.normalize(flow.query)
        if (
            not query
            or len(query) > names.MAX_NAME
            or names.is_local(query)
            or names.is_arpa(query)
            or not names.has_tld(query)
            or is_ip(query)
        ):
            return None
        domain = registrable_domain(query)
        if domain is None:
            return None
        seen = self.state.window("young_domain", msg.profile, msg.twid)
        if domain in seen:
            return None
        created = self.ctx.lookups.creation_date(domain)
        if created is None:
            return None
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        age_days = (flow.starttime - created.timestamp()) / SECONDS_PER_DAY
        # A negative age (created after the query: re-registered since) is unknown, not young.
        if not 0 <= age_days < self.config.young_domain_max_age_days:
            return None
        seen[domain] = True
        description = (
            f"Query for the young domain {query}: {domain} was registered on {created.date().isoformat()}, "
            f"{int(age_days)} days before the query"
        )
        common = dict(
            description=description,
            confidence=self.confidence,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=[flow.uid],
        )
        client = make_evidence(
            EvidenceType.YOUNG_DOMAIN,
            attacker=src_ip(flow.saddr),
            victim=dst_domain(query),
            threat_level=ThreatLevel.INFO,
            profile=msg.profile,
            **common,
        )
        answers = [
            make_evidence(
                EvidenceType.YOUNG_DOMAIN,
                attacker=dst_ip(ip),
                threat_level=ThreatLevel.LOW,
                profile=ip,
                **common,
            )
            for ip in names.answer_ips(flow.answers)
            if not names.is_blocking_answer(ip)
        ]
        return link(client, *answers)
