"""Young domains (seed "Young Domains"; spec 2.21, 5.3 item 30).

A queried name whose registrable domain (public-suffix aware, offline list)
was created less than ``max_age_days`` (60) days before the query: fresh
domains serve phishing, malware delivery and C2 far more often than old ones.

The creation date comes from ``self.lookups.creation_date(domain)``, which
never blocks: it answers from its cache, or None (unknown yet, failed, or
offline) and looks the domain up in the background, so the first query of a
domain usually gives nothing and a later one fires. The age is measured from
the query's *flow* time, not today (the reference used the wall clock, so an
old capture was judged by today's date, spec 5.3 item 30).

As in the reference, each finding is linked evidence: the asking host
(attacker SRC, INFO, its profile) and every IP the name resolved to (attacker
DST, LOW, the IP's profile).

One finding per (profile, window, registrable domain) (issue 13): reported at
the first query once the date is known, updated at window close with the
number of queries, every uid and every answer IP seen. The level does not grow
with the count and it weighs as one evidence: the finding is the domain's age,
not how often it was asked for.

Exceptions, and why:

* ``.local``, ``.arpa``, names without a TLD, IP addresses: no registrable
  domain, no creation date;
* a creation date after the query (the domain was registered again since):
  the age at the query is unknown, not young;
* offline (``--offline``): no lookups, nothing is asked (the cheapest test).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_domain, dst_ip, escape_text
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.knowledge.orgs import registered_domain
from flowalerts.traffic import dns_names as names

SECONDS_PER_DAY = 86400.0
MAX_IPS = 16


class YoungDomainConfig(SectionConfig):
    max_age_days: float = 60.0  # strictly younger than this

    slips_keys = {"young_domain_max_age_days": "max_age_days"}


class YoungDomainDetails(Details):
    domain: str  # the registrable domain whose age was checked
    query: str  # the earliest query name
    created: str  # creation date (ISO 8601, UTC)
    age_days: float  # at the first query, 1 decimal
    max_age_days: float
    answers: list[str]  # the answer IPs seen (at most 16, sorted)
    queries: int
    side: str  # "client": the asking host; "answer": an IP the name resolved to


YOUNG_DOMAIN = EvidenceKind(
    "YOUNG_DOMAIN",
    ThreatLevel.INFO,  # the answer IPs' evidence is low
    confidence=1.0,
    details=YoungDomainDetails,
    summary=(
        "a name whose registrable domain is < 60 days old at the query (needs lookups); client (info) + each "
        "answer IP (low), linked; one per domain and window"
    ),
    grows=FIXED,
)


def registrable_domain(name: str) -> str | None:
    """``a.b.example.co.uk`` -> ``example.co.uk``; None without a public suffix."""
    return registered_domain(name) or None


class YoungDomainTally(Tally):
    """The earliest query, the domain's creation date and the answer IPs seen."""

    query: str = ""  # the earliest query name ("": none yet)
    query_ts: float = float("inf")
    created: float = 0.0  # creation date (epoch) the first query was judged by
    ips: list[str] = msgspec.field(default_factory=list)  # at most MAX_IPS, first seen

    def note(self, ts: float, query: str, created_ts: float, ips: list[str]) -> None:
        if not self.query:
            self.query, self.query_ts, self.created = query, ts, created_ts
        elif (ts, query) < (self.query_ts, self.query):  # the earliest query, whatever the arrival order
            self.query, self.query_ts = query, ts
        for ip in ips:
            if ip not in self.ips and len(self.ips) < MAX_IPS:
                self.ips.append(ip)


@dataclasses.dataclass
class Created:
    """A (profile, window)'s young domains: their creation dates (epoch), so
    the lookups are asked once per domain and window."""

    by_domain: dict[str, float] = dataclasses.field(default_factory=dict)


class YoungDomain(Detection[YoungDomainConfig, YoungDomainTally]):
    """A DNS query for a domain registered less than 60 days before the query."""

    id = "young_domain"
    channels = ("new_dns",)
    evidence = (YOUNG_DOMAIN,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        if not self.lookups.online:
            return
        flow = msg.flow
        query = names.normalize(flow.query)
        if not query or len(query) > names.MAX_NAME or names.is_local(query) or names.is_arpa(query):
            return
        if not names.has_tld(query) or is_ip(query):
            return
        domain = registrable_domain(query)
        if domain is None:
            return
        young = self.window(msg, Created).by_domain
        created_ts = young.get(domain)
        if created_ts is None:
            created = self.lookups.creation_date(domain)
            if created is None:
                return
            if created.tzinfo is None:
                created = created.replace(tzinfo=dt.timezone.utc)
            created_ts = created.timestamp()
            age_days = (flow.starttime - created_ts) / SECONDS_PER_DAY
            # A negative age (registered after the query: re-registered since) is unknown, not young.
            if not 0 <= age_days < self.config.max_age_days:
                return
            young[domain] = created_ts
        judged = created_ts
        ips = [ip for ip in names.answer_ips(flow.answers) if not names.is_blocking_answer(ip)]
        self.tally(msg, domain, 1, update=lambda tally: tally.note(flow.starttime, query, judged, ips))

    def report_tally(self, profile: str, twid: int, key: str, tally: YoungDomainTally) -> list[Finding]:
        age = (tally.first_ts - tally.created) / SECONDS_PER_DAY  # at the first query
        created = dt.datetime.fromtimestamp(tally.created, tz=dt.timezone.utc).date().isoformat()
        query = tally.query
        ips = sorted(tally.ips)
        description = (
            f"query for the young domain {escape_text(query, limit=253)}: {escape_text(key, limit=253)} was "
            f"registered on {created}, {int(age)} days before the query"
            + (f" ({tally.count} queries in this time window)" if tally.count > 1 else "")
        )

        def details(side: str) -> YoungDomainDetails:
            return YoungDomainDetails(domain=key, query=query, created=created, age_days=round(age, 1),
                                      max_age_days=self.config.max_age_days, answers=ips, queries=tally.count,
                                      side=side)

        # It weighs as one evidence whatever the count: the finding is the domain's age.
        client = Finding(victim=dst_domain(key), details=details("client"), description=description, occurrences=1)
        answers = [
            Finding(victim=None, details=details("answer"), description=description, attacker=dst_ip(ip),
                    profile=ip, id_key=("answer", profile, key), level=ThreatLevel.LOW, occurrences=1)
            for ip in ips
        ]
        return [client, *answers]
