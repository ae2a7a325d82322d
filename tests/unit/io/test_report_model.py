"""What goes into the report, on fixed inputs: evidence (with updates), alerts,
caps and their "N more" counts, the timeline, the per-type chart, the run
section from run.json, Slips's IDMEF alerts.json, the flows of the first
uids, and the CSP of the rendered page."""

from __future__ import annotations

import base64
import hashlib
import html.parser
import json
import pathlib

import msgspec
import pytest

from flowalerts.core.evidence import Evidence, ThreatLevel, dst_ip, src_ip, to_json
from flowalerts.io.alerts import AlertTracker, alert_json
from flowalerts.io.report import Limits, ReportError, build_report, render_report
from flowalerts.io.report.flows import attach_flows, read_flows
from flowalerts.io.report.model import evidence_anchor, visible
from flowalerts.io.report.slips import SLIPS_UNTYPED
from flowalerts.io.runinfo import (
    RUN_JSON,
    ConfigChange,
    FlowTimeSpan,
    LogCounts,
    RunInfo,
    RunInfoError,
    config_changes,
    read_run_info,
    write_run_info,
)

T0 = 1_600_000_000.0
A, B, C = "192.168.1.10", "192.168.1.20", "192.168.1.30"
SERVER = "93.184.216.34"


def evidence(kind: str, profile: str, level: ThreatLevel, ts: float, uids: list[str], count: int = 1,
             confidence: float = 1.0, description: str = "", eid: str = "") -> Evidence:
    return Evidence(
        evidence_type=kind, description=description or f"{kind} of {profile}", attacker=src_ip(profile),
        victim=dst_ip(SERVER), threat_level=level, confidence=confidence, profile=profile, timewindow=1,
        uids=uids, ts=ts, count=count, id=eid,
    )


def write_run(folder: pathlib.Path, evidences: list[Evidence], with_run_json: bool = True) -> list:
    """An output folder as `flowalerts run` writes it: alerts.json, alerts_summary.json, run.json."""
    folder.mkdir(parents=True, exist_ok=True)
    tracker = AlertTracker()
    with open(folder / "alerts.json", "wb") as out:
        for item in evidences:
            out.write(to_json(item) + b"\n")
            tracker.add(item)
    alerts = tracker.all_alerts()
    (folder / "alerts_summary.json").write_bytes(b"".join(alert_json(a) + b"\n" for a in alerts))
    if with_run_json:
        info = RunInfo(
            input=str(folder / "zeek"), flow_time=FlowTimeSpan(first=T0, last=T0 + 3000),
            logs={"conn": LogCounts(read=10, processed=10, skipped=1)}, warnings=1,
            warnings_by_kind={"bad line": 1}, evidence={"X": len(evidences)}, alerts=len(alerts),
            alert_threshold=15.0, time_window_width=3600.0,
            config_changes=[ConfigChange(key="parameters.time_window_width", value=600.0, default=3600.0)],
        )
        write_run_info(str(folder), info)
    return alerts


def sample() -> list[Evidence]:
    # A: 20 high port scans (an alert: 20 x 0.8 = 16 >= 15), one of them later updated (count 1 -> 5).
    items = [evidence("PORT_SCAN", A, ThreatLevel.HIGH, T0 + 100 * i, [f"CA{i}"], eid=f"a{i}") for i in range(20)]
    items.append(evidence("PORT_SCAN", A, ThreatLevel.HIGH, T0, ["CA0", "CA0b", "CA0c", "CA0d"], count=5, eid="a0"))
    # B: one low, one info; C: one medium.
    items.append(evidence("LONG_CONNECTION", B, ThreatLevel.LOW, T0 + 50, ["CB1"], eid="b1"))
    items.append(evidence("PRIVATE_IP", B, ThreatLevel.INFO, T0 + 60, ["CB2"], eid="b2"))
    items.append(evidence("UNKNOWN_PORT", C, ThreatLevel.MEDIUM, T0 + 70, ["CC1"], eid="c1"))
    return items


