"""Smoke run of the benchmark (issue 6): generator + runner, embedded, N = 10k.

Keeps ``benchmarks/`` working in CI; the targets themselves are measured by
``benchmarks/run.py`` and recorded in BENCHMARKS.md, not asserted here.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"flowalerts_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("n", "seed", "other_seed"),
    [(2_000, 1, 2), (500, 7, 8)],
)
def test_generator_is_deterministic_and_ordered(tmp_path, n, seed, other_seed):
    generate = _load("generate")
    first = generate.generate(str(tmp_path / "a"), n, seed)
    second = generate.generate(str(tmp_path / "b"), n, seed)
    third = generate.generate(str(tmp_path / "c"), n, other_seed)
    assert first == second
    assert first["conn"] == n
    names = ["conn.log", "dns.log", "http.log", "ssl.log"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert (sorted(match), mismatch, errors) == (names, [], [])
    assert (tmp_path / "a" / "conn.log").read_bytes() != (tmp_path / "c" / "conn.log").read_bytes()
    assert third["conn"] == n
    for name in names:
        records = [json.loads(line) for line in (tmp_path / "a" / name).read_text().splitlines()]
        stamps = [record["ts"] for record in records]
        assert stamps == sorted(stamps), name
        assert records, name
    # Shares of the companion logs are near the 1/3, 1/5, 1/10.
    assert 0.2 < first["dns"] / n < 0.45
    assert 0.12 < first["ssl"] / n < 0.28
    assert 0.05 < first["http"] / n < 0.15


def test_runner_embedded_10k_smoke(tmp_path):
    run = _load("run")
    report_path = tmp_path / "report.md"
    status = run.main(
        ["--sizes", "10000", "--modes", "embedded", "--data", str(tmp_path / "data"), "--report", str(report_path)]
    )
    assert status == 0
    text = report_path.read_text()
    table = [line for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = [line for line in table if line.startswith("| embedded |")]
    assert len(rows) == 1
    row = dict(zip(header, (cell.strip() for cell in rows[0].strip("|").split("|")), strict=True))
    lines = int(row["log lines"].replace(",", ""))
    evidence = int(row["evidence"].replace(",", ""))
    assert row["N conn"] == "10,000"
    assert lines > 10_000
    assert evidence > 0
    assert row["complete"] == f"yes (read {lines:,}, processed {lines:,})"
    assert float(row["records/s (wall)"].replace(",", "")) > 0
    assert float(row["records/CPU-s"].replace(",", "")) > 0
    assert float(row["peak RSS MB"]) > 0
    assert "Machine: " in text and "flowalerts run -f" in text
    alerts = tmp_path / "data" / "out" / "embedded-n10000" / "alerts.json"
    assert sum(1 for _ in alerts.open("rb")) == evidence
