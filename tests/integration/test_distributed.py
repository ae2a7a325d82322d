"""Distributed runs (``flowalerts run --redis``, ``flowalerts worker``) give
exactly the evidence of the in-process run.

Each case runs the producer in this process (``runner.run`` with a Redis URL
and no local workers) against worker processes started here
(``distributed_support``), with the test-only ``Probe`` detection added to
every registered detection, and compares ``alerts.json`` line by line with
the in-process run: the same set of lines (content-derived ids, enrichment
included), no line twice, and read == processed for every log type.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys
import threading
import time
from typing import Any

import pytest

from flowalerts.config import Config, parse_config
from flowalerts.knowledge import Knowledge
from flowalerts.modules.flow_alerts.detection import config_sections
from flowalerts.runner import RunOptions, RunSummary, run
from flowalerts.streams import Keys
from tests.integration.distributed_support import (
    all_detections,
    parse_stats,
    read_alerts,
    start_worker,
    stop_worker,
    worker_log,
)

pytestmark = [pytest.mark.integration, pytest.mark.redis]

DATASETS = (
    "test9-mixed-zeek-dir",
    "test10-mixed-zeek-dir",
    "test13-malicious-dhcpscan-zeek-dir",
    "test14-malicious-zeek-dir",
    "test16-malicious-zeek-dir",
    "port-scans",
)
BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def make_config(prefix: str = "flowalerts", **redis: Any) -> Config:
    settings = {"key_prefix": prefix, "lease_seconds": 5.0, "checkpoint_seconds": 1.0, **redis}
    return parse_config({"redis": settings}, sections=config_sections())[0]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return Knowledge.load(make_config(), notify=lambda text: None)


def run_folder(path: pathlib.Path, outdir: pathlib.Path, config: Config, knowledge: Knowledge, **options: Any) -> RunSummary:
    options.setdefault("emit", lambda text: None)
    summary = run(
        RunOptions(
            path=str(path),
            outdir=str(outdir),
            config=config,
            offline=True,
            knowledge=knowledge,
            detections=all_detections(),
            **options,
        )
    )
    assert summary.complete, (summary.read, summary.processed)
    assert summary.read == summary.processed
    return summary


def check_same(lines: list[bytes], reference: list[bytes]) -> None:
    assert len(lines) == len(set(lines)), "an evidence line was written twice"
    missing = set(reference) - set(lines)
    extra = set(lines) - set(reference)
    assert not missing and not extra, (sorted(missing)[:3], sorted(extra)[:3])


@pytest.fixture(scope="module")
def references(datasets: pathlib.Path, tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> dict[str, Any]:
    out = {}
    for name in DATASETS:
        outdir = tmp_path_factory.mktemp(f"embedded-{name}")
        summary = run_folder(datasets / name, outdir, make_config(), knowledge)
        out[name] = (summary, read_alerts(outdir))
    # The probe must see something on the larger sets, or the comparison means little.
    assert any(b"PROBE_WINDOW" in line for line in out["test9-mixed-zeek-dir"][1])
    return out


@pytest.mark.parametrize(
    ("workers", "partitions", "batch_size"),
    [(1, 1, 500), (2, 2, 500), (3, 3, 7), (2, 5, 3)],
    ids=["1-worker", "2-workers", "3-workers-batch-7", "2-workers-5-partitions-batch-3"],
)
def test_n_workers_give_the_evidence_of_one_process(
    workers: int, partitions: int, batch_size: int, datasets: pathlib.Path, references: dict[str, Any],
    redis_url: str, key_prefix: str, tmp_path: pathlib.Path, knowledge: Knowledge,
) -> None:
    procs = [start_worker(redis_url, key_prefix, tmp_path / "logs") for _ in range(workers)]
    try:
        for name in DATASETS:
            config = make_config(key_prefix, batch_size=batch_size)
            summary = run_folder(
                datasets / name, tmp_path / name, config, knowledge, redis_url=redis_url, workers=0, partitions=partitions
            )
            reference_summary, reference_lines = references[name]
            assert summary.read == reference_summary.read
            assert summary.processed == reference_summary.processed
            assert summary.evidence == reference_summary.evidence
            check_same(read_alerts(tmp_path / name), reference_lines)
    finally:
        stats = [stop_worker(proc) for proc in procs]
    assert sum(s.get("batches", 0) for s in stats) > 0
    # Nothing of the runs is left in Redis.
    import redis

    client = redis.Redis.from_url(redis_url)
    assert list(client.scan_iter(f"{key_prefix}:*")) == []


# -- the benchmark data: larger, and a worker killed mid-run -------------------------------


def generated(tmp_path_factory: pytest.TempPathFactory, n: int) -> pathlib.Path:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import generate
    finally:
        sys.path.remove(str(BENCHMARKS))
    folder = tmp_path_factory.mktemp(f"bench-{n}")
    generate.generate(str(folder), n, seed=3)
    return folder


@pytest.fixture(scope="module")
def bench_30k(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> tuple[pathlib.Path, list[bytes]]:
    folder = generated(tmp_path_factory, 30_000)
    outdir = tmp_path_factory.mktemp("bench-30k-embedded")
    run_folder(folder, outdir, make_config(), knowledge)
    return folder, read_alerts(outdir)


def _owner_pid(client: Any, keys: Keys, index: int) -> int | None:
    token = client.get(keys.partition(index).lease)
    if not token:
        return None
    name = token.decode().rsplit(":", 1)[0]
    return int(name.rsplit("-", 2)[1])


def test_a_worker_killed_mid_run_is_replaced_and_nothing_is_lost_or_duplicated(
    bench_30k: tuple[pathlib.Path, list[bytes]], redis_url: str, key_prefix: str, tmp_path: pathlib.Path,
    knowledge: Knowledge,
) -> None:
    import redis

    folder, reference = bench_30k
    client = redis.Redis.from_url(redis_url)
    # Small batches, frequent checkpoints, a short lease, and a producer that
    # cannot run far ahead of the workers: the kill lands mid-run.
    config = make_config(
        key_prefix, batch_size=100, max_pending_messages=4, checkpoint_seconds=0.3, checkpoint_batches=10,
        lease_seconds=2.0,
    )
    procs = [start_worker(redis_url, key_prefix, tmp_path / "logs") for _ in range(2)]
    result: dict[str, Any] = {}
    notes: list[str] = []

    def produce() -> None:
        try:
            result["summary"] = run_folder(
                folder, tmp_path / "out", config, knowledge, redis_url=redis_url, workers=0, partitions=2,
                emit=notes.append,
            )
        except BaseException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    killed = None
    replacement = None
    try:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and producer.is_alive():
            run_ids = [run_id.decode() for run_id in client.smembers(f"{key_prefix}:runs")]
            for run_id in run_ids:
                keys = Keys(key_prefix, run_id)
                for index in range(2):
                    checkpoint = client.hgetall(keys.partition(index).ckpt)
                    if int(checkpoint.get(b"last", 0)) >= 20 and checkpoint.get(b"done") != b"1":
                        pid = _owner_pid(client, keys, index)
                        victim = next((proc for proc in procs if proc.pid == pid), None)
                        if victim is not None:
                            os.kill(victim.pid, signal.SIGKILL)
                            victim.wait()
                            killed = victim
                            break
                if killed is not None:
                    break
            time.sleep(0.05)
        assert killed is not None, "no worker could be killed mid-run"
        time.sleep(0.5)
        replacement = start_worker(redis_url, key_prefix, tmp_path / "logs")
        producer.join(timeout=300)
        assert not producer.is_alive(), "the run did not finish after the kill: " + "\n".join(
            [*notes[-20:], *(worker_log(proc)[-3000:] for proc in [*procs, replacement])]
        )
    finally:
        stats = [stop_worker(proc) for proc in procs if proc is not killed]
        if replacement is not None:
            stats.append(stop_worker(replacement))
        producer.join(timeout=60)
    assert "error" not in result, result.get("error")
    lines = read_alerts(tmp_path / "out")
    check_same(lines, reference)
    # The killed worker's partition really was restored from its checkpoint.
    assert sum(s.get("restored", 0) for s in stats) >= 1, stats
    assert killed.returncode == -signal.SIGKILL
    assert parse_stats(worker_log(killed)) == {}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_benchmark_100k_same_evidence_with_n_workers(
    workers: int, tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str,
    tmp_path: pathlib.Path, knowledge: Knowledge, bench_100k: tuple[pathlib.Path, list[bytes]],
) -> None:
    folder, reference = bench_100k
    procs = [start_worker(redis_url, key_prefix, tmp_path / "logs") for _ in range(workers)]
    try:
        run_folder(folder, tmp_path / "out", make_config(key_prefix), knowledge, redis_url=redis_url, workers=0,
                   partitions=workers)
    finally:
        for proc in procs:
            stop_worker(proc)
    check_same(read_alerts(tmp_path / "out"), reference)


@pytest.fixture(scope="module")
def bench_100k(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> tuple[pathlib.Path, list[bytes]]:
    folder = generated(tmp_path_factory, 100_000)
    outdir = tmp_path_factory.mktemp("bench-100k-embedded")
    run_folder(folder, outdir, make_config(), knowledge)
    return folder, read_alerts(outdir)
