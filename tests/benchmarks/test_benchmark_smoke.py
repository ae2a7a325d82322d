"""Smoke run of the benchmark tools: the generator and the runner, embedded, N = 10k.

Keeps ``benchmarks/`` working; the figures themselves are measured by
``benchmarks/run.py`` and recorded in BENCHMARKS.md, never asserted here.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
LOGS = ["conn.log", "dns.log", "http.log", "ssl.log"]


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"flowalerts_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("n", "seed", "other_seed"), [(2_000, 1, 2), (500, 7, 8)])
def test_the_generator_is_deterministic_and_writes_in_zeeks_order(tmp_path, n, seed, other_seed):
    generate = _load("generate")
    first = generate.generate(str(tmp_path / "a"), n, seed)
    assert generate.generate(str(tmp_path / "b"), n, seed) == first
    other = generate.generate(str(tmp_path / "c"), n, other_seed)
    assert first["conn"] == other["conn"] == n
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", LOGS, shallow=False)
    assert (sorted(match), mismatch, errors) == (LOGS, [], [])
    assert (tmp_path / "a" / "conn.log").read_bytes() != (tmp_path / "c" / "conn.log").read_bytes()
    for name in LOGS:
        records = [json.loads(line) for line in (tmp_path / "a" / name).read_text().splitlines()]
        assert records, name
        # Zeek writes a connection when it ends: conn.log is ordered by ts + duration.
        key = (lambda r: r["ts"] + r.get("duration", 0.0)) if name == "conn.log" else (lambda r: r["ts"])
        stamps = [key(record) for record in records]
        assert stamps == sorted(stamps), name
    assert 0.2 < first["dns"] / n < 0.45
    assert 0.12 < first["ssl"] / n < 0.28
    assert 0.05 < first["http"] / n < 0.15


def test_the_runner_measures_an_embedded_run(tmp_path):
    run = _load("run")
    report_path = tmp_path / "report.md"
    args = ["--sizes", "10000", "--modes", "embedded", "--data", str(tmp_path / "data"), "--report", str(report_path)]
    assert run.main(args) == 0
    text = report_path.read_text()
    table = [line for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    (row_line,) = [line for line in table if line.startswith("| embedded |")]
    row = dict(zip(header, (cell.strip() for cell in row_line.strip("|").split("|")), strict=True))
    lines = int(row["log lines"].replace(",", ""))
    evidence = int(row["evidence"].replace(",", ""))
    assert row["N conn"] == "10,000" and lines > 10_000 and evidence > 0
    assert row["complete"] == f"yes (read {lines:,}, processed {lines:,})"
    assert float(row["lines/s (wall)"].replace(",", "")) > 0
    assert float(row["lines/CPU-s"].replace(",", "")) > 0
    assert row["peak RSS MB per process"].startswith("process ")
    assert "Machine: " in text and "flowalerts run -f" in text
    alerts = tmp_path / "data" / "out" / "embedded-n10000" / "alerts.json"
    assert sum(1 for _ in alerts.open("rb")) == evidence
