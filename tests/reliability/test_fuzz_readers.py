"""Fuzz targets, one per reader (JSON, TSV, gzip), with hypothesis: deep
nesting, huge numbers, huge lines, compression bombs and random bytes.
Whatever the bytes, a reader never raises; it yields valid records (that
Slips's and the bus's encoders accept) or counts one warning per unusable
line, with its file and line number; memory stays within the limits."""

from __future__ import annotations

import gzip
import io
import json
import math
import random
import tracemalloc
import zlib

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowalerts.core.clock import ClockPolicy
from flowalerts.core.config import InputSection
from flowalerts.core.ips import parse_ip
from flowalerts.core.messages import TwClosed
from flowalerts.core.records import BY_LOG_TYPE, RECORD_TYPES, ConnRecord
from flowalerts.core.validation import MAX_COUNT, MAX_TS
from flowalerts.engine.profiler import Profiler
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import bounded_lines, open_binary
from tests.reliability.support import conn_json, reader_for, tsv_header

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TYPE_IDS = [r.log_type for r in RECORD_TYPES]
MSGPACK = msgspec.msgpack.Encoder()


def assert_valid(record, record_type) -> None:
    assert type(record) is record_type
    ts = record.starttime
    assert isinstance(ts, (int, float)) and math.isfinite(ts) and 0 <= ts <= MAX_TS
    for ip in (record.saddr, record.daddr):
        assert not ip or parse_ip(ip) is not None
    assert 0 <= record.sport <= 65535 and 0 <= record.dport <= 65535
    for field in msgspec.structs.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, int) and not isinstance(value, bool):
            assert 0 <= value <= MAX_COUNT, field.name
    # What the batch encoder of the bus and Slips's JSON do with a record.
    MSGPACK.encode(record)
    msgspec.json.encode(record)


def feed(reader, warnings, line: bytes):
    """parse_line one line; it must never raise, and a None for a non-blank,
    non-header line must be exactly one more counted warning."""
    before = warnings.total
    reader.line_no += 1
    record = reader.parse_line(line)
    stripped = line.rstrip(b"\r\n").strip()
    if record is None:
        if stripped and not stripped.startswith(b"#"):
            assert warnings.total == before + 1, line[:200]
    else:
        assert warnings.total == before
        assert_valid(record, reader.record_type)
    return record


# -- JSON -------------------------------------------------------------------------------
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 0.0, -0.0, 1600000000.25, 65535, 65536, -1, MAX_COUNT, MAX_COUNT + 1]),
    st.text(max_size=40),
    st.sampled_from(["10.0.0.1", "999.1.1.1", "::1", "::ffff:10.0.2.15", "fe80::1%eth0", "1.1.1.1\n", "", "-",
                     "(empty)", "1.2.3.4/24", "2020-09-13T12:26:40Z", "2020-09-13T12:26:40.123456+02:00"]),
)
hostile_values = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=2)),
    max_leaves=8,
)


def json_objects(record_type):
    names = list(record_type.zeek.values())
    good = {"ts": st.one_of(st.floats(min_value=0, max_value=2e9), st.just("2020-09-13T12:26:40.5Z")),
            "id.orig_h": st.just("10.0.0.1"), "id.resp_h": st.just("1.1.1.1")}
    return st.dictionaries(
        st.one_of(st.sampled_from(names), st.text(max_size=12)),
        hostile_values,
        max_size=len(names) + 3,
    ).flatmap(lambda d: st.fixed_dictionaries({k: v for k, v in good.items() if k not in d}).map(lambda g: {**g, **d}))


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
@FUZZ
@given(data=st.data())
def test_json_lines_never_escape(record_type, data):
    reader, warnings, _ = reader_for(record_type.log_type)
    obj = data.draw(json_objects(record_type))
    line = json.dumps(obj, allow_nan=True).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    for candidate in (line, line[:cut], line + b"\n"):
        feed(reader, warnings, candidate)


@FUZZ
@given(depth=st.integers(min_value=0, max_value=60_000), opener=st.sampled_from([b"[", b"{", b'{"k":', b"[1,"]),
       closed=st.booleans(), field=st.sampled_from([b"x", b"ts", b"answers", b"orig_bytes"]))
