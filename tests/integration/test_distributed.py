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
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from flowalerts.catalog import config_sections
from flowalerts.core.config import Config, parse_config
from flowalerts.hosts.distributed.streams import Keys
from flowalerts.hosts.standalone import RunOptions, run
from flowalerts.io.summary import RunSummary
from flowalerts.knowledge import Knowledge
from tests.integration.distributed_support import (
    all_detections,
    leftover_keys,
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
    assert leftover_keys(client, key_prefix) == []


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


# -- the command line: flowalerts run --redis URL --workers N ----------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowalerts", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_run_with_local_workers_from_the_command_line(
    datasets: pathlib.Path, redis_url: str, key_prefix: str, tmp_path: pathlib.Path
) -> None:
    folder = datasets / "test14-malicious-zeek-dir"
    embedded = _cli("run", "-f", str(folder), "-o", str(tmp_path / "embedded"), "--offline", "-q")
    assert embedded.returncode == 0, embedded.stderr
    config = tmp_path / "slips.yaml"
    config.write_text(f"redis:\n  key_prefix: {key_prefix}\n")
    url = redis_url.replace("redis://", "redis://:topsecret@") if "@" not in redis_url else redis_url
    distributed = _cli(
        "run", "-f", str(folder), "-o", str(tmp_path / "redis"), "--offline", "-q", "-c", str(config),
        "--redis", redis_url, "--workers", "2",
    )
    assert distributed.returncode == 0, distributed.stderr
    assert "2 partition(s), 2 local worker(s)" in distributed.stderr
    assert distributed.stderr.count("resources: worker") >= 1
    check_same(read_alerts(tmp_path / "redis"), read_alerts(tmp_path / "embedded"))
    # A password in the URL is never printed (the banner names the server).
    with_password = _cli(
        "run", "-f", str(folder), "-o", str(tmp_path / "x"), "--offline", "-q", "-c", str(config), "--redis", url,
        "--workers", "1",
    )
    assert "topsecret" not in with_password.stderr + with_password.stdout
    assert ":***@" in with_password.stderr


def test_an_unreachable_redis_is_one_line_and_exit_2(datasets: pathlib.Path, tmp_path: pathlib.Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _cli(
        "run", "-f", str(datasets / "test13-malicious-dhcpscan-zeek-dir"), "-o", str(tmp_path), "--offline", "-q",
        "--redis", f"redis://:topsecret@127.0.0.1:{port}/0",
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "topsecret" not in result.stderr
    assert "cannot connect to Redis" in result.stderr


def test_workers_without_a_redis_is_a_usage_error(datasets: pathlib.Path, tmp_path: pathlib.Path) -> None:
    result = _cli("run", "-f", str(datasets / "test13-malicious-dhcpscan-zeek-dir"), "-o", str(tmp_path), "--workers", "2")
    assert result.returncode == 2
    assert "need a Redis" in result.stderr


@pytest.mark.parametrize("command", ["run", "worker"])
def test_a_redis_url_with_a_database_that_is_no_number_is_a_usage_error(
    command: str, datasets: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # redis-py would silently use DB 0 for /abc; the password stays hidden.
    url = "redis://:topsecret@127.0.0.1:6379/abc"
    args = ("run", "-f", str(datasets / "test13-malicious-dhcpscan-zeek-dir"), "-o", str(tmp_path), "--offline", "-q",
            "--redis", url) if command == "run" else ("worker", "--redis", url)
    result = _cli(*args)
    assert result.returncode == 2
    assert result.stderr == (
        "flowalerts: error: invalid Redis URL redis://:***@127.0.0.1:6379/abc: the database must be a number (got 'abc')\n"
    )


def test_a_worker_without_a_redis_is_a_usage_error() -> None:
    result = _cli("worker", env={"FLOWALERTS_REDIS_URL": ""})
    assert result.returncode == 2
    assert "no Redis" in result.stderr


def test_dropped_connections_mid_run_lose_nothing_and_duplicate_nothing(
    bench_30k: tuple[pathlib.Path, list[bytes]], redis_server: Any, redis_url: str, key_prefix: str,
    tmp_path: pathlib.Path, knowledge: Knowledge,
) -> None:
    """Every client connection is killed (CLIENT KILL) three times mid-run:
    replies are lost (a delivered batch, an evidence write, a checkpoint);
    producer and workers reconnect and the output is still exact."""
    import redis

    if not redis_server.private:
        pytest.skip("kills every client of the server: only on the tests' own redis-server")
    folder, reference = bench_30k
    client = redis.Redis.from_url(redis_url)
    config = make_config(
        key_prefix, batch_size=100, max_pending_messages=4, checkpoint_seconds=0.3, checkpoint_batches=10,
        lease_seconds=3.0,
    )
    procs = [start_worker(redis_url, key_prefix, tmp_path / "logs") for _ in range(2)]
    result: dict[str, Any] = {}

    def produce() -> None:
        try:
            result["summary"] = run_folder(
                folder, tmp_path / "out", config, knowledge, redis_url=redis_url, workers=0, partitions=2
            )
        except BaseException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    kills = 0
    try:
        deadline = time.monotonic() + 120
        while kills < 3 and producer.is_alive() and time.monotonic() < deadline:
            batches = 0
            for run_id in client.smembers(f"{key_prefix}:runs"):
                keys = Keys(key_prefix, run_id.decode())
                batches = max(int(client.hget(keys.partition(0).ckpt, "last") or 0), batches)
            if batches >= 10 * (kills + 1):
                kills += client.client_kill_filter(_type="normal", skipme=True) and 1
            time.sleep(0.05)
        producer.join(timeout=300)
        assert not producer.is_alive(), "the run did not finish"
    finally:
        for proc in procs:
            stop_worker(proc)
        producer.join(timeout=60)
    assert kills >= 1, "the run ended before a connection could be killed"
    assert "error" not in result, result.get("error")
    check_same(read_alerts(tmp_path / "out"), reference)


def test_interrupting_a_run_that_waits_for_absent_workers_ends_it(
    datasets: pathlib.Path, redis_url: str, key_prefix: str, tmp_path: pathlib.Path
) -> None:
    """--workers 0 and no worker anywhere: SIGTERM must end the wait (exit
    130, keys removed), not leave the producer waiting for ever."""
    import redis

    config = tmp_path / "slips.yaml"
    config.write_text(f"redis:\n  key_prefix: {key_prefix}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowalerts", "run", "-f", str(datasets / "test9-mixed-zeek-dir"), "-o",
         str(tmp_path / "out"), "--offline", "-q", "-c", str(config), "--redis", redis_url, "--workers", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while not client.smembers(f"{key_prefix}:runs") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert leftover_keys(client, key_prefix) == []
