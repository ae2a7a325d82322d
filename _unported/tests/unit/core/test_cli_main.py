"""The flowalerts command: help, version, formats, alerts, progress and one-line errors."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import sys

import pytest

from flowalerts import __version__
from flowalerts.cli import Progress, build_parser, estimate_records, main

T0 = 1_600_000_000.0


def conn_line(uid: str, ts: float, dur: float) -> str:
    return json.dumps({
        "ts": ts, "uid": uid, "id.orig_h": "192.168.1.10", "id.orig_p": 50000, "id.resp_h": "93.184.216.34",
        "id.resp_p": 443, "proto": "tcp", "service": "ssl", "duration": dur, "orig_bytes": 100,
        "resp_bytes": 2000, "conn_state": "SF", "history": "ShADadFf", "orig_pkts": 5, "resp_pkts": 5,
    }) + "\n"


@pytest.fixture
def zeek_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "zeek"
    folder.mkdir()
    (folder / "conn.log").write_text(conn_line("L1", T0, 43200.0) + conn_line("L2", T0 + 5, 10.0))
    return folder


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"flowalerts {__version__}"


def test_help_documents_every_flag_and_subcommand():
    parser = build_parser()
    top = parser.format_help()
    assert "run" in top and "module" in top and "--version" in top
    subparsers = next(action for action in parser._actions if action.choices and "run" in action.choices)
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, (name, flag)
            assert action.help, (name, action.dest)


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "flowalerts", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"flowalerts {__version__}"


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: ["run", "-f", str(tmp / "missing"), "-o", str(tmp / "out")], "input path does not exist"),
        (lambda tmp: ["run", "-f", "{zeek}", "-o", str(tmp / "out"), "-c", str(tmp / "nope.yaml")], "configuration file not found"),
        (lambda tmp: ["run", "-f", "{zeek}", "-o", str(tmp / "out"), "-c", "{bad_yaml}"], "cannot parse configuration"),
        (lambda tmp: ["run", "-f", "{zeek}", "-o", str(tmp / "out"), "-c", "{bad_type}"], "invalid configuration"),
        (lambda tmp: ["run", "-f", "{zeek}", "-o", str(tmp / "out"), "--redis", "redis://127.0.0.1:1/0"], "cannot connect to Redis"),
        (lambda tmp: ["module", "--redis", "redis://127.0.0.1:1/0"], "cannot connect to Redis"),
    ],
)
def test_one_line_errors(tmp_path, zeek_dir, capsys, make_args, message):
    (tmp_path / "bad.yaml").write_text("parameters: [unclosed\n")
    (tmp_path / "badtype.yaml").write_text("flow_alerts:\n  long_connection_threshold: soon\n")
    args = [
        arg.replace("{zeek}", str(zeek_dir)).replace("{bad_yaml}", str(tmp_path / "bad.yaml")).replace("{bad_type}", str(tmp_path / "badtype.yaml"))
        for arg in make_args(tmp_path)
    ]
    assert main([*args, "--offline", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowalerts: error: ") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_run_writes_idmef_alerts_and_summary(tmp_path, zeek_dir, capsys):
    config = tmp_path / "cfg.yaml"
    # threshold 0.001 x 3600 / 60 = 0.06; a 12 h connection: LOW 0.2 x confidence 0.5 = 0.1
    config.write_text("detection:\n  evidence_detection_threshold: 0.001\n")
    out = tmp_path / "out"
    code = main(["run", "-f", str(zeek_dir), "-o", str(out), "--offline", "-q", "--format", "idmef", "-c", str(config)])
    assert code == 0
    evidence = [json.loads(line) for line in (out / "alerts.json").read_text().splitlines()]
    long_conn = [e for e in evidence if e["evidence_type"] == "LONG_CONNECTION"]
    assert [e["uids"] for e in long_conn] == [["L1"]]
    idmef = [json.loads(line) for line in (out / "alerts.idmef.json").read_text().splitlines()]
    assert [m["ID"] for m in idmef] == [e["id"] for e in evidence]
    alerts = [json.loads(line) for line in (out / "alerts_summary.json").read_text().splitlines()]
    assert len(alerts) == 1 and long_conn[0]["id"] in alerts[0]["evidence_ids"]
    assert alerts[0]["profile"] == "192.168.1.10" and alerts[0]["timewindow"] == 1
    log = (out / "alerts.log").read_text().splitlines()
    assert log[0].startswith("ALERTS: 1") and log[1].startswith("ALERT ")
    stdout = capsys.readouterr().out
    assert "alerts: 1" in stdout and "top profiles by evidence:" in stdout and "192.168.1.10" in stdout
    assert stdout.index("alerts: 1") < stdout.index("evidence:")


def test_without_format_no_idmef_file(tmp_path, zeek_dir):
    assert main(["run", "-f", str(zeek_dir), "-o", str(tmp_path / "out"), "--offline", "-q"]) == 0
    assert not (tmp_path / "out" / "alerts.idmef.json").exists()
    assert (tmp_path / "out" / "alerts_summary.json").read_text() == ""


@pytest.mark.parametrize(
    ("total", "count", "elapsed", "expected"),
    [
        (1000, 250, 5.0, "[#######.....................]  25% 250/~1,000 records  50 records/s  ETA 0:00:15"),
        (None, 1234, 2.0, "1,234 records  617 records/s  0:00:02"),
        (100, 150, 1.0, "[############################] 100% 150/~100 records  150 records/s  ETA 0:00:00"),
    ],
)
def test_progress_render(total, count, elapsed, expected):
    assert Progress(io.StringIO(), total).render(count, elapsed) == expected


def test_progress_only_on_terminal(tmp_path, zeek_dir, capsys):
    # pytest's stderr is not a terminal: no carriage-return bar is drawn.
    assert main(["run", "-f", str(zeek_dir), "-o", str(tmp_path / "out"), "--offline"]) == 0
    assert "\r" not in capsys.readouterr().err


def test_estimate_records(tmp_path, zeek_dir):
    import gzip

    assert estimate_records(str(zeek_dir)) == 2
    with gzip.open(tmp_path / "conn.log.gz", "wt") as handle:
        handle.write("".join(conn_line(f"C{n}", T0 + n, 1.0) for n in range(100)))
    assert 95 <= estimate_records(str(tmp_path / "conn.log.gz")) <= 105
    assert estimate_records(str(tmp_path / "missing")) is None