def test_json_nesting_of_any_depth(depth, opener, closed, field):
    reader, warnings, _ = reader_for("dns")
    closer = {b"[": b"]", b"{": b"}", b'{"k":': b"}", b"[1,": b"]"}[opener]
    inner = opener * depth + b"1" + (closer * depth if closed else b"")
    line = b'{"ts":1600000000.5,"id.orig_h":"10.0.0.1","id.resp_h":"8.8.8.8","' + field + b'":' + inner + b"}"
    record = feed(reader, warnings, line)
    if depth + 1 > 32:
        assert record is None
    if record is None and depth + 1 > 32 and opener != b"{":
        assert "JSON nested deeper than 32 levels (input.max_json_depth)" in warnings.by_reason


@FUZZ
@given(value=st.integers(min_value=-(2**80), max_value=2**80),
       field=st.sampled_from(["orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "id.orig_p"]),
       as_tsv=st.booleans())
def test_numbers_of_any_size(value, field, as_tsv):
    reader, warnings, _ = reader_for("conn")
    if as_tsv:
        from tests.reliability.support import CONN_TSV_FIELDS, conn_tsv

        for header in tsv_header("conn", CONN_TSV_FIELDS).splitlines():
            reader.parse_line(header)
        cells = conn_tsv().split(b"\t")
        cells[CONN_TSV_FIELDS.index(field)] = str(value).encode()
        line = b"\t".join(cells)
    else:
        line = conn_json(**{field: value})
    record = feed(reader, warnings, line)
    limit = 65535 if field == "id.orig_p" else MAX_COUNT
    assert (record is not None) == (0 <= value <= limit)


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_escape(record_type, raw):
    reader, warnings, _ = reader_for(record_type.log_type)
    for candidate in (raw, b"{" + raw, raw.replace(b"\n", b""), b"[" * 100 + raw):
        feed(reader, warnings, candidate)


# -- TSV --------------------------------------------------------------------------------
tsv_cell = st.one_of(
    st.sampled_from(["-", "(empty)", "T", "F", "nan", "inf", "-inf", "-1", "70000", "1e400", "10.0.0.1", "999.9.9.9",
                     "1600000000.5", "a,b", str(2**64), str(2**64 - 1), "2020-09-13T12:26:40Z", "::ffff:1.2.3.4"]),
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
    reader, warnings, _ = reader_for(record_type.log_type)
    for header in tsv_header(record_type.log_type, names).splitlines():
        assert feed(reader, warnings, header) is None
    for _ in range(3):
        cells = data.draw(st.lists(tsv_cell, min_size=len(names) - 1, max_size=len(names) + 1))
        if data.draw(st.booleans()) and len(cells) == len(names):
            cells[names.index("ts")] = "1600000000.5"
        raw = "\t".join(cells).encode("utf-8", errors="surrogatepass")
        if data.draw(st.booleans()):
            raw += data.draw(st.binary(max_size=4))  # maybe invalid UTF-8
        feed(reader, warnings, raw)


# -- huge lines -------------------------------------------------------------------------
@FUZZ
@given(lengths=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=12),
       limit=st.integers(min_value=16, max_value=1500), final_newline=st.booleans(), buffer=st.sampled_from([1, 7, 4096]))
def test_bounded_lines_of_any_length(lengths, limit, final_newline, buffer):
    lines = [b"x" * n for n in lengths]
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    got = list(bounded_lines(io.BufferedReader(io.BytesIO(data), buffer), limit))
    expected = []
    for i, line in enumerate(lines):
        full = line + (b"\n" if i < len(lines) - 1 or final_newline else b"")
        if not full:
            continue
        expected.append(full if len(full) <= limit else None)
    assert got == expected


@FUZZ
@given(data=st.data())
def test_file_with_huge_lines_keeps_every_good_line(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("huge")
    good = [conn_json(f"C{i}", 1600000000.0 + i) for i in range(data.draw(st.integers(1, 6)))]
    lines: list[bytes] = []
    for line in good:
        if data.draw(st.booleans()):
            lines.append(data.draw(st.sampled_from([b"\x00", b"A", b"[", b"{\"ts\":"])) * data.draw(st.integers(600, 5000)))
        lines.append(line)
    tail = data.draw(st.sampled_from([b"", b"\x00" * 9000, b"{" * 9000]))
    (folder / "conn.log").write_bytes(b"\n".join(lines) + b"\n" + tail)
    emitted: list[str] = []
    reader = FolderReader(str(folder), InputWarnings(emit=emitted.append, shown_per_reason=100),
                          InputSection(max_line_bytes=512))
    assert [r.uid for r in reader] == [f"C{i}" for i in range(len(good))]
    assert reader.skipped_counts["conn"] == len(lines) - len(good) + (1 if tail else 0)


# -- gzip ---------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_gzip_of_any_shape_yields_a_clean_prefix(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("gz")
    good = [conn_json(f"C{i}", 1600000000.0 + i) + b"\n" for i in range(data.draw(st.integers(1, 40)))]
    content = b"".join(good)
    members = data.draw(st.integers(1, 3))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), min_size=members - 1, max_size=members - 1)))
    pieces = [content[a:b] for a, b in zip([0, *cuts], [*cuts, len(content)])]
    blob = b"".join(gzip.compress(p, compresslevel=data.draw(st.sampled_from([1, 6, 9]))) for p in pieces)
    damage = data.draw(st.sampled_from(["none", "truncate", "flip", "append"]))
    if damage == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    elif damage == "flip" and blob:
        position = data.draw(st.integers(0, len(blob) - 1))
        blob = blob[:position] + bytes([blob[position] ^ data.draw(st.integers(1, 255))]) + blob[position + 1 :]
    elif damage == "append":
        blob += data.draw(st.binary(max_size=64))
    (folder / "conn.log.gz").write_bytes(blob)
    emitted: list[str] = []
    reader = FolderReader(str(folder), InputWarnings(emit=emitted.append, shown_per_reason=1000))
    uids = [r.uid for r in reader]
    if damage == "none":
        assert uids == [f"C{i}" for i in range(len(good))] and emitted == []
    else:
        # Never invented, never reordered: records are the good ones, in order
        # (a flipped byte inside a line may make that one line bad).
        numbers = [int(uid[1:]) for uid in uids]
        assert numbers == sorted(set(numbers)) and all(0 <= n < len(good) for n in numbers)


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_random_bytes_named_gz(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("rgz")
    (folder / "conn.log.gz").write_bytes(random.Random(raw).choice([b"", b"\x1f\x8b\x08\x00"]) + raw)
    reader = FolderReader(str(folder), InputWarnings(emit=lambda text: None))
    for record in reader:
        assert_valid(record, ConnRecord)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(zeros=st.integers(min_value=1 << 20, max_value=96 << 20), level=st.sampled_from([1, 9]),
       ratio=st.sampled_from([50, 1000]), max_bytes=st.sampled_from([8 << 20, 1 << 40]))
def test_compression_bombs_stay_within_the_limits(tmp_path_factory, zeros, level, ratio, max_bytes):
    from tests.reliability.support import gzip_bomb

    folder = tmp_path_factory.mktemp("bomb")
    gzip_bomb(folder / "conn.log.gz", conn_json("C1") + b"\n", zeros, level=level, tail=b"\n" + conn_json("C2") + b"\n")
    limits = InputSection(max_decompressed_bytes=max_bytes, max_decompression_ratio=ratio)
    emitted: list[str] = []
    tracemalloc.start()
    try:
        reader = FolderReader(str(folder), InputWarnings(emit=emitted.append), limits)
        uids = [r.uid for r in reader]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak >> 20} MB"
    assert uids[:1] == ["C1"]
    stopped = [text for text in emitted if "reading stopped" in text]
    if uids == ["C1", "C2"]:
        assert not stopped
    else:
        assert uids == ["C1"] and len(stopped) == 1 and reader.incomplete
    with open_binary(str(folder / "conn.log.gz"), limits) as handle:
        stream = handle.raw
        try:
            while handle.read(1 << 20):
                pass
        except OSError:
            pass
        assert stream.decompressed <= max(max_bytes, 0) + (1 << 18) or stream.decompressed <= zeros + 1000
        assert stream.decompressed <= 16 << 20 or stream.decompressed <= ratio * stream.compressed + (1 << 18) or (
            stream.decompressed <= max_bytes + (1 << 18))


