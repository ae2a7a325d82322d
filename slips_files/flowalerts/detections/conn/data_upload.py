"""Large data uploads (seed "Data Upload"; spec 2.6, 2.7).

A profile that sent a lot of data to one destination, as exfiltration does:

* in one connection: at least ``single_flow_threshold_mb`` MB (100; MB =
  10^6 bytes), or
* in one time window: at least ``window_threshold_mb`` MB (100, as the seed
  says) summed over that window's connections to one destination. Only the
  window's own connections count (the reference summed every window of the
  profile and re-reported the same bytes at each close: spec 5.2 item 14).

Each finding is a linked pair (``rel_id``): the uploader (INFO, its own
profile) and the receiver (HIGH, the destination's profile).

Order: Zeek writes a connection when it ends, so a long upload arrives after
the short connections of its window (issue 12: two 60 MB uploads, the second
a 4,200 s connection written after window 1's other records). Windows stay
open for the allowed lateness of ``flowalerts.core.clock``, so it still counts in
its window. A connection arriving after its window was settled is counted by
the host; if it alone is a single-flow upload it is reported on its own
(with its own id, not as an update of the settled evidence): the reason the
detection reads late records.

Exceptions, and why:

* destinations that are multicast, link-local, reserved or unspecified:
  streams and discovery, not uploads to a host (the reference also skips the
  gateway, which a Zeek folder does not tell us).

Repeated: one pair per (profile, window, destination), reported when the
window sum or one connection crosses its threshold and updated at window
close with the final bytes, connections and uids. The receiver's level and
the confidence grow with the bytes over the window threshold, not with the
count of connections (``repeat_level`` of MB over the threshold in MB: x4 the
threshold is one level more; so the kind's own growth is ``FIXED``), and it
weighs as one evidence per single-flow upload in it (at least one); the
uploader's half weighs as one.

Memory: a window keeps one integer per (profile, destination); flows and
uids are kept only once the destination's sum passes 1% of the window
threshold, so ``flows``/``uids`` are the connections from then on (the
earlier ones carried under 1% of the bytes), ``bytes`` is the whole sum.
"""

from __future__ import annotations

import dataclasses
import sys

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import FIXED, Details, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.traffic.conn_flows import UPLOAD_IGNORED, ip_info, repeat_level

MB = 1_000_000
# A destination's flows and uids are kept once its window sum passes this
# share of the window threshold.
CANDIDATE_SHARE = 0.01


class DataUploadConfig(SectionConfig):
    window_threshold_mb: float = 100.0  # MB to one destination in one time window
    single_flow_threshold_mb: float = 100.0  # MB in one connection

    slips_keys = {
        "data_exfiltration_threshold": "window_threshold_mb",
        "single_flow_upload_threshold": "single_flow_threshold_mb",
    }


class DataUploadDetails(Details):
    bytes: int  # sent to the destination in this window
    flows: int  # connections counted (see the module doc)
    largest_flow_bytes: int
    single_flow_uploads: int  # connections at or above the single-flow threshold
    window_threshold_mb: float
    single_flow_threshold_mb: float


DATA_UPLOAD = EvidenceKind(
    "DATA_UPLOAD",
    ThreatLevel.HIGH,  # the receiver; the uploader's half of the pair is INFO
    confidence=0.6,
    details=DataUploadDetails,
    category="Information.DataLeak",
    summary=">= 100 MB sent to one IP in one connection or in one window; a linked pair (uploader INFO, "
    "receiver HIGH); one per destination",
    grows=FIXED,  # grown by the bytes in report_tally, not by the count of connections
)


@dataclasses.dataclass(slots=True)  # one per (profile, window): no __dict__
class WindowSums:
    """A (profile, window)'s bytes sent by destination (one int each)."""

    by_destination: dict[str, int] = dataclasses.field(default_factory=dict)


class DataUploadTally(Tally):
    """The connections to one destination since its sum passed the candidate share."""

    bytes: int = 0  # the window's whole sum to the destination
    largest: int = 0  # the largest single connection counted
    singles: int = 0  # connections at or above the single-flow threshold

    def add_upload(self, total: int, sent: int, single: bool) -> None:
        self.bytes = max(self.bytes, total)
        self.largest = max(self.largest, sent)
        if single:
            self.singles += 1


