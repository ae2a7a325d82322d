"""End-to-end ``flowalerts run`` on the shared datasets, embedded and on a
real Redis: the contract fields, read == processed, and format twins (TSV vs
JSON, gzip vs plain) giving the same evidence."""

from __future__ import annotations

import gzip
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from flowalerts.cli import main

pytestmark = pytest.mark.integration

CONTRACT_FIELDS = {
    "id", "evidence_type", "description", "attacker", "victim", "threat_level", "confidence",
    "profile", "timewindow", "uids", "timestamp",
}


def run_cli(path: pathlib.Path, out: pathlib.Path, *extra: str) -> list[dict]:
    code = main(["run", "-f", str(path), "-o", str(out), "--offline", "-q", *extra])
    assert code == 0
    return [json.loads(line) for line in (out / "alerts.json").read_text().splitlines()]


def test_test14_gre_evidence_embedded(datasets, tmp_path):
    alerts = run_cli(datasets / "test14-malicious-zeek-dir", tmp_path)
    gre = [a for a in alerts if a["evidence_type"] in ("GRE_SCAN", "GRE_TUNNEL")]
    assert sorted(a["evidence_type"] for a in gre) == ["GRE_SCAN", "GRE_TUNNEL"]
    for alert in gre:
        assert alert.keys() >= CONTRACT_FIELDS
        assert alert["profile"] == "10.0.2.15"
        assert alert["attacker"] == {"direction": "SRC", "ioc_type": "IP", "value": "10.0.2.15"} | {
            k: v for k, v in alert["attacker"].items() if k not in ("direction", "ioc_type", "value")
        }
        assert alert["victim"]["value"] == "115.112.11.30"
        assert alert["threat_level"] == "low"
        assert alert["timestamp"].endswith("+00:00")
    log = (tmp_path / "alerts.log").read_text()
    assert "GRE_SCAN" in log and "GRE_TUNNEL" in log


@pytest.mark.redis
def test_test14_same_evidence_on_real_redis(datasets, tmp_path, redis_url):
    embedded = run_cli(datasets / "test14-malicious-zeek-dir", tmp_path / "embedded")
    real = run_cli(datasets / "test14-malicious-zeek-dir", tmp_path / "real", "--redis", redis_url)
    assert embedded == real
    assert {a["evidence_type"] for a in real} >= {"GRE_SCAN", "GRE_TUNNEL"}


def test_summary_read_equals_processed(datasets, tmp_path, capsys):
    for folder in ("test14-malicious-zeek-dir", "test10-mixed-zeek-dir", "test9-mixed-zeek-dir"):
        main(["run", "-f", str(datasets / folder), "-o", str(tmp_path / folder), "--offline", "-q"])
        out = capsys.readouterr().out
        rows = [line.split() for line in out.splitlines() if line[:1].isalpha() and len(line.split()) == 4]
        rows = [r for r in rows if r[1].isdigit()]
        assert rows, out
        for log_type, read, processed, _skipped in rows:
            assert read == processed, (folder, log_type)


def _zeek_json_to_tsv(src: pathlib.Path, dst: pathlib.Path, fields: list[str]) -> None:
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
             f"#path\t{src.name.split('.')[0]}", "#fields\t" + "\t".join(fields)]
    for raw in src.read_text().splitlines():
        record = json.loads(raw)
        values = []
        for name in fields:
            value = record.get(name)
            if value is None:
                values.append("-")
            elif isinstance(value, bool):
                values.append("T" if value else "F")
            elif isinstance(value, list):
                values.append(",".join(map(str, value)) if value else "(empty)")
            else:
                values.append(str(value))
        lines.append("\t".join(values))
    dst.write_text("\n".join(lines) + "\n")


def test_tsv_and_gzip_twins_give_same_evidence(datasets, tmp_path):
    source = datasets / "test14-malicious-zeek-dir"
    plain = run_cli(source, tmp_path / "plain")

    gz_dir = tmp_path / "gz"
    gz_dir.mkdir()
    for log in source.glob("*.log"):
        with gzip.open(gz_dir / (log.name + ".gz"), "wb") as handle:
            handle.write(log.read_bytes())
    assert run_cli(gz_dir, tmp_path / "gz_out") == plain

    tsv_dir = tmp_path / "tsv"
    tsv_dir.mkdir()
    for log in source.glob("*.log"):
        fields: list[str] = []
        for raw in log.read_text().splitlines():
            for key in json.loads(raw):
                if key not in fields:
                    fields.append(key)
        _zeek_json_to_tsv(log, tsv_dir / log.name, fields)
    assert run_cli(tsv_dir, tmp_path / "tsv_out") == plain

    rotated = tmp_path / "rotated"
    rotated.mkdir()
    shutil.copy(gz_dir / "tunnel.log.gz", rotated / "tunnel.00:00:00-01:00:00.log.gz")
    alerts = run_cli(rotated, tmp_path / "rotated_out")
    assert {a["evidence_type"] for a in alerts} == {"GRE_SCAN", "GRE_TUNNEL"}


def test_replay_is_byte_identical(datasets, tmp_path):
    run_cli(datasets / "test9-mixed-zeek-dir", tmp_path / "a")
    run_cli(datasets / "test9-mixed-zeek-dir", tmp_path / "b")
    assert (tmp_path / "a" / "alerts.json").read_bytes() == (tmp_path / "b" / "alerts.json").read_bytes()


def test_console_script_and_errors(tmp_path):
    exe = shutil.which("flowalerts")
    cmd = [exe] if exe else [sys.executable, "-m", "flowalerts"]
    missing = subprocess.run([*cmd, "run", "-f", str(tmp_path / "nope"), "-o", str(tmp_path / "o")],
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("flow_alerts:\n  long_connection_threshold: lots\n")
    result = subprocess.run([*cmd, "run", "-f", str(tmp_path), "-o", str(tmp_path / "o"), "-c", str(bad_config)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "long_connection_threshold" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "conn.log").write_text("")
    unreachable = subprocess.run([*cmd, "run", "-f", str(tmp_path / "conn.log"), "-o", str(tmp_path / "o"),
                                  "--redis", "redis://127.0.0.1:1/0"], capture_output=True, text=True)
    assert unreachable.returncode == 2
    assert "Redis" in unreachable.stderr and "Traceback" not in unreachable.stderr
