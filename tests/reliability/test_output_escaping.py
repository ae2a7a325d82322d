"""No raw control characters from traffic reach alerts.log or the terminal;
a backslash or `` | `` from traffic cannot fake an escape or a field; alerts.json
stays one valid JSON object per line and round-trips the strings."""

from __future__ import annotations

import json
import re

import pytest

from flowalerts.core.evidence import Evidence, ThreatLevel, dst_domain, escape_text, render_line, src_ip
from flowalerts.io.sink import EvidenceSink
from tests.reliability.support import CLIENT, T0, conn_json, run_cli

HOSTILE = [
    "evil.com\nFAKE 2020-01-01 ALERT",
    "evil.com\r\x1b[2K",
    "tab\there",
    "\x1b[31mred\x1b[0m.example",
    "bell\x07.example",
    "line\u2028sep\u2029.example",
    "bidi\u202egnp.exe",
    "isolate\u2066x\u2069.example",
    "nul\x00byte",
    "c1\x9b31m.example",
    "del\x7f.example",
    "zw\u200bsp.example",
    "fake | victim DST IP 6.6.6.6 | x",
    "back\\x1b[31m.slash",
]
# Anything that can move the cursor, end a line, recolor or reorder text.
RAW_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def hostile_evidence(i: int, text: str) -> Evidence:
    return Evidence(
        evidence_type="TEST_HOSTILE", description=f"queried {text} and got nothing", attacker=src_ip(CLIENT),
        victim=dst_domain(text), threat_level=ThreatLevel.LOW, confidence=0.8, profile=CLIENT, timewindow=1,
        uids=[f"C{i}\n"], ts=T0 + i, id=f"id-{i}",
    )


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t)[:20] for t in HOSTILE])
def test_escape_text_and_render_line_are_single_safe_lines(text):
    assert not RAW_UNSAFE.search(escape_text(text))
    assert "\n" not in escape_text(text) and "\t" not in escape_text(text)
    line = render_line(hostile_evidence(0, text))
    assert "\n" not in line and "\r" not in line and not RAW_UNSAFE.search(line)
    # Fields are separated by " | " only where we put them: 7 parts, whatever the traffic.
    assert len(line.split(" | ")) == 7


def test_backslash_and_bar_are_escaped():
    assert escape_text("a\\b") == "a\\\\b"
    assert escape_text("a | b") == "a \\| b"
    assert escape_text("\\x1b") != escape_text("\x1b")  # a literal backslash-x cannot pass for an escape


def test_sink_writes_one_safe_log_line_and_round_tripping_json_per_evidence(tmp_path):
    sink = EvidenceSink(str(tmp_path))
    for i, text in enumerate(HOSTILE):
        assert sink.add(hostile_evidence(i, text))
    sink.close()
    log = (tmp_path / "alerts.log").read_text(encoding="utf-8")
    assert not RAW_UNSAFE.search(log) and "\r" not in log
    assert sum("| TEST_HOSTILE |" in line for line in log.split("\n")) == len(HOSTILE)
    json_lines = (tmp_path / "alerts.json").read_bytes().split(b"\n")
    assert json_lines[-1] == b""
    decoded = [json.loads(line) for line in json_lines[:-1]]
    assert [d["victim"]["value"] for d in decoded] == HOSTILE
    assert [d["description"] for d in decoded] == [f"queried {t} and got nothing" for t in HOSTILE]
    assert [d["uids"] for d in decoded] == [[f"C{i}\n"] for i in range(len(HOSTILE))]


def test_end_to_end_hostile_strings_from_traffic(tmp_path, capfd):
    """Strings of a conn record (uid, proto, service, history) reach the outputs safely."""
    logs = tmp_path / "in"
    logs.mkdir()
    lines = [conn_json(uid=text, ts=T0 + i, proto=text, service=text, history=text) for i, text in enumerate(HOSTILE)]
    lines.append(b"\x1b[2J\x1b[31m garbage \\ | line")  # a bad line, echoed in a warning
    (logs / "conn.log").write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    assert run_cli("-f", str(logs), "-o", str(out), "--offline") == 0
    terminal = capfd.readouterr()
    assert not RAW_UNSAFE.search(terminal.out + terminal.err)
    log = (out / "alerts.log").read_text(encoding="utf-8")
    assert not RAW_UNSAFE.search(log) and "\r" not in log
    # split on "\n" only: U+2028 may legally appear raw inside a JSON string
    decoded = [json.loads(line) for line in (out / "alerts.json").read_text().split("\n") if line]
    decoded = [d for d in decoded if d["evidence_type"] == "LONG_CONNECTION"]  # (the conn detections fire too)
    assert sorted(d["uids"][0] for d in decoded) == sorted(HOSTILE)
    assert sorted(d["details"]["proto"] for d in decoded) == sorted(HOSTILE)
    assert sum("| LONG_CONNECTION |" in line for line in log.split("\n")) == len(HOSTILE)
