"""The evidence sink: duplicates, updates, outputs (issues 13, 15, 16)."""

from __future__ import annotations

import json

import pytest

from flowalerts.core.evidence import Evidence, ThreatLevel, decode_evidence, src_ip
from flowalerts.io.sink import EvidenceSink, OutputError
from tests.harness import CLIENT, T0


def ev(count=1, description="x"):
    return Evidence(evidence_type="TEST_SEEN", description=description, attacker=src_ip(CLIENT),
                    threat_level=ThreatLevel.LOW, confidence=0.5, profile=CLIENT, timewindow=1, uids=["C1"], ts=T0,
                    count=count, id="fixed-id")


def test_redelivery_is_dropped_and_an_update_supersedes(tmp_path):
    sink = EvidenceSink(str(tmp_path))
    assert sink.add(ev()) is True
    assert sink.add(ev()) is False
    assert sink.add(ev(count=7)) is True
    sink.close()
    lines = (tmp_path / "alerts.json").read_bytes().splitlines()
    assert [decode_evidence(line).count for line in lines] == [1, 7]
    assert (sink.counts["TEST_SEEN"], sink.duplicates, sink.updates) == (1, 1, 1)
    log = (tmp_path / "alerts.log").read_text().splitlines()
    assert log[0].startswith("ALERTS: 0") and log[1].startswith("EVIDENCE: 1 (1 updates)") and log[3].startswith("UPDATE ")


def test_text_from_traffic_cannot_fake_lines_or_fields(tmp_path):
    sink = EvidenceSink(str(tmp_path))
    sink.add(ev(description="evil\n2020-01-01 | profile 6.6.6.6 \x1b[31m \\ "))
    sink.close()
    line = (tmp_path / "alerts.log").read_text().splitlines()[2]
    assert "\n" not in line and "\x1b" not in line
    assert "evil\\n2020-01-01 \\| profile 6.6.6.6 \\x1b[31m \\\\ " in line
    assert json.loads((tmp_path / "alerts.json").read_text())["description"].startswith("evil\n")


@pytest.mark.parametrize("kind", ["file", "under-file"])
def test_unusable_output_folder_is_one_clear_error(tmp_path, kind):
    target = tmp_path / "f"
    target.write_text("x")
    path = target if kind == "file" else target / "sub"
    with pytest.raises(OutputError):
        EvidenceSink(str(path))
