"""Zeek output as deployments write it (issue 22): which log a file holds
(its records first, its name second), the ``_`` scope separator and
``input.field_names`` at the input edge, extra fields ignored."""

from __future__ import annotations

import gzip
import json
import threading

import msgspec
import pytest

from flowalerts.core.config import ConfigError, InputSection, parse_config
from flowalerts.core.records import ConnRecord, SoftwareRecord
from flowalerts.io.input.fields import file_names, normalise_field_names, scope_separator, zeek_name
from flowalerts.io.input.folder import FolderReader, InputError, discover, live_log_type, log_type_of, sniff_log_type
from flowalerts.io.input.follow import FollowReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import ZeekFileReader

T0 = 1_700_000_000.0
CONN = {
    "ts": T0, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 5000, "id.resp_h": "10.0.0.2", "id.resp_p": 80,
    "proto": "tcp", "service": "http", "duration": 1.5, "orig_bytes": 10, "resp_bytes": 20, "conn_state": "SF",
}
CONN_FIELDS = list(CONN)


def quiet() -> InputWarnings:
    return InputWarnings(emit=lambda text: None)


def underscored(record: dict[str, object]) -> dict[str, object]:
    return {key.replace(".", "_"): value for key, value in record.items()}


def json_lines(*records: dict[str, object]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def tsv(fields: list[str], rows: list[list[object]], path: str = "conn") -> str:
    header = (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        f"#path\t{path}\n#fields\t" + "\t".join(fields) + "\n"
    )
    return header + "".join("\t".join(str(v) for v in row) + "\n" for row in rows)


def read_file(path, record_type=ConnRecord, **limits):
    warnings = InputWarnings(emit=lambda text: None)
    reader = ZeekFileReader(str(path), record_type, warnings, InputSection(**limits))
    return list(reader), warnings


EXPECTED = ConnRecord(starttime=T0, uid="C1", saddr="10.0.0.1", sport=5000, daddr="10.0.0.2", dport=80, proto="tcp",
                      appproto="http", dur=1.5, sbytes=10, dbytes=20, state="SF")


# -- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "log_type"),
    [
        ("conn.log", "conn"),
        ("conn.json", "conn"),
        ("conn.log.labeled", "conn"),
        ("conn.log.gz", "conn"),
        ("dns.json.gz", "dns"),
        ("conn.00:00:00-01:00:00.log.gz", "conn"),
        ("conn.2024-01-01-00-00-00.log", "conn"),
        ("json_streaming_conn.log", "conn"),
        ("json_streaming_ssl.1.log", "ssl"),
        ("known_hosts.log.labeled", "known_hosts"),
        ("labels.config", None),
        ("SOURCE-README.md", None),
        ("conn.txt", None),
    ],
)
def test_log_type_of_published_names(name, log_type):
    assert log_type_of(name) == log_type


def test_live_names_are_the_unrotated_ones():
    assert [live_log_type(n) for n in ("conn.log", "conn.json", "json_streaming_dns.log")] == ["conn", "conn", "dns"]
    assert [live_log_type(n) for n in ("conn.log.gz", "conn.2024-01-01-00-00-00.log", "conn.log.labeled")] == [None] * 3


# -- the record says which log ----------------------------------------------------------------
def test_json_path_field_wins_over_the_name(tmp_path):
    (tmp_path / "conn.json").write_text(json_lines({"_path": "dns", "_write_ts": "x", "ts": T0, "query": "a.b"}))
    assert sniff_log_type(str(tmp_path / "conn.json")) == "dns"
    assert discover(str(tmp_path), quiet()) == [("dns", str(tmp_path / "conn.json"))]


def test_tsv_path_header_wins_over_the_name_and_gzip_is_read(tmp_path):
    with gzip.open(tmp_path / "weird.2024-01-01-00-00-00.log.gz", "wt") as out:
        out.write(tsv(CONN_FIELDS, [list(CONN.values())]))
    assert discover(str(tmp_path), quiet()) == [("conn", str(tmp_path / "weird.2024-01-01-00-00-00.log.gz"))]