def test_plain_deflate_bomb_ratio_is_real():
    """Zeros compress about 1030x with deflate: the default ratio (1000) catches them."""
    blob = zlib.compress(bytes(32 << 20), 9)
    assert 1000 < (32 << 20) / len(blob) < 1100


# -- a real corpus, mutated --------------------------------------------------------------------
def _corpus_lines(datasets) -> list[tuple[str, bytes]]:
    lines = []
    for folder in ("test9-mixed-zeek-dir", "test14-malicious-zeek-dir", "test10-mixed-zeek-dir"):
        for path in sorted((datasets / folder).glob("*.log")):
            log_type = path.name.split(".")[0]
            if log_type in BY_LOG_TYPE:
                with open(path, "rb") as handle:
                    for _, raw in zip(range(40), handle):
                        lines.append((log_type, raw))
    return lines


def _mutate(raw: bytes, rnd: random.Random) -> bytes:
    data = bytearray(raw)
    op = rnd.randrange(10)
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
        data = bytearray(raw.replace(b'_p":', b'_p":9999999', 1))
    elif op == 5:
        data = bytearray(raw.replace(b",", b',"extra":{"x":[1,2]},', 1))
    elif op == 6:
        data = bytearray(raw.replace(b'_bytes":', b'_bytes":100000000000000000000', 1))
    elif op == 7:
        data = bytearray(raw.replace(b",", b',"deep":' + b"[" * 5000 + b"]" * 5000 + b",", 1))
    elif op == 8:
        data = bytearray(raw.replace(b"\t", b"\t\xff", 1))
    else:
        data = bytearray(raw.replace(b'"', b"", 3))
    return bytes(data)


