"""Memory does not follow the attacker (issue 16): the line limit holds while
reading (a gigabyte of NUL bytes without a newline is never in memory), gzip
bombs stop at ``input.max_decompressed_bytes`` / ``max_decompression_ratio``,
and the records around the hostile part are kept. Peak RSS is measured in a
child process reading 1 GB hostile files generated (sparse or streamed) in a
temporary folder."""

from __future__ import annotations

import gzip
import io
import os
import random
import tracemalloc
import zlib

import pytest

from flowalerts.core.config import InputSection
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import RATIO_FLOOR_BYTES, BoundedGzipStream, InputLimitExceeded, bounded_lines
from tests.reliability.support import (
    baseline_rss_kb,
    conn_json,
    gzip_bomb,
    run_cli,
    run_measured,
    sparse_nul_tail,
)

GIB = 1 << 30
# What reading any hostile file may add to the peak RSS of a bare start.
RSS_BUDGET_KB = 64 * 1024


def read(path, **limits):
    emitted: list[str] = []
    reader = FolderReader(str(path), InputWarnings(emit=emitted.append), InputSection(**limits))
    return [r.uid for r in reader], emitted, reader


# -- lines ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nbb\n", [b"a\n", b"bb\n"]),
        (b"a\n" + b"x" * 10 + b"\nb\n", [b"a\n", None, b"b\n"]),
        (b"a\n" + b"x" * 9 + b"\nb", [b"a\n", None, b"b"]),  # 10 bytes with its newline: too long
        (b"a\n" + b"x" * 8 + b"\nb", [b"a\n", b"x" * 8 + b"\n", b"b"]),  # 9: fits
        (b"a\n" + b"\x00" * 100, [b"a\n", None]),  # a tail without newline
        (b"\x00" * 100 + b"\n" * 2, [None, b"\n"]),
    ],
)
def test_bounded_lines(data, expected):
    assert list(bounded_lines(io.BufferedReader(io.BytesIO(data), 4), 9)) == expected


def test_a_long_line_without_newline_is_never_held_whole(tmp_path):
    path = tmp_path / "conn.log"
    with open(path, "wb") as handle:
        handle.write(conn_json("C1") + b"\n")
        handle.write(conn_json("C2")[:-1] + b',"uri":"' + b"A" * (64 << 20))  # 64 MB, no newline
    tracemalloc.start()
    try:
        uids, emitted, _ = read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uids == ["C1"]
    assert emitted == [f"warning: {path}:2: line longer than 1,048,576 bytes (input.max_line_bytes) (line skipped)"]
    assert peak < 8 << 20, f"peak Python allocations {peak >> 20} MB"


def test_line_limit_is_configurable(tmp_path):
    path = tmp_path / "conn.log"
    path.write_bytes(conn_json("C1") + b"\n" + conn_json("C2", uri="x" * 500) + b"\n" + conn_json("C3") + b"\n")
    uids, emitted, _ = read(path, max_line_bytes=400)
    assert uids == ["C1", "C3"]
    assert emitted == [f"warning: {path}:2: line longer than 400 bytes (input.max_line_bytes) (line skipped)"]