def test_evidence_updates_supersede_and_profiles_are_ranked(tmp_path):
    alerts = write_run(tmp_path / "out", sample())
    report = build_report(str(tmp_path / "out"))
    assert report.evidence_total == 23  # 20 + 3: the update replaced a0
    assert [s.profile for s in report.profiles] == [A, C, B]  # the alert first, then by highest level
    assert [s.evidence_total for s in report.profiles] == [20, 1, 2]
    first = report.profiles[0].evidence[0]
    assert (first.id, first.count, first.uids, first.uids_total) == ("a0", 5, ["CA0", "CA0b", "CA0c"], 4)
    assert [(t.evidence_type, t.evidence, t.occurrences, t.level) for t in report.profiles[0].types] == [
        ("PORT_SCAN", 20, 24, "high")
    ]
    assert report.profiles[2].types[0].evidence_type == "LONG_CONNECTION"  # low before info
    assert len(alerts) == 1
    [alert] = report.alerts
    assert (alert.profile, alert.level, alert.evidence_total) == (A, "high", 20)
    assert alert.window == "2020-09-13 12:26:40 - 13:26:40"
    assert alert.links[0].anchor == evidence_anchor("a0") == "ev-a0"
    assert all(link.shown for link in alert.links)
    assert report.all_types == ["LONG_CONNECTION", "PORT_SCAN", "PRIVATE_IP", "UNKNOWN_PORT"]
    assert [(b.evidence_type, b.count, b.level) for b in report.type_bars] == [
        ("PORT_SCAN", 20, "high"), ("LONG_CONNECTION", 1, "low"), ("PRIVATE_IP", 1, "info"),
        ("UNKNOWN_PORT", 1, "medium"),
    ]
    assert report.title == "Flowalerts report: zeek"


def test_caps_count_what_they_leave_out(tmp_path):
    write_run(tmp_path / "out", sample())
    limits = Limits(profiles=2, evidence_per_profile=3, alerts=0, alert_links=2, timeline_rows=1, uids_per_evidence=1)
    report = build_report(str(tmp_path / "out"), limits)
    assert (len(report.profiles), report.profiles_left_out) == (2, 1)
    assert [(len(s.evidence), s.left_out) for s in report.profiles] == [(3, 17), (1, 0)]
    assert (len(report.alerts), report.alerts_left_out) == (0, 1)
    assert report.timeline is not None
    assert (len(report.timeline.rows), report.timeline.rows_left_out) == (1, 2)
    assert sorted(report.wanted_uids()) == ["CA0", "CA1", "CA2", "CC1"]
    html = render_report(report)
    assert "17 more evidence of 192.168.1.10 in alerts.json." in html
    assert "1 more profiles in alerts.json" in html


def test_alert_links_to_evidence_left_out_are_not_links(tmp_path):
    write_run(tmp_path / "out", sample())
    report = build_report(str(tmp_path / "out"), Limits(evidence_per_profile=2, alert_links=5))
    [alert] = report.alerts
    assert [link.shown for link in alert.links] == [True, True, False, False, False]
    assert alert.links_left_out == 15


def test_timeline_marks_per_bin_and_level(tmp_path):
    write_run(tmp_path / "out", sample())
    report = build_report(str(tmp_path / "out"), Limits(timeline_bins=30))
    timeline = report.timeline
    assert timeline is not None
    assert (timeline.start, timeline.end, timeline.bin_seconds) == (T0, T0 + 3000, 100.0)
    row_a = timeline.rows[0]
    assert row_a.profile == A and row_a.level == "high" and row_a.evidence == 20
    # One evidence every 100 s from T0: bins 0..19, one mark each (a comb).
    assert [(m.level, m.count) for m in row_a.marks] == [("high", 1)] * 20
    assert [m.x for m in row_a.marks[:3]] == [0.0, 32.0, 64.0]
    row_b = next(r for r in timeline.rows if r.profile == B)
    assert [(m.level, m.count) for m in row_b.marks] == [("info", 1), ("low", 1)]  # one bin, two levels


def test_run_section_from_run_json(tmp_path):
    write_run(tmp_path / "out", sample())
    run = build_report(str(tmp_path / "out")).run
    facts = {f.name: f.value for f in run.facts}
    assert facts["flow time"] == "2020-09-13 12:26:40 - 2020-09-13 13:16:40 UTC"
    assert facts["input warnings"] == "1"
    assert run.logs == [("conn", 10, 10, 1)]
    assert [(w.name, w.value) for w in run.warnings] == [("bad line", "1")]
    assert run.config_changes == [("parameters.time_window_width", "600", "3600")]
    assert run.missing == []


