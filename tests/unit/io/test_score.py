"""``flowalerts score`` on labelled fixtures (issue 13.4)."""

from __future__ import annotations

import json

import pytest

from flowalerts.cli.main import main
from flowalerts.core.evidence import Evidence, ThreatLevel, src_ip, to_json
from flowalerts.io.score import read_labels, score
from tests.harness import CLIENT, T0

TSV_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttunnel_parents   label   detailed-label\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tset[string]   string   string\n"
)
ROWS = [
    ("Cm1", "Malicious", "C&C-HeartBeat"),
    ("Cm2", "Malicious", "C&C-HeartBeat"),
    ("Cm3", "Malicious", "PartOfAHorizontalPortScan"),
    ("Cb1", "Benign", "-"),
    ("Cb2", "Benign", "-"),
    ("Cx1", "-", "-"),
]


def write_tsv(folder):
    lines = [TSV_HEADER]
    for n, (uid, label, detailed) in enumerate(ROWS):
        # CTU-IoT-23 style: the last three columns separated by three spaces.
        lines.append(f"{T0 + n}\t{uid}\t{CLIENT}\t5000{n}\t1.2.3.4\t80\ttcp\t-   {label}   {detailed}\n")
    (folder / "conn.log.labeled").write_text("".join(lines))


def write_json(folder):
    with open(folder / "conn.log", "w") as out:
        for n, (uid, label, detailed) in enumerate(ROWS):
            out.write(json.dumps({"ts": T0 + n, "uid": uid, "label": label, "detailedlabel": detailed}) + "\n")


def ev(evidence_type, uids, level=ThreatLevel.MEDIUM, n=0):
    return Evidence(evidence_type=evidence_type, description="x", attacker=src_ip(CLIENT), threat_level=level,
                    confidence=1.0, profile=CLIENT, timewindow=1, uids=uids, ts=T0 + n)


EVIDENCE = [
    ev("A", ["Cm1", "Cm2"], n=1),
    ev("A", ["Cm1", "Cb1"], n=2),
    ev("B", ["Cb2"], level=ThreatLevel.INFO, n=3),
    ev("C", ["Cx1", "Dns9"], n=4),
]


@pytest.mark.parametrize("writer", [write_tsv, write_json])
def test_labels_are_read_from_tsv_and_json(tmp_path, writer):
    writer(tmp_path)
    labels = read_labels(str(tmp_path))
    assert labels.by_uid == {
        "Cm1": ("malicious", "C&C-HeartBeat"),
        "Cm2": ("malicious", "C&C-HeartBeat"),
        "Cm3": ("malicious", "PartOfAHorizontalPortScan"),
        "Cb1": ("benign", ""),
        "Cb2": ("benign", ""),
    }
    assert labels.unlabelled == 1


def test_score_per_type_and_overall(tmp_path):
    write_tsv(tmp_path)
    result = score(read_labels(str(tmp_path)), EVIDENCE)
    rows = {s.evidence_type: (s.evidence, s.flows_hit, s.malicious_hit, s.benign_hit, s.precision) for s in result.per_type}
    assert rows == {"A": (2, 3, 2, 1, 2 / 3), "B": (1, 1, 0, 1, 0.0), "C": (1, 0, 0, 0, None)}
    assert (result.evidence, result.malicious_flows, result.malicious_covered) == (4, 3, 2)
    # Cb2 is hit only by info evidence: not counted above info.
    assert (result.benign_hit_above_info, result.benign_hit_above_info_uids) == (1, ["Cb1"])
    assert result.missed_detailed == {"PartOfAHorizontalPortScan": 1}


def test_score_command(tmp_path, capsys):
    write_tsv(tmp_path)
    alerts = tmp_path / "alerts.json"
    alerts.write_bytes(b"".join(to_json(e) + b"\n" for e in EVIDENCE))
    assert main(["score", "-f", str(tmp_path), "-a", str(alerts), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["malicious_covered"], out["malicious_flows"], out["benign_hit_above_info"]) == (2, 3, 1)
    assert main(["score", "-f", str(tmp_path / "nothing"), "-a", str(alerts)]) == 2


def test_score_says_when_alerts_and_labels_share_no_uid(tmp_path, capsys):
    write_tsv(tmp_path)
    alerts = tmp_path / "alerts.json"
    alerts.write_bytes(b"".join(to_json(e) + b"\n" for e in [ev("A", ["Other1"]), ev("B", ["Other2"], n=1)]))
    assert main(["score", "-f", str(tmp_path), "-a", str(alerts)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"flowalerts: warning: the alerts in {alerts} and the labels in {tmp_path} share no flow uid: "
        "they do not come from the same capture (every coverage below is 0)"
    ]
    assert "malicious flows covered: 0 of 3" in captured.out
    # Alerts that do name a labelled flow: no warning.
    alerts.write_bytes(b"".join(to_json(e) + b"\n" for e in EVIDENCE))
    assert main(["score", "-f", str(tmp_path), "-a", str(alerts)]) == 0
    assert capsys.readouterr().err == ""


def test_labels_of_a_conn_json(tmp_path):
    (tmp_path / "conn.json").write_text(json.dumps({"ts": T0, "uid": "Cm1", "label": "Malicious"}) + "\n")
    assert read_labels(str(tmp_path)).by_uid == {"Cm1": ("malicious", "")}