# -- gzip ---------------------------------------------------------------------------------
def test_gzip_bomb_stops_at_the_ratio_and_keeps_what_came_before(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    gzip_bomb(folder / "conn.log.gz", conn_json("C1") + b"\n", 256 << 20, tail=b"\n" + conn_json("C2") + b"\n")
    (folder / "dns.log").write_bytes(b"")
    code = run_cli("-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q")
    captured = capsys.readouterr()
    assert code == 1  # incomplete: part of the input was not read
    notes = [line for line in captured.err.splitlines() if line.startswith("note:") and "conn.log.gz" in line]
    assert notes == [
        f"note: {folder}/conn.log.gz: reading stopped in line 2: decompresses more than "
        "input.max_decompression_ratio (1000) times its size (a compression bomb?); the 1 records before it are kept"
    ]
    assert "input not fully read:" in captured.out and "status: incomplete (exit 1)" in captured.out
    assert captured.err.splitlines()[-1] == "flowalerts: error: input not fully read (1 problem(s), see the summary)"
    long_connections = [line for line in (tmp_path / "out" / "alerts.json").read_bytes().splitlines()
                        if b'"evidence_type":"LONG_CONNECTION"' in line]
    assert [line.count(b'"C1"') for line in long_connections] == [1]


def test_gzip_size_limit(tmp_path):
    path = tmp_path / "conn.log.gz"
    lines = [conn_json(f"C{i}") + b"\n" for i in range(2000)]
    path.write_bytes(gzip.compress(b"".join(lines)))
    limit = sum(len(line) for line in lines[:1000]) + 10
    uids, emitted, reader = read(path, max_decompressed_bytes=limit)
    # A clean prefix; the last read-ahead buffer (256 KB) before the limit is not parsed.
    assert 0 < len(uids) <= 1000 and uids == [f"C{i}" for i in range(len(uids))]
    assert len(emitted) == 1 and f"above input.max_decompressed_bytes ({limit:,} bytes)" in emitted[0]
    assert reader.incomplete and reader.incomplete[0].startswith(f"{path}: stopped in line")


def test_ratio_is_only_judged_past_the_floor(tmp_path):
    path = tmp_path / "conn.log.gz"
    gzip_bomb(path, conn_json("C1") + b"\n", RATIO_FLOOR_BYTES // 2, tail=b"\n" + conn_json("C2") + b"\n")
    uids, emitted, _ = read(path)
    assert uids == ["C1", "C2"] and len(emitted) == 1 and "line longer than" in emitted[0]


@pytest.mark.parametrize("cut", [10, 100, 1000, -7, -1])
def test_truncated_gzip_keeps_records_before_the_cut(tmp_path, cut):
    lines = [conn_json(f"C{i}", 1600000000.0 + i) for i in range(2000)]
    blob = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "conn.log.gz"
    path.write_bytes(blob[:cut])
    uids, emitted, reader = read(path)
    assert uids == [f"C{i}" for i in range(len(uids))]  # a clean prefix, nothing invented
    assert len(uids) <= 2000 if cut < 0 else len(uids) < 2000  # cut < 0: only the CRC trailer is lost
    assert len(emitted) == 1 and emitted[0].startswith(f"note: {path}: truncated or corrupt compressed data")
    assert reader.incomplete == []  # what was there was read: a crash-truncated log is not an error


def test_not_gzip_at_all_named_gz(tmp_path):
    path = tmp_path / "conn.log.gz"
    path.write_bytes(b"\x00\x01 definitely not gzip" * 10)
    uids, emitted, _ = read(path)
    assert uids == [] and len(emitted) == 1 and "truncated or corrupt compressed data" in emitted[0]


def test_multi_member_padded_and_empty_gzip_read_like_gzip(tmp_path):
    first = b"".join(conn_json(f"A{i}") + b"\n" for i in range(3))
    second = b"".join(conn_json(f"B{i}") + b"\n" for i in range(3))
    (tmp_path / "conn.log.gz").write_bytes(gzip.compress(first) + b"\x00" * 50 + gzip.compress(second))
    (tmp_path / "dns.log.gz").write_bytes(b"")
    uids, emitted, _ = read(tmp_path)
    assert uids == ["A0", "A1", "A2", "B0", "B1", "B2"] and emitted == []


@pytest.mark.parametrize("seed", range(5))
def test_bounded_stream_equals_gzip_module(seed):
    rnd = random.Random(seed)
    members = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 5000))) * rnd.randrange(1, 50) for _ in range(3)]
    blob = b"".join(gzip.compress(m, compresslevel=rnd.choice([1, 6, 9])) for m in members)
    stream = io.BufferedReader(BoundedGzipStream(io.BytesIO(blob), 1 << 40, 1e9), 1 << 12)
    assert stream.read() == gzip.decompress(blob) == b"".join(members)


def test_bounded_stream_ratio():
    blob = gzip.compress(bytes(32 << 20), compresslevel=9)
    stream = BoundedGzipStream(io.BytesIO(blob), 1 << 40, 1000)
    with pytest.raises(InputLimitExceeded, match="max_decompression_ratio"):
        while stream.read(1 << 16):
            pass
    assert stream.decompressed <= RATIO_FLOOR_BYTES + (1 << 18)
    stream = BoundedGzipStream(io.BytesIO(blob), 1 << 40, 2000)  # zeros compress ~1030x: under 2000
    assert sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 16), b"")) == 32 << 20