def test_the_name_decides_when_the_records_do_not_say(tmp_path):
    (tmp_path / "conn.json").write_text(json_lines(CONN))
    (tmp_path / "stats.log").write_text(json_lines({"_path": "stats", "ts": T0}))
    emitted: list[str] = []
    assert discover(str(tmp_path), InputWarnings(emit=emitted.append)) == [("conn", str(tmp_path / "conn.json"))]
    assert emitted == ["note: skipping 1 file(s) of unsupported log type 'stats'"]


def test_single_file_with_any_name_is_read_by_its_path_field(tmp_path):
    path = tmp_path / "capture-2024.ndjson"
    path.write_text(json_lines({"_path": "conn", **CONN}))
    assert discover(str(path), quiet()) == [("conn", str(path))]
    unknown = tmp_path / "x.json"
    unknown.write_text(json_lines({"ts": T0}))
    with pytest.raises(InputError, match="cannot tell which Zeek log"):
        discover(str(unknown), quiet())
    stats = tmp_path / "y.json"
    stats.write_text(json_lines({"_path": "stats", "ts": T0}))
    with pytest.raises(InputError, match="is a Zeek stats log, which Flowalerts does not read"):
        discover(str(stats), quiet())


def test_folder_of_labeled_and_json_streaming_logs(tmp_path):
    (tmp_path / "conn.log.labeled").write_text(tsv([*CONN_FIELDS, "label", "detailed-label"],
                                                   [[*CONN.values(), "Malicious", "C&C"]]))
    (tmp_path / "json_streaming_dns.log").write_text(json_lines({"_path": "dns", "ts": T0 + 1, "uid": "D1",
                                                                 "id.orig_h": "10.0.0.1", "id.orig_p": 53000,
                                                                 "id.resp_h": "10.0.0.53", "id.resp_p": 53,
                                                                 "query": "example.com"}))
    reader = FolderReader(str(tmp_path), quiet())
    records = list(reader)
    assert records[0] == EXPECTED
    assert [r.log_type for r in records] == ["conn", "dns"]
    assert reader.skipped_counts == {"conn": 0, "dns": 0}


# -- field names --------------------------------------------------------------------------------
def test_scope_separator_is_judged_from_the_names():
    assert scope_separator(["ts", "uid", "id.orig_h"]) == "."
    assert scope_separator(["ts", "uid", "id_orig_h"]) == "_"
    assert scope_separator(["ts", "uid", "query"]) == "."
    assert zeek_name("id_resp_p") == "id.resp_p" and zeek_name("nonsense") is None
    assert normalise_field_names({"src": "id_orig_h", "dst": "id.resp_h"}) == {"src": "id.orig_h", "dst": "id.resp_h"}
    assert file_names(SoftwareRecord, "_", {})["version.major"] == "version_major"
    assert file_names(ConnRecord, "_", {"src": "id.orig_h"})["id.orig_h"] == "src"


@pytest.mark.parametrize("layout", ["json", "tsv"])
def test_underscore_scope_separator_reads_the_same_records(tmp_path, layout):
    path = tmp_path / "conn.log"
    record = underscored(CONN)
    if layout == "json":
        path.write_text(json_lines(record, {**record, "uid": "C2"}))
    else:
        path.write_text(tsv(list(record), [list(record.values()), [*list(record.values())[:1], "C2",
                                                                    *list(record.values())[2:]]]))
    records, warnings = read_file(path)
    assert records == [EXPECTED, msgspec.structs.replace(EXPECTED, uid="C2")]
    assert warnings.total == 0


