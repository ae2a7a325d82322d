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
(with its own id, not as an update of the settled evidence).

Exceptions, and why:

* destinations that are multicast, link-local, reserved or unspecified:
  streams and discovery, not uploads to a host (the reference also skips the
  gateway, which a Zeek folder does not tell us).

Repeated: one pair per (profile, window, destination), reported when the
window sum or one connection crosses its threshold and updated at window
close with the final bytes, connections and uids. The receiver's level and
the confidence grow with the bytes over the window threshold
(``scale_with_count``: x4 the threshold is one level more), and it weighs as
one evidence per single-flow upload in it (at least one).

Memory: a window keeps one integer per (profile, destination); flows and
uids are kept only once the destination's sum passes 1% of the window
threshold, so ``flows``/``uids`` are the connections from then on (the
earlier ones carried under 1% of the bytes), ``bytes`` is the whole sum.
"""

from __future__ import annotations

import sys

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection, Tally
from flowalerts.traffic.conn_flows import UPLOAD_IGNORED, ip_info, repeat_level

MB = 1_000_000
# A destination's flows and uids are kept once its window sum passes this
# share of the window threshold.
CANDIDATE_SHARE = 0.01
NEVER = sys.maxsize


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
)


class DataUpload(Detection[DataUploadConfig]):
    """Large uploads in one connection or to one destination in a window."""

    id = "data_upload"
    channels = ("new_flow",)
    late_records = True  # TRANSITIONAL: as before the base gated late records
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
        sums = self.window(msg)
        key = sys.intern(destination.canonical)
        total = sums.get(key, 0) + sent
        sums[key] = total
        if total < window_threshold * CANDIDATE_SHARE and not single:
            return
        tally = self.tally(msg, key, NEVER, update=lambda entry: _add(entry, total, sent, single))
        if not tally.reported and (single or total >= window_threshold):
            tally.uids.sort()
            self.report_tally(msg.profile, msg.twid, key, tally)
            tally.reported = tally.count
            tally.threshold = 1  # reported: from now on the window close updates it

    def report_tally(self, profile: str, twid: int, key: str, tally: Tally) -> None:
        extra = tally.extra
        self._report_pair(profile, twid, key, tally.first_ts, tally.uids, extra["bytes"], tally.count,
                          extra["largest"], extra.get("singles", 0),
                          ids=(self.tally_id(DATA_UPLOAD, profile, twid, key),
                               self.tally_id(DATA_UPLOAD, profile, twid, ("received", key))))

    def _report_late(self, msg: Message[ConnRecord], daddr: str) -> None:
        flow = msg.flow
        self._report_pair(msg.profile, msg.twid, daddr, flow.starttime, [flow.uid], flow.sbytes, 1, flow.sbytes, 1,
                          ids=("", ""))

    def _report_pair(self, profile: str, twid: int, daddr: str, ts: float, uids: list[str], sent: int, flows: int,
                     largest: int, singles: int, ids: tuple[str, str]) -> None:
        if ip_info(profile) is None:
            return  # a source that is not an address (hosts that do not check them)
        config = self.config
        ratio_base = max(1, round(config.window_threshold_mb))
        level, confidence = repeat_level(DATA_UPLOAD, int(sent // MB), ratio_base)
        details = DataUploadDetails(bytes=sent, flows=flows, largest_flow_bytes=largest, single_flow_uploads=singles,
                                    window_threshold_mb=config.window_threshold_mb,
                                    single_flow_threshold_mb=config.single_flow_threshold_mb)
        text = f"{sent / MB:.2f} MB sent from {profile} to {daddr} in {flows} connection(s) in this time window"
        uploader = self.report(
            DATA_UPLOAD,
            profile=profile,
            twid=twid,
            ts=ts,
            attacker=src_ip(profile),
            uids=uids,
            threat_level=ThreatLevel.INFO,
            confidence=confidence,
            details=details,
            description=f"large data upload: {text}",
            count=flows,
            evidence_id=ids[0],
            send=False,
        )
        receiver = self.report(
            DATA_UPLOAD,
            profile=daddr,
            twid=twid,
            ts=ts,
            attacker=dst_ip(daddr),
            uids=uids,
            threat_level=level,
            confidence=confidence,
            details=details,
            description=f"large data upload received: {text}",
            count=flows,
            occurrences=max(1, singles),
            evidence_id=ids[1],
            send=False,
        )
        self.report_linked(uploader, receiver)


def _add(tally: Tally, total: int, sent: int, single: bool) -> None:
    extra = tally.extra
    extra["bytes"] = max(extra.get("bytes", 0), total)
    if sent > extra.get("largest", 0):
        extra["largest"] = sent
    if single:
        extra["singles"] = extra.get("singles", 0) + 1
