"""DATA_UPLOAD (seed "Data Upload"; spec 2.6, 2.7, 4.6; issue 12: late long uploads;
issue 13: one pair per destination)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import Direction, uuid_shaped
from flowalerts.detections.conn.data_upload import DataUpload, DataUploadDetails, WindowSums
from tests.harness import CLIENT, T0, Harness, config, conn, in_zeek_order

MB = 1_000_000
DST = "8.8.8.8"


def upload(uid, mb=0.0, daddr=DST, at=0.0, dur=1.0, sbytes=None):
    return conn(uid=uid, daddr=daddr, sbytes=int(mb * MB) if sbytes is None else sbytes, starttime=T0 + at, dur=dur)


def run(*records, cfg=None):
    return pairs(Harness(DataUpload, cfg=cfg).feed(*records).evidence())


def pairs(evidence):
    """(receiver, level, confidence, uids, details) per pair, checking the pair's shape."""
    assert len(evidence) % 2 == 0
    out = []
    for uploader, receiver in zip(evidence[::2], evidence[1::2]):
        assert (uploader.attacker.direction, uploader.attacker.value, uploader.profile) == (
            Direction.SRC, CLIENT, CLIENT)
        assert (receiver.attacker.direction, receiver.profile) == (Direction.DST, receiver.attacker.value)
        assert uploader.victim is None and receiver.victim is None
        assert uploader.threat_level.value == "info" and uploader.confidence == receiver.confidence
        assert uploader.rel_id == [receiver.id] and receiver.rel_id == [uploader.id]
        assert (uploader.uids, uploader.details, uploader.timewindow, uploader.ts) == (
            receiver.uids, receiver.details, receiver.timewindow, receiver.ts)
        out.append((receiver.attacker.value, receiver.threat_level.value, receiver.confidence, receiver.uids,
                    receiver.details))
    return out


def d(sent_mb, flows=1, largest_mb=None, singles=0, window=100.0, single=100.0, sbytes=None):
    return DataUploadDetails(bytes=int(sent_mb * MB) if sbytes is None else sbytes, flows=flows,
                             largest_flow_bytes=int((largest_mb if largest_mb is not None else sent_mb) * MB)
                             if sbytes is None else sbytes,
                             single_flow_uploads=singles, window_threshold_mb=window, single_flow_threshold_mb=single)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (upload("Cup", sbytes=104_857_601), [(DST, "high", 0.6, ["Cup"], d(0, singles=1, sbytes=104_857_601))]),
        (upload("Cup", 100), [(DST, "high", 0.6, ["Cup"], d(100, singles=1))]),  # inclusive
        (upload("Cup", sbytes=100 * MB - 1), []),
        (upload("Cup", 10), []),
        # Exceptions: multicast, link-local, reserved destinations.
        (upload("Cup", 150, daddr="224.0.0.1"), []),
        (upload("Cup", 150, daddr="169.254.1.1"), []),
        (upload("Cup", 150, daddr="240.0.0.1"), []),
        # A private destination is a host like any other.
        (upload("Cup", 150, daddr="192.168.1.1"), [("192.168.1.1", "high", 0.6, ["Cup"], d(150, singles=1))]),
    ],
)
def test_single_flow_upload(record, expected):
    assert run(record) == expected


@pytest.mark.parametrize(
    ("threshold", "chunks_mb", "expected"),
    [
        (100, [60, 40], [("high", 0.6, ["C0", "C1"], d(100, 2, 60))]),  # crosses on the second flow
        (100, [60, 39], []),
        (100, [60, 40, 50], [("high", 0.6, ["C0", "C1", "C2"], d(150, 3, 60))]),  # one pair, final bytes
        (500, [90, 90, 90], []),
        (50, [30, 30], [("high", 0.6, ["C0", "C1"], d(60, 2, 30, window=50.0))]),
        # 4 x the threshold: one level more; confidence + 0.2 (two doublings).
        (100, [99, 99, 99, 99, 4], [("critical", 0.8, ["C0", "C1", "C2", "C3", "C4"], d(400, 5, 99))]),
    ],
)
def test_window_upload(threshold, chunks_mb, expected):
    cfg = config(flow_alerts={"data_exfiltration_threshold": threshold})  # Slips's flat key
    records = [upload(f"C{i}", mb, at=i) for i, mb in enumerate(chunks_mb)]
    assert [entry[1:] for entry in run(*records, cfg=cfg)] == expected