@pytest.mark.parametrize("layout", ["json", "tsv"])
def test_field_name_map_reads_the_same_records(tmp_path, layout):
    renamed = {"id.orig_h": "src", "id.orig_p": "src_port", "id.resp_h": "dst", "id.resp_p": "dst_port",
               "ts": "timestamp"}
    record = {renamed.get(key, key): value for key, value in CONN.items()}
    path = tmp_path / "conn.log"
    path.write_text(json_lines(record) if layout == "json" else tsv(list(record), [list(record.values())]))
    field_names = {name: zeek for zeek, name in renamed.items()}
    records, warnings = read_file(path, field_names=field_names)
    assert records == [EXPECTED] and warnings.total == 0
    # Without the map the records miss their fields, each line one warning.
    records, warnings = read_file(path)
    assert records == [] and warnings.total == 1


def test_field_map_and_underscore_separator_together(tmp_path):
    record = {("src" if key == "id.orig_h" else key.replace(".", "_")): value for key, value in CONN.items()}
    (tmp_path / "conn.log").write_text(json_lines(record))
    records, _ = read_file(tmp_path / "conn.log", field_names={"src": "id_orig_h"})
    assert records == [EXPECTED]


def test_extra_fields_are_ignored(tmp_path):
    extra = {"_path": "conn", "_write_ts": "2024-01-01T00:00:00Z", "_system_name": "sensor-1", **CONN,
             "label": "Benign", "detailed-label": "-", "community_id": "1:abc"}
    for name, record in (("conn.json", extra), ("conn_underscored.json", underscored(extra))):
        (tmp_path / name).write_text(json_lines(record))
        records, warnings = read_file(tmp_path / name)
        assert records == [EXPECTED] and warnings.total == 0


def test_record_without_dotted_fields_does_not_decide_the_separator(tmp_path):
    # A weird without id first (Zeek leaves unset fields out of JSON): the next record decides.
    from flowalerts.core.records import WeirdRecord

    lines = json_lines({"ts": T0, "name": "bad_TCP_checksum"},
                       {"ts": T0 + 1, "name": "x", "id_orig_h": "10.0.0.1", "id_orig_p": 1, "id_resp_h": "10.0.0.2",
                        "id_resp_p": 2})
    (tmp_path / "weird.log").write_text(lines)
    records, _ = read_file(tmp_path / "weird.log", WeirdRecord)
    assert [(r.saddr, r.daddr) for r in records] == [("", ""), ("10.0.0.1", "10.0.0.2")]


def test_follow_reads_json_streaming_live_names(tmp_path):
    (tmp_path / "json_streaming_conn.log").write_text(json_lines({"_path": "conn", **CONN}))
    (tmp_path / "dns.json").write_text(json_lines({"_path": "dns", "ts": T0 + 1, "uid": "D1", "id_orig_h": "10.0.0.1",
                                                   "id_orig_p": 1, "id_resp_h": "10.0.0.53", "id_resp_p": 53,
                                                   "query": "example.com"}))
    (tmp_path / "stats.log").write_text(json_lines({"_path": "stats", "ts": T0}))
    emitted: list[str] = []
    stop = threading.Event()
    reader = FollowReader(str(tmp_path), InputWarnings(emit=emitted.append), stop, poll_interval=0.01,
                          reorder_seconds=0.0, idle_release=0.01)
    stop.set()
    records = [r for r in reader if r is not None]
    assert [(r.log_type, r.uid, r.saddr) for r in records] == [("conn", "C1", "10.0.0.1"), ("dns", "D1", "10.0.0.1")]
    assert emitted == [f"note: skipping {tmp_path / 'stats.log'}: unsupported log type 'stats'"]


# -- configuration --------------------------------------------------------------------------------
def test_field_names_config_is_typed_and_checked():
    config, _ = parse_config({"input": {"field_names": {"src": "id.orig_h", "dst": "id_resp_h"}}})
    assert config.input.field_names == {"src": "id.orig_h", "dst": "id_resp_h"}
    assert parse_config({})[0].input.field_names == {}
    with pytest.raises(ConfigError, match=r"input.field_names.src: 'id.orig_hh' is not a Zeek field Flowalerts reads"):
        parse_config({"input": {"field_names": {"src": "id.orig_hh"}}})
    with pytest.raises(ConfigError, match=r"input\.field_names"):
        parse_config({"input": {"field_names": ["src"]}})
