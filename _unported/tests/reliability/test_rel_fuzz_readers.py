"""Hostile input: fuzz every reader (JSON and TSV, per record type) and the
profiler. Whatever the bytes, ``parse_line`` returns a valid record or None,
never raises, and every unusable line is one counted warning with its file and
line number (the first few shown, then a count)."""

from __future__ import annotations

import gzip
import json
import math
import pathlib
import random

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowalerts.config import parse_config
from flowalerts.input.folder import FolderReader
from flowalerts.input.warnings import InputWarnings
from flowalerts.input.zeek import MAX_TS, ZeekFileReader
from flowalerts.knowledge.ips import parse_ip
from flowalerts.profiler import Profiler
from flowalerts.records import RECORD_TYPES

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPE_IDS = [r.log_type for r in RECORD_TYPES]


def make_reader(record_type, shown: int = 5):
    emitted: list[str] = []
    warnings = InputWarnings(emit=emitted.append, shown_per_reason=shown)
    return ZeekFileReader("fuzz.log", record_type, warnings), warnings, emitted


def assert_valid(record, record_type) -> None:
    assert type(record).record_type is record_type
    ts = record.starttime
    assert isinstance(ts, (int, float)) and math.isfinite(ts) and 0 <= ts <= MAX_TS
    for ip in (record.saddr, record.daddr):
        assert not ip or parse_ip(ip) is not None
    assert 0 <= record.sport <= 65535 and 0 <= record.dport <= 65535


def feed(reader, warnings, line: bytes):
    """parse_line one line; it must never raise, and a None for a non-blank,
    non-header line must be exactly one more counted warning."""
    before = warnings.total
    reader.line_no += 1
    record = reader.parse_line(line)
    stripped = line.rstrip(b"\r\n").strip()
    if record is None:
        if stripped and not stripped.startswith(b"#") and len(line) <= reader.max_line_bytes:
            assert warnings.total == before + 1, line[:200]
    else:
        assert warnings.total == before
    return record


hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 0.0, -0.0, 1600000000.25, 65535, 65536, -1]),
    st.text(max_size=40),
    st.sampled_from(["10.0.0.1", "999.1.1.1", "::1", "fe80::1%eth0", "1.1.1.1\n", "", "-", "(empty)", "1.2.3.4/24"]),
)
hostile_values = st.one_of(hostile_scalars, st.lists(hostile_scalars, max_size=3), st.dictionaries(st.text(max_size=5), hostile_scalars, max_size=2))


def json_objects(record_type):
    names = list(record_type.zeek.values())
    good = {"ts": st.floats(min_value=0, max_value=2e9), "id.orig_h": st.just("10.0.0.1"), "id.resp_h": st.just("1.1.1.1")}
    return st.dictionaries(
        st.one_of(st.sampled_from(names), st.text(max_size=12)),
        hostile_values,
        max_size=len(names) + 3,
    ).flatmap(lambda d: st.fixed_dictionaries({k: v for k, v in good.items() if k not in d}).map(lambda g: {**g, **d}))


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
@FUZZ
@given(data=st.data())
def test_json_lines_never_escape(record_type, data):
    reader, warnings, _ = make_reader(record_type)
    obj = data.draw(json_objects(record_type))
    line = json.dumps(obj, allow_nan=True).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    for candidate in (line, line[:cut], line + b"\n"):
        record = feed(reader, warnings, candidate)
        if record is not None:
            assert_valid(record, record_type)


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_escape(record_type, raw):
    reader, warnings, _ = make_reader(record_type)
    for candidate in (raw, b"{" + raw, raw.replace(b"\n", b"")):
        record = feed(reader, warnings, candidate)
        if record is not None:
            assert_valid(record, record_type)


def tsv_header(record_type, names: list[str]) -> list[bytes]:
    return [b"#separator \\x09", b"#set_separator\t,", b"#empty_field\t(empty)", b"#unset_field\t-",
            f"#path\t{record_type.log_type}".encode(), ("#fields\t" + "\t".join(names)).encode()]


