"""Invalid DNS resolutions (seed "Invalid DNS resolutions"; spec 2.38, 5.3 item 24).

An answer that is a *blocking* address - 0.0.0.0, 127.0.0.0/8, ``::`` or
``::1`` - the answer ad-blocking and sinkholing resolvers give for a domain
they block: the host tried to reach something its resolver refuses (ads,
trackers, or a sinkholed malware domain). Informational (INFO, 0.8).

One evidence per (profile, window, query) (issue 13): reported at the first
blocked answer, updated at window close with the number of blocked answers
and every uid. It stays INFO whatever the count: a page that keeps loading a
blocked tracker is not a threat, and INFO adds nothing to alerts anyway.

Exceptions, and why:

* private answers (10.x, 192.168.x ...): split-horizon DNS answers internal
  names with internal addresses; only the blocking addresses are "invalid"
  (the reference flagged every private answer, spec 5.3 item 24);
* ``localhost`` (and ``*.localhost``): resolving to loopback is its purpose;
* ``.local`` (mDNS) and ``.arpa`` (reverse) names, as the seed says;
* queries other than A and AAAA (only address queries get address answers;
  also the cheapest test on a third of all lines).

The DNS learner does not store blocking answers as resolutions, so they never
make a later connection look "resolved".
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_domain, escape_text
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.engine.samples import keep_earliest, values
from flowalerts.traffic import dns_names as names

ADDRESS_TYPES = frozenset({"A", "AAAA"})
BLOCKING_PREFIXES = ("0.", "127.", "::")  # 0.0.0.0, 127/8, ::, ::1, ::ffff:127.x
MAX_ANSWERS = 8


class InvalidResolutionDetails(Details):
    query: str
    answers: list[str]  # the distinct blocking answers (at most 8)
    responses: int  # DNS answers with a blocking address in this window


INVALID_DNS_RESOLUTION = EvidenceKind(
    "INVALID_DNS_RESOLUTION",
    ThreatLevel.INFO,
    confidence=0.8,
    details=InvalidResolutionDetails,
    summary="a name resolved to 0.0.0.0, 127/8, :: or ::1 (a blocking resolver); not localhost/.local/.arpa; one per name",
    grows=FIXED,  # INFO, 0.8 whatever the count; weighs as each answer
)


class InvalidResolutionTally(Tally):
    answers: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, ip), the earliest MAX_ANSWERS

    def note(self, ts: float, blocked: list[str]) -> None:
        for ip in blocked:
            keep_earliest(self.answers, ts, ip, MAX_ANSWERS)


class InvalidDnsResolution(Detection[NoConfig, InvalidResolutionTally]):
    """A domain resolved to 0.0.0.0 or a loopback address."""

    id = "invalid_resolution"
    channels = ("new_dns",)
    evidence = (INVALID_DNS_RESOLUTION,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        flow = msg.flow
        if flow.qtype_name not in ADDRESS_TYPES or not flow.answers:
            return
        # Zeek writes addresses in canonical form: a blocking answer starts like this.
        if not any(answer.startswith(BLOCKING_PREFIXES) for answer in flow.answers):
            return
        blocked = [ip for ip in names.answer_ips(flow.answers) if names.is_blocking_answer(ip)]
        if not blocked:
            return
        query = names.normalize(flow.query)
        if not query or names.is_localhost(query) or names.is_local(query) or names.is_arpa(query):
            return
        self.tally(msg, query, 1, update=lambda tally: tally.note(flow.starttime, blocked))

    def report_tally(self, profile: str, twid: int, key: str, tally: InvalidResolutionTally) -> Finding:
        answers = values(tally.answers)
        times = f" ({tally.count} times in this time window)" if tally.count > 1 else ""
        return Finding(
            victim=dst_domain(key),
            details=InvalidResolutionDetails(query=key, answers=answers, responses=tally.count),
            description=(
                f"invalid DNS answer: {escape_text(key, limit=253)} was resolved to the blocking address "
                f"{', '.join(answers)}{times}"
            ),
        )
