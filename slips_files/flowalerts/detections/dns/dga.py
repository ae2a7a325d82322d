"""DGA / domain scanning from NXDOMAIN answers (seed "DGA"; spec 2.17, 5.2 item 11).

A profile whose DNS queries for ``threshold`` (10) or more *different* names
failed with NXDOMAIN in one time window: malware trying generated domains
until one resolves, or a scan of names.

One evidence per (profile, window) (issue 13): it is reported as soon as the
10th distinct failed name is seen, and updated (same id) when the window
closes, with the final count, every uid and a sample of the names. The seed's
cadence (an evidence at 10, 15, 20 ...) survives as alert weight:
``occurrences`` = 1 + (count - threshold) // step, so a host alerts as it did
with one evidence per step; threat level and confidence grow with the count
(the kind's ``Growth``: high and 0.5 at 10, critical and 0.7 at 40).

Exceptions, and why:

* a name counts once per window: a client retrying one broken name is not
  trying many names (the reference counted repeats, spec 5.2 item 11);
* ``.arpa`` names: reverse lookups of addresses without a PTR record fail all
  the time, by design;
* ``.local`` names: mDNS names that leaked to the unicast resolver;
* names whitelisted for alerts as destinations (whitelist.conf): service
  domains whose lookups fail by design (DNS blocklists answer NXDOMAIN for
  every clean address);
* other failures (SERVFAIL, REFUSED ...): a broken or refusing resolver, not
  names that do not exist.
"""

from __future__ import annotations

import dataclasses

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, escape_text
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.engine.samples import keep_earliest, values
from flowalerts.traffic import dns_names as names

# Distinct names remembered per (profile, window); past it names are still
# counted but no longer checked for repeats (memory stays bounded).
MAX_NAMES = 10_000
SAMPLE = 20  # names carried in the details


class DgaConfig(SectionConfig):
    threshold: int = 10  # distinct NXDOMAIN names per window
    step: int = 5  # the seed's cadence (an evidence every 5 more): alert weight

    slips_keys = {"dga_nxdomain_threshold": "threshold", "dga_nxdomain_step": "step"}


class DgaDetails(Details):
    nxdomains: int  # distinct names that did not exist
    threshold: int
    names: list[str]  # the earliest names (at most 20)


DGA_NXDOMAINS = EvidenceKind(
    "DGA_NXDOMAINS",
    ThreatLevel.HIGH,
    confidence=0.5,
    details=DgaDetails,
    category="Malicious.Botnet",
    summary=">= 10 distinct NXDOMAIN names from one host in a window (not .arpa/.local/whitelisted); one per window",
)


class DgaTally(Tally):
    sample: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, name), the earliest SAMPLE

    def note(self, ts: float, query: str) -> None:
        keep_earliest(self.sample, ts, query, SAMPLE)


@dataclasses.dataclass
class FailedNames:
    """The distinct NXDOMAIN names of a (profile, window) (at most MAX_NAMES)."""

    names: set[str] = dataclasses.field(default_factory=set)


class DgaNxdomains(Detection[DgaConfig, DgaTally]):
    """Many distinct names that failed to resolve (NXDOMAIN) from one host."""

    id = "dga"
    channels = ("new_dns",)
    evidence = (DGA_NXDOMAINS,)

    def handle(self, msg: Message[DnsRecord]) -> None:
        flow = msg.flow
        if flow.rcode_name != "NXDOMAIN":
            return
        query = names.normalize(flow.query)
        if not query or names.is_arpa(query) or names.is_local(query):
            return
        if self.knowledge.whitelist.is_whitelisted_alert(query, "domain", "dst"):
            return
        seen = self.window(msg, FailedNames).names
        if query in seen:
            return
        if len(seen) < MAX_NAMES:
            seen.add(query)
        self.tally(msg, (), self.config.threshold, update=lambda tally: tally.note(flow.starttime, query))

    def report_tally(self, profile: str, twid: int, key: tuple[()], tally: DgaTally) -> Finding:
        threshold = tally.threshold
        sample = values(tally.sample)
        shown = ", ".join(escape_text(name, limit=80) for name in sample[:5])
        return Finding(
            victim=None,
            details=DgaDetails(nxdomains=tally.count, threshold=threshold, names=sample),
            description=(
                f"possible DGA or domain scanning: {profile} queried {tally.count} different names that do not "
                f"exist (NXDOMAIN) in this time window, e.g. {shown}"
            ),
            # The seed's cadence: one evidence per ``step`` more names.
            occurrences=1 + (tally.count - threshold) // max(1, self.config.step),
        )