def test_a_folder_without_run_json_says_so(tmp_path):
    write_run(tmp_path / "out", sample(), with_run_json=False)
    report = build_report(str(tmp_path / "out"))
    assert report.evidence_total == 23
    assert report.run.missing == ["no run.json in this folder (a run of an older version, or one still running)"]
    assert report.timeline is not None and report.timeline.start == T0  # span from the evidence


def test_unreadable_lines_are_counted_not_fatal(tmp_path):
    write_run(tmp_path / "out", sample())
    with open(tmp_path / "out" / "alerts.json", "ab") as out:
        out.write(b'{"not": "evidence"}\n\x00garbage\n')
    report = build_report(str(tmp_path / "out"))
    assert (report.evidence_total, report.unreadable_lines) == (23, 2)


def test_not_an_output_folder_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match=r"no run\.json or alerts\.json"):
        build_report(str(tmp_path))
    with pytest.raises(ReportError, match="not a folder"):
        build_report(str(tmp_path / "missing"))


def test_run_json_round_trip_and_format_check(tmp_path):
    info = RunInfo(input="/x", logs={"dns": LogCounts(read=1, processed=1)})
    path = write_run_info(str(tmp_path), info)
    assert read_run_info(path) == info
    (tmp_path / RUN_JSON).write_text(json.dumps({"format": "flowalerts-run/9", "input": "/x"}))
    with pytest.raises(RunInfoError, match=r"this version reads 'flowalerts-run/1'"):
        read_run_info(path)
    (tmp_path / RUN_JSON).write_text("[1]")
    with pytest.raises(RunInfoError, match=r"not a Flowalerts run\.json"):
        read_run_info(path)


def test_config_changes_are_dotted_and_redacted():
    from flowalerts.catalog import config_sections
    from flowalerts.core.config import parse_config

    sections = config_sections()
    defaults, _ = parse_config({}, sections=sections)
    changed, _ = parse_config(
        {"redis": {"url": "redis://:hunter2@127.0.0.1:6390/0"}, "flow_alerts": {"long_connection": {"threshold": 99}}},
        sections=sections,
    )
    changes = config_changes(changed, defaults)
    assert [(c.key, c.value, c.default) for c in changes] == [
        ("flow_alerts.long_connection.threshold", 99, 1500),
        ("redis.url", "redis://:***@127.0.0.1:6390/0", None),
    ]
    assert config_changes(defaults, defaults) == []


def test_visible_shows_control_characters_literally():
    assert visible("a\x1b[31mred\x07\u202eb\x00") == "a\\x1b[31mred\\x07\\u202eb\\x00"
    assert visible("tab\tnew\nline") == "tab\tnew\nline"  # white space: HTML shows it as a space
    assert visible("<script>") == "<script>"  # HTML escaping is the template's job
    assert visible("lone \udc80 surrogate") == "lone \\udc80 surrogate"


# --- Slips's alerts.json --------------------------------------------------------------------


def slips_event(eid: str, ip: str, severity: str, start: str, uids: list[str], tw: int = 1) -> dict:
    note = {"uids": uids, "accumulated_threat_level": 1.5, "threat_level": severity.lower(), "confidence": "High",
            "timewindow": tw}
    return {"Version": "2.0.3", "Analyzer": {"Name": "Slips", "Model": "1.1.21"}, "Status": "Event", "ID": eid,
            "Severity": severity, "StartTime": start, "Confidence": 0.8, "Description": f"something about {ip}",
            "Source": [{"IP": ip, "Port": [5000]}], "Target": [{"IP": SERVER, "Port": [443]}],
            "Note": json.dumps(note)}


