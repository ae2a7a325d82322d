"""Bounded memory and determinism over 24 hours of flow time: detection state
(``State.size()``) and process RSS level off after the first windows; two runs
on the same input give byte-identical alerts.json. (The Redis/bus variants of
these tests belong to the worker and attach suites.)"""

from __future__ import annotations

import os

import psutil
import pytest

from flowalerts.catalog import config_sections
from flowalerts.core.config import parse_config
from flowalerts.engine.driver import ModuleDriver
from flowalerts.hosts.standalone import Pipeline
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import NullLookups
from tests.reliability.support import alerts_json, generate_logs, run_cli

pytestmark = pytest.mark.integration
DAY_RECORDS = int(os.environ.get("FLOWALERTS_DAY_RECORDS", "40000"))


@pytest.fixture(scope="module")
def day_input(tmp_path_factory):
    folder = tmp_path_factory.mktemp("day")
    generate_logs(folder, DAY_RECORDS, hours=24.0, hosts=400)
    return folder


@pytest.mark.slow
def test_state_and_rss_level_off_over_24h(day_input):
    config, _ = parse_config({"lookups": {"enabled": False}}, sections=config_sections())
    driver = ModuleDriver(config, Knowledge.load(config, notify=lambda text: None), NullLookups())
    pipeline = Pipeline(config, driver, sink=None, warn=lambda kind, text: None)
    pipeline.keep_evidence = False
    process = psutil.Process()
    samples: list[tuple[int, int]] = []  # (state entries, rss) every 250 records
    for n, record in enumerate(FolderReader(str(day_input), InputWarnings(emit=lambda text: None)), 1):
        pipeline.feed(record)
        if n % 250 == 0:
            samples.append((sum(driver.state.size().values()), process.memory_info().rss))
    pipeline.finish()
    count = len(samples)
    assert count >= 100
    # The input is uniform over 24 h: sample i is at about hour 24 * i / count.
    early = samples[count // 8 : count // 4]  # hours 3-6, after the first windows filled up
    late = samples[count // 2 : count - 2]  # hours 12-24 (the very end closes everything)
    peak_early = [max(s[k] for s in early) for k in range(2)]
    peak_late = [max(s[k] for s in late) for k in range(2)]
    report = f"state entries {peak_early[0]}->{peak_late[0]}, rss MB {peak_early[1] >> 20}->{peak_late[1] >> 20}"
    print(report)
    assert peak_late[0] <= 1.25 * peak_early[0] + 50, report
    assert peak_late[1] <= peak_early[1] + (40 << 20), report


@pytest.mark.slow
def test_runs_are_byte_identical(day_input, tmp_path, capsys):
    outputs = []
    for name in ("a", "b"):
        assert run_cli("-f", str(day_input), "-o", str(tmp_path / name), "--offline", "-q") == 0
        outputs.append(alerts_json(tmp_path / name))
    capsys.readouterr()
    assert outputs[0].count(b"LONG_CONNECTION") > 50
    assert outputs[0] == outputs[1]
