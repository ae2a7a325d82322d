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
(``scale_with_count``: high and 0.5 at 10, critical and 0.7 at 40).

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

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, escape_text, scale_with_count, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import DnsRecord
from flowalerts.engine.detection import Detection, Tally
from flowalerts.engine.samples import keep_earliest
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


class DgaNxdomains(Detection[DgaConfig]):
    """Many distinct names that failed to resolve (NXDOMAIN) from one host."""

    id = "dga"
    channels = ("new_dns",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
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
        window = self.window(msg)
        seen: set[str] | None = window.get("names")
        if seen is None:
            seen = window["names"] = set()
        if query in seen:
            return
        if len(seen) < MAX_NAMES:
            seen.add(query)
        self.tally(msg, (), self.config.threshold, update=lambda tally: _sample(tally, flow.starttime, query))

    def report_tally(self, profile: str, twid: int, key: tuple[()], tally: Tally) -> None:
        threshold = tally.threshold
        level, confidence = scale_with_count(DGA_NXDOMAINS, tally.count, threshold)
        sample = [name for _, name in tally.extra.get("sample", [])]
        shown = ", ".join(escape_text(name, limit=80) for name in sample[:5])
        self.report(
            DGA_NXDOMAINS,
            profile=profile,
            twid=twid,
            ts=tally.first_ts,
            attacker=src_ip(profile),
            uids=tally.uids,
            threat_level=level,
            confidence=confidence,
            details=DgaDetails(nxdomains=tally.count, threshold=threshold, names=list(sample)),
            description=(
                f"possible DGA or domain scanning: {profile} queried {tally.count} different names that do not "
                f"exist (NXDOMAIN) in this time window, e.g. {shown}"
            ),
            count=tally.count,
            occurrences=1 + (tally.count - threshold) // max(1, self.config.step),
            evidence_id=self.tally_id(DGA_NXDOMAINS, profile, twid, key),
        )


def _sample(tally: Tally, ts: float, query: str) -> None:
    keep_earliest(tally.extra.setdefault("sample", []), ts, query, SAMPLE)