def test_slips_alerts_json(tmp_path):
    lines = [
        slips_event("e1", A, "High", "2020-09-13T12:26:40+00:00", ["CA1", "CA2"]),
        slips_event("e2", A, "Medium", "2020-09-13T12:30:00+00:00", ["CA3"]),
        slips_event("e3", B, "Info", "2020-09-13T12:40:00+00:00", []),
        {"Version": "2.0.3", "Analyzer": {"Name": "Slips", "Model": "1.1.21"}, "Status": "Incident", "ID": "i1",
         "Source": [{"IP": A}], "StartTime": "2020-09-13T12:26:40+00:00", "CorrelID": ["e1", "e2"],
         "Note": json.dumps({"accumulated_threat_level": 15.75, "timewindow": 1,
                             "EndTime": "2020-09-13T13:26:40+00:00"})},
    ]
    (tmp_path / "alerts.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = build_report(str(tmp_path))
    assert report.source == "slips"
    assert report.evidence_total == 3
    assert [s.profile for s in report.profiles] == [A, B]
    assert [(r.id, r.level, r.evidence_type, r.uids) for r in report.profiles[0].evidence] == [
        ("e1", "high", SLIPS_UNTYPED, ["CA1", "CA2"]), ("e2", "medium", SLIPS_UNTYPED, ["CA3"])
    ]
    [alert] = report.alerts
    assert (alert.profile, alert.accumulated_threat, alert.level, alert.evidence_total) == (A, 15.75, "high", 2)
    assert alert.window == "2020-09-13 12:26:40 - 13:26:40"
    assert alert.evidence_types == {SLIPS_UNTYPED: 2}
    assert report.run.missing and "no evidence type" in report.run.missing[0]
    assert report.alerts_file == report.evidence_file == "alerts.json"


# --- flows --------------------------------------------------------------------------------


def zeek_json(**fields) -> str:
    return json.dumps(fields) + "\n"


def test_flows_of_the_first_uids(tmp_path):
    zeek = tmp_path / "zeek"
    zeek.mkdir()
    base = {"id.orig_h": A, "id.orig_p": 50000, "id.resp_h": SERVER, "id.resp_p": 443}
    (zeek / "conn.log").write_text(
        zeek_json(ts=T0, uid="CA0", proto="tcp", service="ssl", duration=1.5, orig_bytes=10, resp_bytes=0,
                  conn_state="SF", **base)
        + zeek_json(ts=T0 + 1, uid="CX", proto="tcp", conn_state="S0", **base)
    )
    (zeek / "ssl.log").write_text(
        zeek_json(ts=T0 + 0.1, uid="CA0", server_name="<b>x</b>.example", validation_status="ok", **base)
    )
    (zeek / "http.log").write_text("".join(
        zeek_json(ts=T0 + 0.2 + i, uid="CA0", method="GET", host="h.example", uri=f"/{i}", **base) for i in range(5)
    ))
    found, result = read_flows(str(zeek), {"CA0", "CZ"}, Limits(records_per_log=2))
    assert (result.wanted, result.found, result.records_read, result.problem) == (2, 1, 8, "")
    assert [r.log_type for r in found["CA0"]] == ["conn", "ssl", "http", "http"]  # conn first; 2 per log
    conn = found["CA0"][0]
    assert conn.endpoints == f"{A}:50000 -> {SERVER}:443"
    assert {f.name: f.value for f in conn.fields}["sbytes"] == "10"
    assert {f.name: f.value for f in conn.fields}["dbytes"] == "0"  # zeros are shown
    assert {f.name: f.value for f in found["CA0"][1].fields}["server_name"] == "<b>x</b>.example"


def test_attach_flows_fills_the_evidence_shown_and_says_why_not(tmp_path):
    write_run(tmp_path / "out", sample())
    report = build_report(str(tmp_path / "out"))
    attach_flows(report, None)
    assert "not shown: the Zeek logs are unknown" in report.flows_note
    attach_flows(report, str(tmp_path / "nowhere"))
    assert "not shown: input path does not exist" in report.flows_note
    zeek = tmp_path / "zeek"
    zeek.mkdir()
    (zeek / "conn.log").write_text(zeek_json(ts=T0, uid="CC1", **{"id.orig_h": C, "id.resp_h": SERVER}))
    attach_flows(report, str(zeek))
    row = next(r for r in report.shown_evidence if r.id == "c1")
    assert list(row.flows) == ["CC1"]
    assert "1 of 25 uids found in 1 records" in report.flows_note


# --- the page ----------------------------------------------------------------------------


class _Inline(html.parser.HTMLParser):
    """The CSP and the inline style/script contents of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.csp = ""
        self.blocks: list[tuple[str, dict, str]] = []
        self._open: tuple[str, dict] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "meta" and attributes.get("http-equiv") == "Content-Security-Policy":
            self.csp = attributes["content"]
        if tag in ("script", "style"):
            self._open = (tag, attributes)

    def handle_data(self, data):
        if self._open:
            self.blocks.append((*self._open, data))
            self._open = None


def sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_allows_only_its_own_inline_code_by_hash(tmp_path):
    write_run(tmp_path / "out", sample())
    page = _Inline()
    page.feed(render_report(build_report(str(tmp_path / "out"))))
    directives = dict(part.strip().split(" ", 1) for part in page.csp.split(";"))
    assert directives["default-src"] == "'none'"
    executable = [text for tag, attrs, text in page.blocks if tag == "script" and "type" not in attrs]
    styles = [text for tag, _, text in page.blocks if tag == "style"]
    assert len(executable) == 1 and len(styles) == 1
    assert directives["script-src"] == sha(executable[0])
    assert directives["style-src"] == sha(styles[0])
    assert "unsafe" not in page.csp
    [data] = [text for tag, attrs, text in page.blocks if attrs.get("type") == "application/json"]
    assert json.loads(data)["profiles"] == [A, C, B]


def test_hostile_strings_are_escaped_in_the_page_and_in_the_json_block(tmp_path):
    hostile = '</script><script>alert(1)</script>"><img src=x onerror=alert(2)>\x1b[31m'
    write_run(tmp_path / "out", [evidence("PORT_SCAN", A, ThreatLevel.HIGH, T0, [hostile], description=hostile,
                                          eid=hostile)])
    text = render_report(build_report(str(tmp_path / "out")))
    assert "<img" not in text and "<script>alert" not in text and "\x1b" not in text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;\\x1b[31m" in text
    assert msgspec.json.decode(to_json(evidence("X", A, ThreatLevel.LOW, T0, [])))  # (sanity: helpers work)


def test_cli_report_with_and_without_flows(tmp_path, capsys):
    from flowalerts.cli.main import main

    write_run(tmp_path / "out", sample())
    assert main(["report", str(tmp_path / "out"), "--no-flows"]) == 0
    assert capsys.readouterr().err == f"report: {tmp_path / 'out' / 'report.html'} (1 alerts, 23 evidence, 3 profiles)\n"
    assert "The flows behind the evidence were not read (--no-flows)." in (tmp_path / "out" / "report.html").read_text()
    # run.json names an input that is gone: the report says so and is still written.
    assert main(["report", str(tmp_path / "out"), "-o", str(tmp_path / "r.html")]) == 0
    assert f"not shown: {tmp_path / 'out' / 'zeek'} does not exist (give the Zeek logs with -f)" in (tmp_path / "r.html").read_text()


def test_cli_report_reads_the_flows_from_where_f_says(tmp_path, capsys):
    from flowalerts.cli.main import main

    write_run(tmp_path / "out", sample())
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "conn.log").write_text(zeek_json(ts=T0, uid="CC1", **{"id.orig_h": C, "id.resp_h": SERVER}))
    assert main(["report", str(tmp_path / "out"), "-f", str(moved)]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert f"read from {moved}: 1 of 25 uids found in 1 records." in page
    block = _Inline()
    block.feed(page)
    [data] = [text for tag, attrs, text in block.blocks if attrs.get("type") == "application/json"]
    assert [record[:2] for record in json.loads(data)["flows"]["ev-c1"]] == [["CC1", "conn"]]


def test_a_lone_surrogate_in_alerts_json_is_counted_not_fatal(tmp_path):
    from flowalerts.io.report import write_report

    write_run(tmp_path / "out", sample())
    line = json.loads(to_json(evidence("PORT_SCAN", C, ThreatLevel.LOW, T0, ["CS"], eid="s1")))
    line["description"] = "bad \udc80 byte"
    with open(tmp_path / "out" / "alerts.json", "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")  # ensure_ascii: written as the escape \\udc80
    path, report = write_report(str(tmp_path / "out"), read_flows=False)
    # msgspec refuses a lone surrogate: the line is counted as unreadable, and said.
    assert (report.evidence_total, report.unreadable_lines) == (23, 1)
    assert "1 line(s) of the output files could not be read" in pathlib.Path(path).read_text(encoding="utf-8")