def test_mutated_dataset_corpus(datasets):
    rnd = random.Random(7)
    corpus = _corpus_lines(datasets)
    assert len(corpus) > 200
    parsed = bad = 0
    readers = {}
    for log_type, raw in corpus:
        if log_type not in readers:
            readers[log_type] = reader_for(log_type)
        reader, warnings, _ = readers[log_type]
        if raw.lstrip().startswith(b"#"):
            reader.parse_line(raw)  # TSV header: keep the layout
            continue
        if feed(reader, warnings, raw) is None:
            continue  # a line of the dataset that is itself malformed (test10 notice.log:21)
        for _ in range(10):
            record = feed(reader, warnings, _mutate(raw, rnd))
            if record is None:
                bad += 1
            else:
                parsed += 1
    assert parsed > 0 and bad > 0


# -- the profiler after the readers -------------------------------------------------------------
@FUZZ
@given(ts_list=st.lists(st.floats(min_value=0, max_value=MAX_TS), min_size=1, max_size=60),
       width=st.sampled_from([1.0, 60.0, 3600.0]))
def test_profiler_out_of_order_timestamps_close_every_window_once(ts_list, width):
    profiler = Profiler(width, ClockPolicy(allowed_lateness=10.0, jump_threshold=86400.0, jump_confirmations=5),
                        t0_lookahead=5)
    opened: set[tuple[str, int]] = set()
    closed: list[tuple[str, int]] = []
    items = []
    for i, ts in enumerate(ts_list):
        items += profiler.assign(ConnRecord(starttime=ts, uid=f"C{i}", saddr=f"10.0.0.{i % 5}", daddr="1.1.1.1"))
    items += profiler.finish()
    for item in items:
        if isinstance(item, TwClosed):
            closed.append((item.profile, item.twid))
        elif hasattr(item, "late") and not item.late:
            opened.add((item.profile, item.twid))
    assert sorted(closed) == sorted(set(closed))  # never closed twice
    assert opened <= set(closed)  # every window that got a record on time was closed
    assert profiler.open_windows() == 0
