"""High-entropy DNS TXT answers (spec 2.33, 5.3 item 29 fixed): the Shannon
entropy (bits per character) of the TXT text itself, without Zeek's
``TXT <len>`` prefixes, at or above ``entropy_threshold`` (5). mDNS is
skipped: a multicast source or destination (Zeek logs mDNS responses as
responder -> 224.0.0.251 / ff02::fb; a multicast group is no attacker). Paired evidence: the answering resolver (DST,
MEDIUM, its own profile) and the asking host (SRC, LOW), both confidence 0.6,
linked. Once per (profile, window, query, text).
"""

from __future__ import annotations

import math
from collections import Counter

from flowalerts.evidence import EvidenceType, ThreatLevel, dst_ip, link, src_ip
from flowalerts.knowledge.ips import is_ip, is_multicast
from flowalerts.messages import Message
from flowalerts.records import DnsRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.modules.flow_alerts.detectors.dns import names

SHOWN_CHARS = 120  # of the TXT text, in the description
MAX_TEXT = 65_535


def shannon_entropy(text: str) -> float:
    """Bits per character: -sum(p * log2 p) over the character frequencies."""
    if not text:
        return 0.0
    total = len(text)
    return -sum((n / total) * math.log2(n / total) for n in Counter(text).values())


class HighEntropyDnsTxt(Detector):
    """A DNS TXT answer whose text looks random (tunnelling, encoded payloads)."""

    channels = ("new_dns",)
    evidence_types = (EvidenceType.HIGH_ENTROPY_DNS_ANSWER,)
    confidence = 0.6

    def handle(self, msg: Message[DnsRecord]) -> Result:
        flow = msg.flow
        if not flow.answers or is_multicast(flow.saddr) or is_multicast(flow.daddr) or not is_ip(flow.daddr):
            return None
        out = []
        seen = None
        for answer in flow.answers:
            text = names.txt_text(answer)
            if not text:
                continue
            text = text[:MAX_TEXT]
            entropy = shannon_entropy(text)
            if entropy < self.config.entropy_threshold:
                continue
            if seen is None:
                seen = self.state.window("high_entropy_txt", msg.profile, msg.twid)
            key = (names.normalize(flow.query), text)
            if key in seen:
                continue
            seen[key] = True
            shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
            description = (
                f"DNS TXT answer with high entropy ({entropy:.2f} bits/char) for query {flow.query} "
                f"answered by {flow.daddr}: {shown}"
            )
            common = dict(
                description=description,
                confidence=self.confidence,
                twid=msg.twid,
                timestamp=flow.starttime,
                uids=[flow.uid],
            )
            resolver = make_evidence(
                EvidenceType.HIGH_ENTROPY_DNS_ANSWER,
                attacker=dst_ip(flow.daddr),
                threat_level=ThreatLevel.MEDIUM,
                profile=flow.daddr,
                **common,
            )
            client = make_evidence(
                EvidenceType.HIGH_ENTROPY_DNS_ANSWER,
                attacker=src_ip(flow.saddr),
                threat_level=ThreatLevel.LOW,
                profile=msg.profile,
                **common,
            )
            out.extend(link(resolver, client))
        return out or None