class DataUpload(Detection[DataUploadConfig, DataUploadTally]):
    """Large uploads in one connection or to one destination in a window."""

    id = "data_upload"
    channels = ("new_flow",)
    # Late records too: a late single-flow upload is reported on its own.
    late_records = True
    evidence = (DATA_UPLOAD,)

    def handle(self, msg: Message[ConnRecord]) -> None:
        flow = msg.flow
        sent = flow.sbytes
        if sent <= 0:
            return
        daddr = flow.daddr
        destination = ip_info(daddr)
        if destination is None or destination.flags & UPLOAD_IGNORED:
            return
        config = self.config
        single = sent >= config.single_flow_threshold_mb * MB
        if msg.late:
            if single:
                self._report_late(msg, destination.canonical)
            return
        window_threshold = config.window_threshold_mb * MB
        # One int per destination; the destination string is interned (it
        # recurs in many windows and profiles).
        sums = self.window(msg, WindowSums).by_destination
        key = sys.intern(destination.canonical)
        total = sums.get(key, 0) + sent
        sums[key] = total
        if total < window_threshold * CANDIDATE_SHARE and not single:
            return
        # Reported when one connection or the sum crosses its threshold (see hold_tally).
        self.tally(msg, key, update=lambda entry: entry.add_upload(total, sent, single))

    def _crossed(self, tally: DataUploadTally) -> bool:
        return tally.singles > 0 or tally.bytes >= self.config.window_threshold_mb * MB

    def hold_tally(self, key: str, tally: DataUploadTally) -> bool:
        return not self._crossed(tally)

    def recount(self, profile: str, twid: int) -> None:
        """Window close: destinations whose sum never crossed are no finding."""
        for key, tally in list(self.tallies(profile, twid).items()):
            if not self._crossed(tally):
                self.drop_tally(profile, twid, key)

    def report_tally(self, profile: str, twid: int, key: str, tally: DataUploadTally) -> list[Finding] | None:
        if ip_info(profile) is None:
            return None  # a source that is not an address (hosts that do not check them)
        level, confidence = self._grown(tally.bytes)
        details, text = self._details(profile, key, tally.bytes, tally.count, tally.largest, tally.singles)
        return [
            Finding(victim=None, details=details, description=f"large data upload: {text}",
                    level=ThreatLevel.INFO, confidence=confidence, occurrences=1),
            Finding(victim=None, details=details, description=f"large data upload received: {text}",
                    attacker=dst_ip(key), profile=key, id_key=("received", profile), level=level,
                    confidence=confidence, occurrences=max(1, tally.singles)),
        ]

    def _report_late(self, msg: Message[ConnRecord], daddr: str) -> None:
        """A single-flow upload whose window was already settled: a pair of its own."""
        flow = msg.flow
        profile, sent = msg.profile, flow.sbytes
        if ip_info(profile) is None:
            return
        level, confidence = self._grown(sent)
        details, text = self._details(profile, daddr, sent, 1, sent, 1)
        common = {"twid": msg.twid, "ts": flow.starttime, "uids": [flow.uid], "confidence": confidence,
                  "details": details, "count": 1, "send": False}
        uploader = self.report(DATA_UPLOAD, profile=profile, attacker=src_ip(profile), threat_level=ThreatLevel.INFO,
                               description=f"large data upload: {text}", **common)
        receiver = self.report(DATA_UPLOAD, profile=daddr, attacker=dst_ip(daddr), threat_level=level,
                               description=f"large data upload received: {text}", **common)
        self.report_linked(uploader, receiver)

    def _grown(self, sent: int) -> tuple[ThreatLevel, float]:
        """The receiver's level and the confidence: grown with the MB sent over the window threshold."""
        return repeat_level(DATA_UPLOAD, int(sent // MB), max(1, round(self.config.window_threshold_mb)))

    def _details(self, profile: str, daddr: str, sent: int, flows: int, largest: int,
                 singles: int) -> tuple[DataUploadDetails, str]:
        config = self.config
        details = DataUploadDetails(bytes=sent, flows=flows, largest_flow_bytes=largest, single_flow_uploads=singles,
                                    window_threshold_mb=config.window_threshold_mb,
                                    single_flow_threshold_mb=config.single_flow_threshold_mb)
        text = f"{sent / MB:.2f} MB sent from {profile} to {daddr} in {flows} connection(s) in this time window"
        return details, text
