"""Bounded memory and determinism over 24 hours of flow time: detector state
(State.size()), process RSS and Redis used_memory level off after the first
windows; two runs on the same input give byte-identical alerts.json, embedded
and against a real Redis alike."""

from __future__ import annotations

import os

import psutil
import pytest
from reliability_support import generate_logs

from flowalerts import worker as worker_module
from flowalerts.cli import main
from flowalerts.config import parse_config
from flowalerts.runner import RunOptions, run

pytestmark = [pytest.mark.integration, pytest.mark.redis]

DAY_RECORDS = int(os.environ.get("FLOWALERTS_DAY_RECORDS", "80000"))
# alerts.json of the real-Redis 24h run, reused by the determinism test.
_DAY_OUTPUT: dict[str, bytes] = {}


@pytest.fixture(scope="module")
def day_input(tmp_path_factory):
    folder = tmp_path_factory.mktemp("day")
    generate_logs(folder, DAY_RECORDS, hours=24.0, hosts=400)
    return folder


def _run(folder, out, redis_url):
    config = parse_config({"redis": {"url": redis_url}, "lookups": {"enabled": False}})[0]
    return run(RunOptions(path=str(folder), outdir=str(out), config=config, redis_url=redis_url, offline=True, emit=lambda t: None))


@pytest.mark.slow
def test_state_rss_and_redis_memory_level_off_over_24h(day_input, tmp_path, monkeypatch, own_redis):
    admin = own_redis.client()
    process = psutil.Process()
    samples: list[tuple[int, int, int]] = []  # (state entries, rss, redis used_memory) per batch
    original = worker_module.ModuleWorker._handle

    def sampling_handle(self, kind, payload):
        result = original(self, kind, payload)
        entries = sum(self.module.ctx.state.size().values())
        samples.append((entries, process.memory_info().rss, int(admin.info("memory")["used_memory"])))
        return result

    monkeypatch.setattr(worker_module.ModuleWorker, "_handle", sampling_handle)
    summary = _run(day_input, tmp_path / "out", own_redis.url)
    assert summary.complete
    _DAY_OUTPUT["real"] = (tmp_path / "out" / "alerts.json").read_bytes()
    n = len(samples)
    assert n >= 100
    # The input is uniform over 24h: sample i is at about hour 24 * i / n.
    early = samples[n // 8 : n // 4]  # hours 3-6, after the first windows filled up
    late = samples[n // 2 : n - 2]  # hours 12-24 (the very end closes everything)
    peak_early = [max(s[k] for s in early) for k in range(3)]
    peak_late = [max(s[k] for s in late) for k in range(3)]
    report = f"state entries {peak_early[0]}->{peak_late[0]}, rss MB {peak_early[1] >> 20}->{peak_late[1] >> 20}, redis used_memory MB {peak_early[2] >> 20}->{peak_late[2] >> 20}"
    print(report)
    assert peak_late[0] <= 1.25 * peak_early[0] + 50, report
    assert peak_late[1] <= peak_early[1] + (40 << 20), report
    assert peak_late[2] <= peak_early[2] + (8 << 20), report
    assert admin.dbsize() == 0  # the run leaves nothing behind in Redis


def _cli(folder, out, *extra):
    assert main(["run", "-f", str(folder), "-o", str(out), "--offline", "-q", *extra]) == 0
    return (out / "alerts.json").read_bytes()


@pytest.mark.slow
def test_runs_are_byte_identical_embedded_and_on_real_redis(day_input, datasets, tmp_path, own_redis, capsys):
    for name, folder in (("test9", datasets / "test9-mixed-zeek-dir"), ("test14", datasets / "test14-malicious-zeek-dir")):
        first = _cli(folder, tmp_path / name / "a")
        second = _cli(folder, tmp_path / name / "b")
        real = _cli(folder, tmp_path / name / "c", "--redis", own_redis.url)
        assert first, name
        assert first == second, name
        assert real == first, name
        assert _cli(folder, tmp_path / name / "d", "--redis", own_redis.url) == real, name
    # 24h of flow time: embedded vs the real-Redis run of the memory test (or a fresh one).
    real_day = _DAY_OUTPUT.get("real") or _cli(day_input, tmp_path / "day" / "c", "--redis", own_redis.url)
    embedded_day = _cli(day_input, tmp_path / "day" / "a")
    assert embedded_day and embedded_day == real_day
