"""Large data uploads (spec 2.6, 2.7, seed).

* One connection that sent >= ``single_flow_upload_threshold`` MB (10^6 bytes).
* Per time window, the bytes a profile sent to one destination *in that
  window* reaching ``data_exfiltration_threshold`` MB (default 100, as the
  seed says). Reported as soon as the sum crosses the threshold (not at
  window close, so the evidence is timely and carries the crossing flow's
  time), once per (source, destination, window). When the crossing flow is
  itself a single-flow upload already reported, the window evidence is not
  repeated.

Destinations that are multicast, link-local or reserved are ignored (we do
not learn a gateway, so the reference's gateway exemption is not applied).
Each detection is a linked pair: the source (INFO, its own profile) and the
destination (HIGH, profile of the destination).
"""

from __future__ import annotations

import functools
import sys

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, link, src_ip
from flowalerts.knowledge.ips import is_ip, parse_ip
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord

MB = 1_000_000
MAX_UIDS = 50
# Uids are kept for a destination once its window sum passes this share of
# the threshold; the evidence lists the flows that brought it over.
CANDIDATE_SHARE = 0.05
# Marks a (source, destination, window) already reported.
REPORTED = -1


@functools.lru_cache(maxsize=65536)
def ignored_for_upload(ip_text: str) -> bool:
    ip = parse_ip(ip_text)
    return ip is None or ip.is_multicast or ip.is_link_local or ip.is_reserved or ip.is_unspecified


class DataUpload(Detector):
    """Large uploads in one connection or to one destination in a window."""

    channels = ("new_flow",)
    evidence_types = (EvidenceType.DATA_UPLOAD,)
    confidence = 0.6

    def handle(self, msg: Message[ConnRecord]) -> Result:
        flow = msg.flow
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if flow.sbytes <= 0 or not flow.daddr or ignored_for_upload(flow.daddr):
            return None
        out: list[Evidence] = []
        single = flow.sbytes >= self.config.single_flow_upload_threshold * MB
        if single:
            out += self._pair(msg, flow.sbytes, [flow.uid], "in one connection")
        # Per window: destination -> bytes so far (or REPORTED). Most pairs
        # never come near the threshold, so only an int is kept per pair and
        # the uids are kept only for destinations past CANDIDATE_SHARE of it.
        sums = self.state.window("data_upload", msg.profile, msg.twid)
        daddr = sys.intern(flow.daddr)
        total = sums.get(daddr, 0)
        if total == REPORTED:
            return out
        total += flow.sbytes
        threshold = self.config.data_exfiltration_threshold * MB
        if total >= threshold * CANDIDATE_SHARE and flow.uid:
            uids = self.state.window("data_upload_uids", msg.profile, msg.twid).setdefault(daddr, [])
            uids.append(flow.uid)
            del uids[:-MAX_UIDS]
        if total >= threshold:
            sums[daddr] = REPORTED
            if not (single and total == flow.sbytes):
                uids = self.state.window("data_upload_uids", msg.profile, msg.twid).get(daddr, [flow.uid])
                out += self._pair(msg, total, uids, "in this time window")
        else:
            sums[daddr] = total
        return out

    def _pair(self, msg: Message[ConnRecord], sent: int, uids: list[str], scope: str) -> list[Evidence]:
        flow = msg.flow
        text = f"{sent / MB:.2f} MB uploaded from {flow.saddr} to {flow.daddr} {scope}"
        source = make_evidence(
            EvidenceType.DATA_UPLOAD,
            description=f"Large data upload: {text}",
            attacker=src_ip(flow.saddr),
            threat_level=ThreatLevel.INFO,
            confidence=self.confidence,
            profile=msg.profile,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=uids,
        )
        destination = make_evidence(
            EvidenceType.DATA_UPLOAD,
            description=f"Large data upload received: {text}",
            attacker=dst_ip(flow.daddr),
            threat_level=ThreatLevel.HIGH,
            confidence=self.confidence,
            profile=flow.daddr,
            twid=msg.twid,
            timestamp=flow.starttime,
            uids=uids,
        )
        return link(source, destination)
