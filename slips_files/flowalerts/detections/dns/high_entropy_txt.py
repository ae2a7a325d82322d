"""High-entropy DNS TXT answers (seed "High entropy DNS TXT answers"; spec 2.33, 5.3 item 29).

A TXT answer whose text has a Shannon entropy of at least ``threshold`` (5)
bits per character: encoded or encrypted data (DNS tunnels, C2 over TXT).
The entropy is that of the text itself, without Zeek's ``TXT <len>`` prefix
(the reference included it, which shifts every value). Reference points: 62
distinct letters and digits score 5.95; a typical SPF record about 4.5.

As in the reference, each finding is a linked pair: the asking host (attacker
SRC, LOW, its profile) and the resolver that answered (attacker DST, MEDIUM,
the resolver's profile; see "open problems" in the notes).

One pair per (profile, window, registrable domain of the query) (issue 13): a
tunnel asks a new subdomain for every message, so one evidence per query name
would still flood. Reported at the first high-entropy answer, updated at
window close with the number of answers, every uid, the distinct texts and the
highest entropy. Threat level and confidence grow with the number of
*distinct* high-entropy texts (``scale_with_count``, threshold 1), which is
also its alert weight: a tunnel returns new data in every answer, while a
mail server fetching one DKIM key a hundred times returns the same text.

Exceptions, and why:

* mDNS: a multicast source or destination (service announcements carry
  TXT records of device properties; a multicast group is no attacker);
* answers that are not TXT, and queries that cannot return TXT (only TXT,
  ANY and ``*`` queries are read: the cheapest test on a third of all lines).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import (
    FIXED,
    Details,
    EvidenceKind,
    Ioc,
    ThreatLevel,
    dst_ip,
    escape_text,
    scale_with_count,
    src_ip,
)
from flowalerts.core.ips import is_ip, is_multicast
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.engine.samples import keep_earliest, values
from flowalerts.knowledge.orgs import registered_domain
from flowalerts.traffic import dns_names as names

TXT_QTYPES = frozenset({"TXT", "ANY", "*"})
MAX_TEXT = 65_535
SHOWN_CHARS = 120
MAX_TEXTS = 1_000  # distinct texts remembered (as hashes) per (profile, window, domain)
SAMPLE = 3  # texts carried in the details
MAX_QUERIES = 10  # query names carried in the details


def shannon_entropy(text: str) -> float:
    """Bits per character: -sum(p * log2 p) over the character frequencies."""
    if not text:
        return 0.0
    total = len(text)
    return -sum((n / total) * math.log2(n / total) for n in Counter(text).values())


class HighEntropyTxtConfig(SectionConfig):
    threshold: float = 5.0  # bits per character, inclusive

    slips_keys = {"entropy_threshold": "threshold"}


class HighEntropyTxtDetails(Details):
    domain: str  # the registrable domain (or the query name when it has none)
    queries: list[str]  # the query names (at most 10)
    answers: int  # high-entropy TXT answers in this window
    distinct_texts: int
    max_entropy: float  # bits per character, 2 decimals
    threshold: float
    texts: list[str]  # the first texts (at most 3, cut to 120 characters)
    resolver: str
    side: str  # "client": the asking host; "resolver": the server that answered


HIGH_ENTROPY_DNS_ANSWER = EvidenceKind(
    "HIGH_ENTROPY_DNS_ANSWER",
    ThreatLevel.LOW,  # the resolver's half is medium
    confidence=0.6,
    details=HighEntropyTxtDetails,
    summary=(
        "a DNS TXT answer with Shannon entropy >= 5 bits/char (not mDNS); pair: client (low) and resolver "
        "(medium); one pair per queried domain and window"
    ),
    # Grown by the distinct texts in report_tally (the base would grow by the answers).
    grows=FIXED,
)


class HighEntropyTally(Tally):
    """The high-entropy answers of one (profile, window, domain)."""

    hashes: set[bytes] = msgspec.field(default_factory=set)  # digests of the distinct texts (at most MAX_TEXTS)
    texts: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, text), the earliest SAMPLE
    queries: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, name), the earliest MAX_QUERIES
    max_entropy: float = 0.0
    resolver: str = ""  # the resolver of the earliest answer
    resolver_ts: float = float("inf")

    def note(self, ts: float, resolver: str, query: str, text: str, entropy: float) -> None:
        """Accumulate; samples keep the earliest values by flow time (whatever the arrival order)."""
        if not self.resolver or (ts, resolver) < (self.resolver_ts, self.resolver):
            self.resolver_ts, self.resolver = ts, resolver
        # A stable digest (not ``hash``, which differs between processes), so a
        # restored checkpoint keeps recognising the same texts.
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        if digest not in self.hashes and len(self.hashes) < MAX_TEXTS:
            self.hashes.add(digest)
        keep_earliest(self.texts, ts, text[:SHOWN_CHARS], SAMPLE)
        keep_earliest(self.queries, ts, query, MAX_QUERIES)
        self.max_entropy = max(self.max_entropy, entropy)


class HighEntropyDnsTxt(Detection[HighEntropyTxtConfig, HighEntropyTally]):
    """A DNS TXT answer whose text looks random (tunnels, encoded payloads)."""

    id = "high_entropy_txt"
    channels = ("new_dns",)
    evidence = (HIGH_ENTROPY_DNS_ANSWER,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        flow = msg.flow
        if flow.qtype_name not in TXT_QTYPES or not flow.answers:
            return
        if is_multicast(flow.saddr) or is_multicast(flow.daddr) or not is_ip(flow.daddr):
            return
        domain = query = None
        for answer in flow.answers:
            text = names.txt_text(answer)
            if not text:
                continue
            text = text[:MAX_TEXT]
            entropy = shannon_entropy(text)
            if entropy < self.config.threshold:
                continue
            if query is None:
                query = names.normalize(flow.query)
                domain = registered_domain(query) or query
            self.tally(msg, domain, 1, update=lambda tally, text=text, entropy=entropy, query=query: tally.note(
                flow.starttime, flow.daddr, query, text, entropy))

    def report_tally(self, profile: str, twid: int, key: str, tally: HighEntropyTally) -> list[Finding]:
        distinct = len(tally.hashes)
        resolver = tally.resolver
        max_entropy = round(tally.max_entropy, 2)
        texts = values(tally.texts)
        shown = escape_text(texts[0], limit=SHOWN_CHARS)
        description = (
            f"DNS TXT answer with high entropy ({max_entropy:.2f} bits/char) for {escape_text(key, limit=200)} "
            f"from resolver {resolver}: \"{shown}\""
            + (f" ({tally.count} such answers, {distinct} different, in this time window)" if tally.count > 1 else "")
        )
        # Grown by the distinct texts, not the answers (the kind is FIXED: the
        # base grows by the tally's count); the resolver's half starts one
        # level higher (medium), as in the reference.
        client_level, confidence = scale_with_count(HIGH_ENTROPY_DNS_ANSWER, distinct, 1)
        resolver_level = ThreatLevel.MEDIUM.raised(_steps(HIGH_ENTROPY_DNS_ANSWER.threat_level, client_level))

        def finding(side: str, attacker: Ioc, owner: str, level: ThreatLevel) -> Finding:
            return Finding(
                victim=None,
                attacker=attacker,
                profile=owner,
                id_key=(side, profile, key),
                level=level,
                confidence=confidence,
                occurrences=distinct,
                details=HighEntropyTxtDetails(
                    domain=key, queries=values(tally.queries), answers=tally.count, distinct_texts=distinct,
                    max_entropy=max_entropy, threshold=self.config.threshold, texts=texts, resolver=resolver,
                    side=side,
                ),
                description=description,
            )

        return [finding("client", src_ip(profile), profile, client_level),
                finding("resolver", dst_ip(resolver), resolver, resolver_level)]


def _steps(base: ThreatLevel, level: ThreatLevel) -> int:
    order = list(ThreatLevel)
    return order.index(level) - order.index(base)
