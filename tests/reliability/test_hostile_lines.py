"""One hostile line never loses a run (issue 16): each becomes one counted
warning naming the file, the line and the Zeek field at fault, and reading
goes on; the evidence of the good lines around it is exactly that of a clean
input. Zeek's ISO-8601 timestamps are read like epoch ones."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from flowalerts.core.config import InputSection
from flowalerts.core.records import RECORD_TYPES, ConnRecord, X509Record
from flowalerts.core.validation import MAX_COUNT
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import ZeekFileReader, json_too_deep
from tests.reliability.support import (
    CLIENT,
    CONN_TSV_FIELDS,
    SERVER,
    T0,
    alerts_json,
    conn_json,
    conn_tsv,
    dns_json,
    garbage_for,
    reader_for,
    run_cli,
    tsv_header,
)

TYPE_IDS = [r.log_type for r in RECORD_TYPES]


def read(path, **limits):
    emitted: list[str] = []
    reader = FolderReader(str(path), InputWarnings(emit=emitted.append), InputSection(**limits))
    return list(reader), emitted, reader


# -- one line: nesting, huge numbers, types ------------------------------------------------
@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=TYPE_IDS)
@pytest.mark.parametrize("opener", [b"[", b"{", b'{"a":'])
def test_json_nested_ten_thousand_deep_is_one_warning_in_any_log(tmp_path, record_type, opener):
    path = tmp_path / f"{record_type.log_type}.log"
    deep = b'{"ts":1600000000.5,"x":' + opener * 10_000 + b"1" + b"}" * 3
    path.write_bytes(deep + b"\n")
    records, emitted, reader = read(path)
    assert records == []
    assert emitted == [f"warning: {path}:1: JSON nested deeper than 32 levels (input.max_json_depth) (line skipped)"]
    assert reader.skipped_counts == {record_type.log_type: 1}


@pytest.mark.parametrize(
    ("line", "deep"),
    [
        (b'{"a":' + b"[" * 32 + b"]" * 32 + b"}", True),  # 33 levels
        (b'{"a":' + b"[" * 31 + b"]" * 31 + b"}", False),  # 32 levels
        (b'{"a":"' + b"[" * 5000 + b'"}', False),  # brackets inside a string
        (b'{"a":"\\"' + b"[" * 5000 + b'"}', False),  # ... after an escaped quote
        (b'{"a":' + b"[]," * 5000 + b"1}", False),  # many, but shallow
        (b'{"a":[' + b"{}," * 5000 + b"{}]}", False),
        (b'{"a":"' + b"\\" * 5001 + b"[" * 100, False),  # unterminated string: not JSON structure
    ],
)
def test_json_depth_check(line, deep):
    assert json_too_deep(line, 32) is deep


def test_max_json_depth_is_configurable():
    reader, warnings, _ = reader_for("conn", max_json_depth=2)
    assert reader.parse_line(conn_json(answers=[[1]])) is None
    assert list(warnings.by_reason) == ["JSON nested deeper than 2 levels (input.max_json_depth)"]
    assert reader.parse_line(conn_json()) is not None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"orig_bytes": 100000000000000000000}, "orig_bytes is above 2^64-1"),
        ({"resp_pkts": 2**64}, "resp_pkts is above 2^64-1"),
        ({"orig_bytes": -1}, "orig_bytes is negative"),
        ({"duration": -3.0}, "duration is negative"),
        ({"duration": 1e300}, "duration is too large"),
        ({"id.orig_p": 70000}, "id.orig_p is not a port number (0-65535)"),
        ({"id.resp_p": -1}, "id.resp_p is not a port number (0-65535)"),
        ({"id.orig_h": "999.1.1.1"}, "id.orig_h is not an IP address"),
        ({"id.resp_h": ""}, "id.resp_h is missing"),
        ({"ts": -1.0}, "ts is not a valid time"),
        ({"orig_bytes": "many"}, "orig_bytes: expected int, got str"),
        ({"answers": "x", "orig_pkts": [1]}, "orig_pkts: expected int, got array"),
    ],
)
def test_warnings_name_the_zeek_field(fields, reason):
    reader, _, emitted = reader_for("conn")
    reader.line_no = 7
    assert reader.parse_line(conn_json(**fields)) is None
    assert emitted == [f"warning: conn.log:7: {reason} (line skipped)"]


def test_number_out_of_range():
    reader, _, emitted = reader_for("conn")
    assert reader.parse_line(conn_json().replace(b"1600000000.0", b"1e400")) is None
    assert emitted == ["warning: conn.log:0: ts: Number out of range (line skipped)"]


def test_largest_zeek_count_is_kept():
    reader, warnings, _ = reader_for("conn")
    record = reader.parse_line(conn_json(orig_bytes=MAX_COUNT))
    assert record is not None and record.sbytes == MAX_COUNT and warnings.total == 0


@pytest.mark.parametrize("value", [b"100000000000000000000", b"-5", b"1.5", b"lots"])
def test_tsv_counts_are_checked_too(tmp_path, value):
    path = tmp_path / "conn.log"
    path.write_bytes(tsv_header("conn", CONN_TSV_FIELDS) + conn_tsv("C1", orig_bytes=value) + b"\n" + conn_tsv("C2") + b"\n")
    records, emitted, _ = read(path)
    assert [r.uid for r in records] == ["C2"]
    reason = {b"-5": "orig_bytes is negative", b"100000000000000000000": "orig_bytes is above 2^64-1"}.get(
        value, "orig_bytes is not a valid integer")
    assert emitted == [f"warning: {path}:7: {reason} (line skipped)"]


@pytest.mark.parametrize("proto", [b"tc\xff", b"\xc3\x28", b"\xed\xa0\x80"])
def test_invalid_utf8_in_a_tsv_field_is_a_bad_line(tmp_path, proto):
    path = tmp_path / "conn.log"
    path.write_bytes(tsv_header("conn", CONN_TSV_FIELDS) + conn_tsv("C1", proto=proto) + b"\n" + conn_tsv("C2") + b"\n")
    records, emitted, _ = read(path)
    assert [(r.uid, r.proto) for r in records] == [("C2", "tcp")]
    assert emitted == [f"warning: {path}:7: invalid UTF-8 (line skipped)"]


def test_invalid_utf8_in_a_json_string_is_a_bad_line():
    reader, _, emitted = reader_for("conn")
    assert reader.parse_line(conn_json().replace(b'"tcp"', b'"tc\xff"')) is None
    assert emitted == ["warning: conn.log:0: invalid UTF-8 (line skipped)"]


def test_ipv4_mapped_addresses_are_the_ipv4_host():
    reader, _, _ = reader_for("conn")
    record = reader.parse_line(conn_json(**{"id.orig_h": "::ffff:10.0.2.15", "id.resp_h": "::ffff:8.8.8.8"}))
    assert (record.saddr, record.daddr) == ("10.0.2.15", "8.8.8.8")


# -- ISO-8601 timestamps (Zeek's json_timestamps) --------------------------------------------
@pytest.mark.parametrize(
    ("iso", "epoch"),
    [
        ("2020-09-13T12:26:40.123456Z", 1600000000.123456),
        ("2020-09-13T12:26:40Z", 1600000000.0),
        ("2020-09-13T14:26:40.5+02:00", 1600000000.5),
        ("2020-09-13T12:26:40.000001", 1600000000.000001),  # no offset: UTC
    ],
)
def test_iso_timestamps_read_like_epoch(iso, epoch):
    reader, warnings, _ = reader_for("conn")
    from_iso = reader.parse_line(conn_json(ts=iso))
    from_epoch = reader.parse_line(conn_json(ts=epoch))
    assert warnings.total == 0
    assert from_iso == from_epoch and from_iso.starttime == epoch


def test_iso_timestamps_in_every_time_field():
    reader, warnings, _ = reader_for("x509")
    line = (b'{"ts":"2024-05-01T10:00:00.123456Z","id":"F1","fingerprint":"ab",'
            b'"certificate.not_valid_before":"2024-01-01T00:00:00Z",'
            b'"certificate.not_valid_after":"2025-01-01T00:00:00.000000Z"}')
    record = reader.parse_line(line)
    assert warnings.total == 0
    assert isinstance(record, X509Record)
    utc = dt.timezone.utc
    assert (record.starttime, record.not_valid_before, record.not_valid_after) == (
        dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=utc).timestamp(),
        dt.datetime(2024, 1, 1, tzinfo=utc).timestamp(),
        dt.datetime(2025, 1, 1, tzinfo=utc).timestamp(),
    )


def test_iso_timestamps_in_tsv():
    reader, warnings, _ = reader_for("conn")
    for line in tsv_header("conn", CONN_TSV_FIELDS).splitlines():
        reader.parse_line(line)
    record = reader.parse_line(conn_tsv().replace(repr(T0).encode(), b"2020-09-13T12:26:40Z"))
    assert warnings.total == 0 and record.starttime == T0


@pytest.mark.parametrize("bad", ["yesterday", "2020-13-45T00:00:00Z", "1969-12-31T23:59:59Z", "99999-01-01T00:00:00Z"])
def test_bad_iso_timestamps_are_bad_lines(bad):
    reader, warnings, _ = reader_for("conn")
    assert reader.parse_line(conn_json(ts=bad)) is None
    assert warnings.total == 1


def test_iso_json_folder_gives_the_evidence_of_the_epoch_folder(tmp_path):
    epoch, iso = tmp_path / "epoch", tmp_path / "iso"
    epoch.mkdir()
    iso.mkdir()
    lines = [(f"C{i}", T0 + 600 * i + 0.25) for i in range(8)]
    (epoch / "conn.log").write_bytes(b"".join(conn_json(uid, ts) + b"\n" for uid, ts in lines))
    stamp = lambda ts: dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    (iso / "conn.log").write_bytes(b"".join(conn_json(uid, stamp(ts)) + b"\n" for uid, ts in lines))
    assert run_cli("-f", str(epoch), "-o", str(tmp_path / "a"), "--offline", "-q") == 0
    assert run_cli("-f", str(iso), "-o", str(tmp_path / "b"), "--offline", "-q") == 0
    assert alerts_json(tmp_path / "a") == alerts_json(tmp_path / "b") != b""


# -- a whole run: the good lines around garbage give the same evidence -------------------
def _write_mixed(folder, garbage: bool, compress: bool = False):
    folder.mkdir()
    conn = [conn_json(f"C{i}", T0 + 400 * i, duration=1000.0 + 200 * i) for i in range(10)]
    dns = [dns_json(f"D{i}", T0 + 300 * i) for i in range(10)]
    bad = {
        "conn": [b'{"ts":1600000000.5,"orig_bytes":100000000000000000000,"id.orig_h":"10.0.0.1","id.resp_h":"1.1.1.1"}',
                 b'{"ts":1600000000.5,"x":' + b"[" * 10_000, conn_json("CX", proto="tc\xff")[:-1] + b"\xff}"],
        "dns": [b'{"ts":' + b"{" * 20_000, b'{"ts":1600000000.5,"TTLs":[1e999]}'],
    }
    for name, lines in (("conn", conn), ("dns", dns)):
        out = []
        for i, line in enumerate(lines):
            out.append(line)
            if garbage:
                out.append(bad[name][i % len(bad[name])])
        data = b"\n".join(out) + b"\n"
        if compress:
            (folder / f"{name}.log.gz").write_bytes(gzip.compress(data))
        else:
            (folder / f"{name}.log").write_bytes(data)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_garbage_between_good_lines_changes_nothing_but_warnings(tmp_path, capsys, compress):
    _write_mixed(tmp_path / "clean", garbage=False, compress=compress)
    _write_mixed(tmp_path / "dirty", garbage=True, compress=compress)
    assert run_cli("-f", str(tmp_path / "clean"), "-o", str(tmp_path / "a"), "--offline", "-q") == 0
    clean = capsys.readouterr()
    assert run_cli("-f", str(tmp_path / "dirty"), "-o", str(tmp_path / "b"), "--offline", "-q") == 0
    dirty = capsys.readouterr()
    assert alerts_json(tmp_path / "a") == alerts_json(tmp_path / "b")
    assert alerts_json(tmp_path / "a").count(b"LONG_CONNECTION") == 7
    assert "Traceback" not in dirty.err
    assert "input warnings: 20 " in dirty.out and "input warnings" not in clean.out
    # Shown with file and line: the first 5 of each reason, the rest counted.
    assert dirty.err.count("(line skipped)") == 17
    assert dirty.err.count("are counted, not shown") == 2


def test_every_garbage_line_is_rejected_by_every_reader():
    for record_type in RECORD_TYPES:
        reader, warnings, _ = reader_for(record_type.log_type)
        lines = garbage_for(record_type.log_type)
        for line in lines:
            assert reader.parse_line(line) is None, (record_type.log_type, line[:80])
        assert warnings.total == len(lines) >= 10


def test_good_line_after_garbage_is_read(tmp_path):
    path = tmp_path / "conn.log"
    from tests.reliability.support import GARBAGE_LINES

    path.write_bytes(b"\n".join([*GARBAGE_LINES, conn_json("CGOOD")]) + b"\n")
    records, _, reader = read(path)
    assert [(r.uid, r.saddr, r.daddr) for r in records] == [("CGOOD", CLIENT, SERVER)]
    assert reader.skipped_counts == {"conn": len(GARBAGE_LINES)}
    assert isinstance(records[0], ConnRecord)


def test_warning_text_is_escaped(tmp_path):
    path = tmp_path / "conn\x1b[31m.log"
    path.write_bytes(b"junk\n")
    emitted: list[str] = []
    assert list(ZeekFileReader(str(path), ConnRecord, InputWarnings(emit=emitted.append))) == []
    assert emitted == [f"warning: {tmp_path}/conn\\x1b[31m.log:1: TSV line before its #fields header (line skipped)"]