def test_corrupt_data_after_good_data():
    blob = bytearray(zlib.compress(b"x" * 100_000))
    good = gzip.compress(b"hello\n")
    stream = io.BufferedReader(BoundedGzipStream(io.BytesIO(good + b"\x1f\x8b\x08\x00" + bytes(blob[5:])), 1 << 40, 1e9))
    assert stream.readline() == b"hello\n"
    with pytest.raises((zlib.error, EOFError)):
        stream.read()


# -- peak memory of a child reading 1 GB hostile files ---------------------------------------
@pytest.fixture(scope="module")
def baseline_kb(tmp_path_factory) -> int:
    return baseline_rss_kb(tmp_path_factory.mktemp("rss"))


@pytest.mark.slow
def test_rss_bounded_reading_a_1gb_nul_tail(tmp_path, baseline_kb):
    folder = tmp_path / "in"
    folder.mkdir()
    head = conn_json("C1") + b"\n"
    sparse_nul_tail(folder / "conn.log", head, len(head) + GIB)  # what a crash-truncated log looks like
    code, out, err, peak = run_measured("run", "-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q")
    print(f"1 GB NUL tail: peak RSS {peak // 1024} MB (bare start {baseline_kb // 1024} MB)")
    assert code == 0, err
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: {folder}/conn.log:2: line longer than 1,048,576 bytes (input.max_line_bytes) (line skipped)"
    ]
    assert "conn                  1          1        1" in out
    assert peak - baseline_kb < RSS_BUDGET_KB


@pytest.mark.slow
def test_rss_bounded_reading_a_gzip_decompressing_to_1gb(tmp_path, baseline_kb):
    # Level 1 zeros compress ~230x: under the ratio limit, so all 1 GB is decompressed.
    folder = tmp_path / "in"
    folder.mkdir()
    gzip_bomb(folder / "conn.log.gz", conn_json("C1") + b"\n", GIB, level=1, tail=b"\n" + conn_json("C2") + b"\n")
    size = os.path.getsize(folder / "conn.log.gz")
    code, out, err, peak = run_measured("run", "-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q")
    print(f"{size / 1e6:.1f} MB gzip -> 1 GB: peak RSS {peak // 1024} MB (bare start {baseline_kb // 1024} MB)")
    assert code == 0, err
    assert "conn                  2          2        1" in out
    assert peak - baseline_kb < RSS_BUDGET_KB
    # The same bomb with a decompressed-size limit stops early (exit 1: not fully read).
    code, out, err, peak = run_measured(
        "run", "-f", str(folder / "conn.log.gz"), "-o", str(tmp_path / "out2"), "--offline", "-q",
        "-c", str(_config(tmp_path, "input:\n  max_decompressed_bytes: 50000000\n")),
    )
    assert code == 1 and "above input.max_decompressed_bytes (50,000,000 bytes)" in err
    assert peak - baseline_kb < RSS_BUDGET_KB


@pytest.mark.slow
def test_rss_bounded_reading_a_level9_bomb(tmp_path, baseline_kb):
    folder = tmp_path / "in"
    folder.mkdir()
    gzip_bomb(folder / "conn.log.gz", conn_json("C1") + b"\n", 64 << 20, members=96)  # 6 GiB from ~6.5 MB, like issue 16's
    code, _, err, peak = run_measured("run", "-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q")
    assert code == 1 and "max_decompression_ratio" in err
    assert peak - baseline_kb < RSS_BUDGET_KB


def _config(tmp_path, text: str):
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    return path


def test_progress_estimate_survives_hostile_files(tmp_path):
    from flowalerts.cli.run import estimate_records

    (tmp_path / "conn.log.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 100)  # corrupt
    gzip_bomb(tmp_path / "dns.log.gz", b"", 64 << 20)
    sparse_nul_tail(tmp_path / "ssl.log", conn_json() + b"\n", 1 << 30)
    tracemalloc.start()
    try:
        estimate = estimate_records(str(tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert estimate is None or estimate >= 0
    assert peak < 8 << 20