tsv_cell = st.one_of(
    st.sampled_from(["-", "(empty)", "T", "F", "nan", "inf", "-inf", "-1", "70000", "1e400", "10.0.0.1", "999.9.9.9", "1600000000.5", "a,b"]),
    st.text(alphabet=st.characters(blacklist_characters="\t\n\r"), max_size=20),
    st.integers().map(str),
    st.floats().map(repr),
)


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
@FUZZ
@given(data=st.data())
def test_tsv_lines_never_escape(record_type, data):
    names = list(record_type.zeek.values())
    if data.draw(st.booleans()):
        names = data.draw(st.permutations(names))  # a header that changed order mid-file
    reader, warnings, _ = make_reader(record_type)
    for header in tsv_header(record_type, names):
        assert feed(reader, warnings, header) is None
    for _ in range(3):
        cells = data.draw(st.lists(tsv_cell, min_size=len(names) - 1, max_size=len(names) + 1))
        if data.draw(st.booleans()) and len(cells) == len(names):
            cells[names.index("ts")] = "1600000000.5"
        raw = "\t".join(cells).encode("utf-8", errors="surrogatepass")
        record = feed(reader, warnings, raw)
        if record is not None:
            assert_valid(record, record_type)


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
def test_every_garbage_line_is_rejected_by_every_reader(record_type):
    from reliability_support import garbage_for

    reader, warnings, _ = make_reader(record_type)
    lines = garbage_for(record_type.log_type)
    for line in lines:
        assert feed(reader, warnings, line) is None, line
    assert warnings.total == len(lines) >= 7


def test_tsv_header_change_mid_file_reads_both_layouts(tmp_path):
    a = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration"]
    b = ["ts", "id.resp_h", "id.resp_p", "id.orig_h", "id.orig_p", "uid", "proto"]
    from flowalerts.records import ConnRecord

    lines = [*tsv_header(ConnRecord, a), b"1600000000.0\tC1\t10.0.0.1\t1000\t1.1.1.1\t80\ttcp\t2.5"]
    lines += [("#fields\t" + "\t".join(b)).encode(), b"1600000001.0\t2.2.2.2\t443\t10.0.0.2\t2000\tC2\ttcp"]
    lines += [b"1600000002.0\tC3\t10.0.0.3\t3000\t3.3.3.3\t22\ttcp\t1.0"]  # old layout after the change: too many columns
    path = tmp_path / "conn.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    emitted: list[str] = []
    reader = ZeekFileReader(str(path), ConnRecord, InputWarnings(emit=emitted.append))
    records = list(reader)
    assert [(r.uid, r.saddr, r.sport, r.daddr, r.dport) for r in records] == [
        ("C1", "10.0.0.1", 1000, "1.1.1.1", 80),
        ("C2", "10.0.0.2", 2000, "2.2.2.2", 443),
    ]
    assert emitted == [f"warning: {path}:10: wrong number of TSV columns (line skipped)"]


def test_ten_megabyte_field_is_one_warning_and_reading_goes_on(tmp_path):
    good = b'{"ts":1600000000.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"1.1.1.1","id.resp_p":80,"proto":"tcp"}'
    huge = b'{"ts":1600000000.1,"uid":"' + b"A" * (10 * 1024 * 1024) + b'","id.orig_h":"10.0.0.1","id.resp_h":"1.1.1.1"}'
    path = tmp_path / "conn.log"
    path.write_bytes(b"\n".join([good, huge, good.replace(b"C1", b"C2")]) + b"\n")
    emitted: list[str] = []
    reader = FolderReader(str(path), InputWarnings(emit=emitted.append))
    assert [r.uid for r in reader] == ["C1", "C2"]
    assert emitted == [f"warning: {path}:2: line too long (line skipped)"]
    assert reader.skipped_counts["conn"] == 1 and reader.read_counts["conn"] == 2


def test_warnings_show_first_few_then_count(tmp_path):
    path = tmp_path / "dns.log"
    path.write_bytes(b"\n".join([b"not json at all"] * 12 + [b'{"ts":1.0,"id.orig_h":"10.0.0.1","id.resp_h":"8.8.8.8","query":"a.com"}']) + b"\n")
    emitted: list[str] = []
    warnings = InputWarnings(emit=emitted.append, shown_per_reason=3)
    reader = FolderReader(str(path), warnings)
    assert [r.query for r in reader] == ["a.com"]
    assert emitted == [
        f"warning: {path}:1: TSV line before its #fields header (line skipped)",
        f"warning: {path}:2: TSV line before its #fields header (line skipped)",
        f"warning: {path}:3: TSV line before its #fields header (line skipped)",
        "warning: further 'TSV line before its #fields header' warnings are counted, not shown",
    ]
    assert warnings.total == 12 and warnings.by_file[str(path)] == 12