def test_window_sums_do_not_carry_over_windows():
    # 297 MB in window 2 and 297 MB in window 3 with a 500 MB threshold: nothing (the
    # reference summed every window of the profile and reported at each close).
    cfg = config(flow_alerts={"data_upload": {"window_threshold_mb": 500}})
    records = [upload("C0", sbytes=1, daddr="1.1.1.1")]
    records += [upload(f"A{i}", 99, at=3600 + i) for i in range(3)]
    records += [upload(f"B{i}", 99, at=7200 + i) for i in range(3)]
    assert run(*records, cfg=cfg) == []


def test_several_single_flow_uploads_make_one_pair_weighing_as_many():
    records = [upload("C0", 150), upload("C1", 120, at=10), upload("C2", 1, at=20)]
    harness = Harness(DataUpload).feed(*records)
    uploader, receiver = harness.evidence()
    assert receiver.details == d(271, 3, 150, singles=2)
    assert (receiver.uids, receiver.occurrences, uploader.occurrences, receiver.count) == (["C0", "C1", "C2"], 2, 1, 3)


def test_issue_12_a_long_upload_written_after_its_window_still_counts():
    # Two 60 MB uploads to one IP in window 1; the second is a 4,200 s
    # connection, which Zeek writes (at its end) after window 1's other
    # records and some of window 2's.
    records = [upload("Cfirst", 60, at=100), upload("Clong", 60, at=200, dur=4200.0)]
    records += [upload(f"S{i}", 0.001, daddr="1.1.1.1", at=300 + i * 60) for i in range(70)]
    expected = [(DST, "high", 0.6, ["Cfirst", "Clong"], d(120, 2, 60))]
    ts_order = sorted(records, key=lambda r: r.starttime)
    zeek_order = in_zeek_order(records)
    window_1 = [r for r in records if r.starttime < T0 + 3600 and r.uid != "Clong"]
    assert max(zeek_order.index(r) for r in window_1) < zeek_order.index(records[1])  # written after them
    assert run(*zeek_order) == run(*ts_order) == expected


def test_a_single_upload_arriving_after_its_window_was_settled_is_reported_on_its_own():
    records = [upload("C0", 60, at=0)]
    records += [upload(f"S{i}", 0.001, daddr="1.1.1.1", at=3600 + i * 300) for i in range(30)]
    harness = Harness(DataUpload).feed(*records)
    assert harness.so_far() == []  # (releases the records held while T0 is chosen)
    harness.feed(upload("Clate", 120, at=10))  # window 1 closed long ago
    assert harness.driver.health.late_records["new_flow"] == 1
    assert pairs(harness.evidence()) == [(DST, "high", 0.6, ["Clate"], d(120, singles=1))]


def test_small_flows_keep_no_uids_until_the_destination_is_a_candidate():
    # Memory: most destinations never approach the threshold; they cost one
    # int per window, and flows/uids are kept only past 1% of it (1 MB).
    harness = Harness(DataUpload).feed(*[upload(f"Cs{i}", sbytes=1000, daddr=f"93.184.216.{i % 50 + 1}")
                                         for i in range(200)])
    window = harness.driver.state.peek_window("data_upload", CLIENT, 1)
    assert list(window) == [WindowSums]
    assert len(window[WindowSums].by_destination) == 50 and set(window[WindowSums].by_destination.values()) == {4000}


def test_single_flow_threshold_from_the_slips_key():
    cfg = config(flow_alerts={"single_flow_upload_threshold": 20})
    assert run(upload("Cup", 25), cfg=cfg) == [(DST, "high", 0.6, ["Cup"], d(25, singles=1, single=20.0))]
    assert run(upload("Cup", 19), cfg=cfg) == []


def test_each_half_of_the_pair_keeps_its_id_from_first_report_to_update():
    # Crossed by the second upload, updated at the window close by the third:
    # two evidence ids in all, each owned by its profile (the receiver's is the
    # destination's, keyed by the uploader).
    harness = Harness(DataUpload).feed(upload("C1", 60), upload("C2", 60, at=10), upload("C3", 30, at=20))
    emitted = harness.evidence() and harness.emitted
    assert [(e.profile, e.count) for e in emitted] == [(CLIENT, 2), (DST, 2), (CLIENT, 3), (DST, 3)]
    uploader, receiver = emitted[2:]
    assert [e.id for e in emitted] == [uploader.id, receiver.id] * 2
    assert uploader.id == uuid_shaped("DATA_UPLOAD", CLIENT, "1", repr(DST))
    assert receiver.id == uuid_shaped("DATA_UPLOAD", DST, "1", repr(("received", CLIENT)))
