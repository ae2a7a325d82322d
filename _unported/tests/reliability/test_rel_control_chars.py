"""No raw control characters from traffic reach alerts.log or the terminal;
alerts.json stays one valid JSON object per line and round-trips the strings."""

from __future__ import annotations

import json
import re

import fakeredis
import pytest

from flowalerts.bus import Topic
from flowalerts.cli import main
from flowalerts.evidence import EvidenceType, ThreatLevel, dst_domain, escape_text, render_line, src_ip
from flowalerts.sink import EvidenceSink
from flowalerts.modules.flow_alerts.detector import make_evidence

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
]
# Anything that can move the cursor, end a line, recolor or reorder text.
RAW_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _hostile_evidence(i: int, text: str):
    return make_evidence(
        EvidenceType.DNS_WITHOUT_CONNECTION,
        description=f"queried {text} and got nothing",
        attacker=src_ip("10.0.0.1"),
        victim=dst_domain(text),
        threat_level=ThreatLevel.LOW,
        confidence=0.8,
        profile="10.0.0.1",
        twid=1,
        timestamp=1_600_000_000.0 + i,
        uids=[f"C{i}\n"],
    )


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t)[:20] for t in HOSTILE])
def test_escape_text_and_render_line_are_single_safe_lines(text):
    assert not RAW_UNSAFE.search(escape_text(text))
    assert "\n" not in escape_text(text) and "\t" not in escape_text(text)
    line = render_line(_hostile_evidence(0, text))
    assert "\n" not in line and "\r" not in line and not RAW_UNSAFE.search(line)


def test_sink_writes_one_safe_log_line_and_round_tripping_json_per_evidence(tmp_path):
    topic = Topic(fakeredis.FakeRedis(), "evidence", "streams", "t", 100)
    sink = EvidenceSink(topic, str(tmp_path))
    evidences = [_hostile_evidence(i, text) for i, text in enumerate(HOSTILE)]
    for evidence in evidences:
        assert sink.add(evidence)
    sink.close()
    log = (tmp_path / "alerts.log").read_text(encoding="utf-8")
    assert not RAW_UNSAFE.search(log) and "\r" not in log
    evidence_lines = [line for line in log.split("\n") if "| DNS_WITHOUT_CONNECTION |" in line]
    assert len(evidence_lines) == len(HOSTILE)
    json_lines = (tmp_path / "alerts.json").read_bytes().split(b"\n")
    assert json_lines[-1] == b""
    decoded = [json.loads(line) for line in json_lines[:-1]]
    assert [d["victim"]["value"] for d in decoded] == HOSTILE
    assert [d["description"] for d in decoded] == [f"queried {t} and got nothing" for t in HOSTILE]
    assert [d["uids"] for d in decoded] == [[f"C{i}\n"] for i in range(len(HOSTILE))]


def _dns_line(i: int, query: str) -> str:
    return json.dumps({
        "ts": 1_600_000_000.0 + i, "uid": f"D{i}", "id.orig_h": "192.168.1.10", "id.orig_p": 50000 + i,
        "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp", "query": query, "qtype_name": "A",
        "rcode_name": "NOERROR", "answers": [f"93.184.216.{i + 1}"], "TTLs": [300.0],
    })


def test_end_to_end_hostile_dns_names(tmp_path, capfd):
    from flowalerts.modules.flow_alerts.module import load_detector_classes

    if "DNS_WITHOUT_CONNECTION" not in {t.value for c in load_detector_classes() for t in c.evidence_types}:
        pytest.skip("no DNS_WITHOUT_CONNECTION detector registered yet")
    logs = tmp_path / "in"
    logs.mkdir()
    queries = [f"{text}.q{i}.example.com" for i, text in enumerate(HOSTILE)]
    lines = [_dns_line(i, q) for i, q in enumerate(queries)]
    # a conn far later so the pending DNS decisions are settled by flow time
    lines_conn = [json.dumps({"ts": 1_600_100_000.0, "uid": "Cz", "id.orig_h": "192.168.1.10", "id.orig_p": 1,
                              "id.resp_h": "10.9.9.9", "id.resp_p": 80, "proto": "tcp", "conn_state": "SF"})]
    (logs / "dns.log").write_text("\n".join(lines) + "\n")
    (logs / "conn.log").write_text("\n".join(lines_conn) + "\n")
    out = tmp_path / "out"
    assert main(["run", "-f", str(logs), "-o", str(out), "--offline"]) == 0
    terminal = capfd.readouterr()
    assert not RAW_UNSAFE.search(terminal.out + terminal.err)
    log = (out / "alerts.log").read_text(encoding="utf-8")
    assert not RAW_UNSAFE.search(log) and "\r" not in log
    # split on "\n" only: U+2028 may legally appear raw inside a JSON string
    decoded = [json.loads(line) for line in (out / "alerts.json").read_text().split("\n") if line]
    seen = {d["victim"]["value"] for d in decoded if d["evidence_type"] == "DNS_WITHOUT_CONNECTION" and d.get("victim")}
    assert seen == {q.lower() for q in queries}  # the original strings (domains are lower-cased)
    assert sum("| DNS_WITHOUT_CONNECTION |" in line for line in log.split("\n")) == len(queries)
