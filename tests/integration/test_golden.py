"""Golden files (btest style): the full alerts.json of every shared dataset.

Each dataset is run in-process with the shipped data (organisations, ports,
feeds, whitelist) and no network, and its alerts.json must equal
``tests/golden/<dataset>.alerts.json`` byte for byte. When a change of
behaviour is intended, regenerate with

    pytest tests/integration/test_golden.py --regen-golden

and review the diff of tests/golden/ in the commit. A run that raised in any
detection fails here too (it must be visible, not a quieter golden file).
"""

from __future__ import annotations

import difflib
import pathlib

import pytest

from flowalerts.catalog import config_sections
from flowalerts.core.config import parse_config
from flowalerts.core.evidence import decode_evidence
from flowalerts.hosts.standalone import RunOptions, run
from flowalerts.knowledge.lookups import NullLookups
from tests.conftest import GOLDEN

DATASETS = [
    "test9-mixed-zeek-dir",
    "test10-mixed-zeek-dir",
    "test13-malicious-dhcpscan-zeek-dir",
    "test14-malicious-zeek-dir",
    "test16-malicious-zeek-dir",
    "port-scans/horizontal",
    "port-scans/vertical",
]


def run_dataset(folder: pathlib.Path, outdir: pathlib.Path):
    config, _ = parse_config({}, sections=config_sections())
    return run(RunOptions(path=str(folder), outdir=str(outdir), config=config, offline=True, lookups=NullLookups(),
                          emit=lambda text: None))


def describe(line: bytes) -> str:
    evidence = decode_evidence(line)
    return f"{evidence.evidence_type} {evidence.profile} tw{evidence.timewindow} {evidence.id} count={evidence.count}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_golden_alerts_json(dataset, datasets, tmp_path, regen_golden):
    summary = run_dataset(datasets / dataset, tmp_path)
    assert not summary.health.degraded, summary.health.first_traceback
    assert summary.complete
    produced = (tmp_path / "alerts.json").read_bytes()
    golden = GOLDEN / (dataset.replace("/", "-") + ".alerts.json")
    if regen_golden:
        golden.write_bytes(produced)
        return
    assert golden.exists(), f"no golden file {golden.name}: run pytest {__file__} --regen-golden"
    expected = golden.read_bytes()
    if produced != expected:
        diff = difflib.unified_diff(
            [describe(line) for line in expected.splitlines()],
            [describe(line) for line in produced.splitlines()],
            "golden",
            "produced",
            lineterm="",
        )
        pytest.fail(f"{dataset}: alerts.json differs from {golden.name}:\n" + "\n".join(list(diff)[:60]))


def test_replay_is_byte_identical_and_not_empty(datasets, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    run_dataset(datasets / "test9-mixed-zeek-dir", first)
    run_dataset(datasets / "test9-mixed-zeek-dir", second)
    produced = (first / "alerts.json").read_bytes()
    assert produced and produced == (second / "alerts.json").read_bytes()