@pytest.mark.parametrize("cut", [10, 100, 1000, -7])
def test_truncated_gzip_keeps_records_before_the_cut(tmp_path, cut):
    lines = [json.dumps({"ts": 1600000000.0 + i, "uid": f"C{i}", "id.orig_h": "10.0.0.1", "id.orig_p": 1,
                         "id.resp_h": "1.1.1.1", "id.resp_p": 80, "proto": "tcp"}).encode() for i in range(2000)]
    blob = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "conn.log.gz"
    path.write_bytes(blob[:cut])
    emitted: list[str] = []
    reader = FolderReader(str(path), InputWarnings(emit=emitted.append))
    uids = [r.uid for r in reader]
    assert uids == [f"C{i}" for i in range(len(uids))]  # a clean prefix, nothing invented
    assert len(uids) <= 2000 if cut < 0 else len(uids) < 2000  # cut < 0: only the CRC trailer is lost
    assert len(emitted) == 1 and emitted[0].startswith(f"note: {path}: truncated or corrupt compressed data")


def test_not_gzip_at_all_named_gz(tmp_path):
    path = tmp_path / "conn.log.gz"
    path.write_bytes(b"\x00\x01 definitely not gzip" * 10)
    emitted: list[str] = []
    assert list(FolderReader(str(path), InputWarnings(emit=emitted.append))) == []
    assert len(emitted) == 1 and "truncated or corrupt compressed data" in emitted[0]


def _corpus_lines(datasets: pathlib.Path) -> list[tuple[str, bytes]]:
    from flowalerts.records import BY_LOG_TYPE

    lines = []
    for folder in ("test9-mixed-zeek-dir", "test14-malicious-zeek-dir"):
        for path in sorted((datasets / folder).glob("*.log")):
            log_type = path.name.split(".")[0]
            if log_type in BY_LOG_TYPE:
                with open(path, "rb") as handle:
                    for _, raw in zip(range(40), handle):
                        lines.append((log_type, raw))
    return lines


def _mutate(raw: bytes, rnd: random.Random) -> bytes:
    data = bytearray(raw)
    op = rnd.randrange(7)
    if op == 0 and data:
        del data[rnd.randrange(len(data)):]
    elif op == 1 and data:
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
    elif op == 2:
        data = bytearray(raw.replace(b'"id.orig_h":"', b'"id.orig_h":"999.'))
    elif op == 3:
        data = bytearray(raw.replace(b'"ts":', b'"ts":-'))
    elif op == 4:
        data = bytearray(raw.replace(b"_p\":", b"_p\":9999999", 1))
    elif op == 5:
        data = bytearray(raw.replace(b",", b',"extra":{"x":[1,2]},', 1))
    else:
        data = bytearray(raw.replace(b'"', b"", 3))
    return bytes(data)


def test_mutated_dataset_corpus(datasets):
    from flowalerts.records import BY_LOG_TYPE

    rnd = random.Random(7)
    corpus = _corpus_lines(datasets)
    assert len(corpus) > 200
    parsed = bad = 0
    for log_type, raw in corpus:
        reader, warnings, _ = make_reader(BY_LOG_TYPE[log_type])
        assert feed(reader, warnings, raw) is not None or raw.startswith(b"#") or not raw.strip()
        for _ in range(20):
            record = feed(reader, warnings, _mutate(raw, rnd))
            if record is None:
                bad += 1
            else:
                parsed += 1
                assert_valid(record, BY_LOG_TYPE[log_type])
    assert parsed > 0 and bad > 0


@FUZZ
@given(ts_list=st.lists(st.floats(min_value=0, max_value=MAX_TS), min_size=1, max_size=60),
       width=st.sampled_from([1.0, 60.0, 3600.0]))
def test_profiler_out_of_order_timestamps_close_every_window_once(ts_list, width):
    from flowalerts.records import ConnRecord

    config = parse_config({"parameters": {"time_window_width": width}})[0]
    profiler = Profiler(config)
    opened: set[tuple[str, int]] = set()
    closed: list[tuple[str, int]] = []
    for i, ts in enumerate(ts_list):
        msg = profiler.assign(ConnRecord(starttime=ts, uid=f"C{i}", saddr=f"10.0.0.{i % 5}", daddr="1.1.1.1"))
        opened.add((msg.profile, msg.twid))
        closed.extend((c.profile, c.twid) for c in profiler.due_closures())
    closed.extend((c.profile, c.twid) for c in profiler.close_all())
    # Each (profile, window) is closed at least once and never twice in a row of
    # the same opening; nothing is left open at the end.
    assert opened <= set(closed)
    assert not profiler._open and not profiler._open_heap
    assert msgspec.json.encode(closed)  # plain data only
