"""DATA_UPLOAD (spec 2.6, 2.7, 4.6, seed)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import Direction, ThreatLevel
from tests.harness import T0, Pipeline, config, conn

MB = 1_000_000


def pairs(evs):
    """(source description scope, bytes text) per linked pair, checking the pair's shape."""
    out = []
    assert len(evs) % 2 == 0
    for src, dst in zip(evs[::2], evs[1::2], strict=True):
        assert (src.attacker.direction, src.threat_level, src.confidence) == (Direction.SRC, ThreatLevel.INFO, 0.6)
        assert (dst.attacker.direction, dst.threat_level, dst.confidence) == (Direction.DST, ThreatLevel.HIGH, 0.6)
        assert src.profile == src.attacker.value and dst.profile == dst.attacker.value
        assert src.victim is None and dst.victim is None
        assert src.rel_id == [dst.id] and dst.rel_id == [src.id]
        assert src.uids == dst.uids and src.timewindow == dst.timewindow
        out.append((src.attacker.value, dst.attacker.value, src.uids, src.description.split(":")[1].split(" MB")[0]))
    return out


@pytest.mark.parametrize(
    ("sbytes", "daddr", "expected"),
    [
        (104_857_601, "8.8.8.8", [("192.168.1.10", "8.8.8.8", ["Cup"], " 104.86")]),
        (100 * MB, "8.8.8.8", [("192.168.1.10", "8.8.8.8", ["Cup"], " 100.00")]),  # threshold is inclusive
        (100 * MB - 1, "8.8.8.8", []),
        (10_485_760, "8.8.8.8", []),
        (104_857_601, "224.0.0.1", []),  # multicast
        (104_857_601, "169.254.1.1", []),  # link-local
        (104_857_601, "240.0.0.1", []),  # reserved
        (104_857_601, "192.168.1.1", [("192.168.1.10", "192.168.1.1", ["Cup"], " 104.86")]),  # private: not ignored
    ],
)
def test_single_flow_upload(sbytes, daddr, expected):
    pipe = Pipeline()
    pipe.feed(conn(uid="Cup", daddr=daddr, sbytes=sbytes))
    assert pairs(pipe.of_type("DATA_UPLOAD")) == expected


@pytest.mark.parametrize(
    ("threshold", "chunks_mb", "expected"),
    [
        (100, [60, 40], [(["C0", "C1"], " 100.00")]),  # crosses on the second flow
        (100, [60, 39], []),
        (100, [60, 40, 50], [(["C0", "C1"], " 100.00")]),  # once per window
        (500, [90, 90, 90], []),
        (50, [30, 30], [(["C0", "C1"], " 60.00")]),
    ],
)
def test_window_upload(threshold, chunks_mb, expected):
    pipe = Pipeline(cfg=config(flow_alerts={"data_exfiltration_threshold": threshold}))
    pipe.feed(*[conn(uid=f"C{i}", daddr="8.8.8.8", sbytes=mb * MB, starttime=T0 + i) for i, mb in enumerate(chunks_mb)])
    assert [(uids, mb) for _, _, uids, mb in pairs(pipe.of_type("DATA_UPLOAD"))] == expected


def test_window_sums_do_not_carry_over_windows():
    # 297 MB in window 2 and 297 MB in window 3 with a 500 MB threshold: no evidence (the
    # reference summed every window of the profile and reported at both closes).
    pipe = Pipeline(cfg=config(flow_alerts={"data_exfiltration_threshold": 500}))
    pipe.feed(conn(uid="C0", daddr="1.1.1.1", sbytes=1))
    pipe.feed(*[conn(uid=f"A{i}", daddr="8.8.8.8", sbytes=99 * MB, starttime=T0 + 3600 + i) for i in range(3)])
    pipe.feed(*[conn(uid=f"B{i}", daddr="8.8.8.8", sbytes=99 * MB, starttime=T0 + 7200 + i) for i in range(3)])
    pipe.finish()
    assert pipe.of_type("DATA_UPLOAD") == []


def test_single_flow_crossing_window_is_not_reported_twice():
    pipe = Pipeline()
    pipe.feed(conn(uid="C0", daddr="8.8.8.8", sbytes=150 * MB))
    assert [uids for _, _, uids, _ in pairs(pipe.of_type("DATA_UPLOAD"))] == [["C0"]]
    pipe.feed(conn(uid="C1", daddr="8.8.8.8", sbytes=150 * MB, starttime=T0 + 1))
    assert [uids for _, _, uids, _ in pairs(pipe.of_type("DATA_UPLOAD"))] == [["C0"], ["C1"]]


def test_small_flows_keep_no_uids_until_the_pair_is_a_candidate():
    # Memory: most (source, destination) pairs never approach the threshold;
    # they cost one int per window, and uids are kept only past 5% of it.
    from harness import Pipeline, conn

    pipe = Pipeline()
    pipe.feed(*[conn(uid=f"Csmall{i}", sbytes=1000, daddr=f"198.51.100.{i % 50 + 1}") for i in range(200)])
    assert pipe.state.peek_window("data_upload_uids", "192.168.1.10", 1) is None
    sums = pipe.state.peek_window("data_upload", "192.168.1.10", 1)
    assert len(sums) == 50 and set(sums.values()) == {4000}
