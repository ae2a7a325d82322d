"""Distributed runs under faults: never a hang, never a silent wrong answer.

Each case runs ``flowalerts run --redis URL --workers N`` as an operator
would (a subprocess, local workers), on a ``redis-server`` of its own (so it
can be killed, restarted or reconfigured), with short leases and reconnect
windows from the configuration, injects one fault mid-run, and asserts:

* either the evidence of the in-process run, exactly (exit 0);
* or exit 1/2 with exactly one ``flowalerts: error:`` line (no traceback,
  none from the local workers) within ``reconnect_seconds + 2 x
  lease_seconds`` + the watchdog margin of the fault;

and in both cases that no key of the run is left without a TTL.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from flowalerts.hosts.distributed.producer import WATCHDOG_MARGIN_SECONDS
from flowalerts.hosts.distributed.streams import Keys
from tests.conftest import _free_port, need
from tests.integration.distributed_support import keys_without_ttl, leftover_keys, read_alerts
from tests.integration.test_distributed import check_same, generated

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PREFIX = "fx"
LEASE = 2.0
RECONNECT = 3.0
# A faulted run must end this long after the fault at the latest: the
# watchdog's bound, then up to 5 s for the local workers to leave, and the
# heartbeat's period (2 s) and a process start (3 s) of slack.
BOUND = RECONNECT + 2 * LEASE + WATCHDOG_MARGIN_SECONDS + 10.0
CONFIG = f"""\
redis:
  key_prefix: {PREFIX}
  lease_seconds: {LEASE}
  reconnect_seconds: {RECONNECT}
  checkpoint_seconds: 0.3
  checkpoint_batches: 5
  batch_size: 25
  max_pending_messages: 3
"""
REPO = pathlib.Path(__file__).resolve().parents[2]


class Server:
    """A redis-server of one test, which the test may kill and restart."""

    def __init__(self, workdir: pathlib.Path, *args: str) -> None:
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        need(binary is not None, "redis-server is not installed (apt-get install redis-server)")
        assert binary is not None
        self.binary = binary
        self.workdir = workdir
        self.args = args
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except (redis.RedisError, OSError):
                assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=2)


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[Server]:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="flowalerts-faults-"))
    server = Server(workdir)
    yield server
    server.kill()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[bytes]]:
    """A generated data set and the evidence of its in-process run."""
    folder = generated(tmp_path_factory, 3000)
    outdir = tmp_path_factory.mktemp("faults-embedded")
    done = subprocess.run(
        [sys.executable, "-m", "flowalerts", "run", "-f", str(folder), "-o", str(outdir), "--offline", "-q"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return folder, read_alerts(outdir)


class Run:
    """``flowalerts run --redis`` in a subprocess."""

    def __init__(self, folder: pathlib.Path, outdir: pathlib.Path, url: str, workers: int = 2) -> None:
        config = outdir.parent / f"{outdir.name}.yaml"
        config.write_text(CONFIG)
        self.stderr_path = outdir.parent / f"{outdir.name}.stderr"
        self.outdir = outdir
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flowalerts", "run", "-f", str(folder), "-o", str(outdir), "--offline", "-q",
                 "-c", str(config), "--redis", url, "--workers", str(workers)],
                stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO,
            )
        self.started = time.monotonic()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def run_id(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"note: run ([0-9a-f]{12}) on", self.stderr)
            if found:
                return found.group(1)
            assert self.proc.poll() is None, self.stderr
            time.sleep(0.05)
        raise AssertionError("no run id: " + self.stderr)

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the run did not end within {timeout:.0f}s: it hangs\n{self.stderr}") from None


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def checkpointed(client: Any, keys: Keys, index: int, batches: int = 3) -> bool:
    """Partition ``index`` has a checkpoint past batch ``batches``, and more to do."""
    last = client.hget(keys.partition(index).ckpt, "last")
    return last is not None and int(last) >= batches and client.hget(keys.partition(index).ckpt, "done") != b"1"


def owner_pid(client: Any, keys: Keys, index: int) -> int | None:
    token = client.get(keys.partition(index).lease)
    if not token:
        return None
    return int(token.decode().rsplit(":", 1)[0].rsplit("-", 2)[1])


def assert_exact(run: Run, reference: list[bytes], timeout: float = 120.0) -> None:
    code = run.wait(timeout)
    assert code == 0, run.stderr
    assert "Traceback" not in run.stderr and "error:" not in run.stderr, run.stderr
    check_same(read_alerts(run.outdir), reference)


def assert_one_line(run: Run, code: int, pattern: str, fault_at: float) -> str:
    got = run.wait(BOUND + 30)
    elapsed = time.monotonic() - fault_at
    stderr = run.stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert got == code, stderr
    assert "Traceback" not in stderr, stderr
    assert len(errors) == 1 and errors[0].startswith("flowalerts: error: "), stderr
    assert re.search(pattern, errors[0]), errors[0]
    assert elapsed <= BOUND, f"ended {elapsed:.1f}s after the fault (bound {BOUND:.0f}s)"
    # Its local workers are gone too.
    assert not run.workers()
    return errors[0]


def assert_no_key_without_ttl(server: Server) -> None:
    client = server.client()
    assert keys_without_ttl(client, PREFIX) == []


# -- the run goes on: same evidence -------------------------------------------------------


def test_a_worker_killed_mid_run_changes_nothing(data: Any, server: Server, tmp_path: pathlib.Path) -> None:
    folder, reference = data
    run = Run(folder, tmp_path / "out", server.url)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    wait_until(lambda: checkpointed(client, keys, 0) and owner_pid(client, keys, 0), "a checkpoint of partition 0")
    victim = owner_pid(client, keys, 0)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    assert_exact(run, reference)
    assert "local worker" in run.stderr and "restarting it" in run.stderr
    assert leftover_keys(client, PREFIX) == []


def test_a_worker_paused_past_its_lease_is_fenced_and_writes_nothing_after(
    data: Any, server: Server, tmp_path: pathlib.Path
) -> None:
    folder, reference = data
    run = Run(folder, tmp_path / "out", server.url)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    wait_until(lambda: checkpointed(client, keys, 1) and owner_pid(client, keys, 1), "a checkpoint of partition 1")
    victim = owner_pid(client, keys, 1)
    assert victim is not None
    os.kill(victim, signal.SIGSTOP)
    try:
        time.sleep(2.5 * LEASE)
    finally:
        os.kill(victim, signal.SIGCONT)
    assert_exact(run, reference)
    # The zombie woke up (maybe after the end): it re-created nothing.
    time.sleep(1.0)
    assert leftover_keys(client, PREFIX) == []


def test_a_corrupt_checkpoint_is_reported_once_and_never_crash_loops(
    data: Any, server: Server, tmp_path: pathlib.Path
) -> None:
    """The checkpoint's bytes change (still a valid pickle or not: the
    checksum decides before unpickling), and its owner dies: the next owner
    replays the partition from its stream's start when the stream still holds
    it (exact evidence), else the run stops with one line naming the
    partition and the key (exit 1) - no traceback, no crash loop."""
    folder, reference = data
    run = Run(folder, tmp_path / "out", server.url)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    ckpt = keys.partition(0).ckpt
    wait_until(lambda: checkpointed(client, keys, 0) and owner_pid(client, keys, 0), "a checkpoint of partition 0")
    victim = owner_pid(client, keys, 0)
    assert victim is not None
    os.kill(victim, signal.SIGSTOP)
    blob = client.hget(ckpt, "blob")
    client.hset(ckpt, "blob", blob[:-1] + bytes([blob[-1] ^ 1]))
    os.kill(victim, signal.SIGKILL)
    fault_at = time.monotonic()
    code = run.wait(BOUND + 60)
    stderr = run.stderr
    assert "Traceback" not in stderr, stderr
    if code == 0:
        check_same(read_alerts(run.outdir), reference)
    else:
        line = assert_one_line(run, 1, rf"checkpoint of partition 0 .*\(key {re.escape(ckpt)}\) failed its check", fault_at)
        assert "checksum mismatch" in line
    assert stderr.count("failed its check") <= 1
    assert_no_key_without_ttl(server)


def test_a_corrupt_checkpoint_whose_stream_holds_the_start_is_replayed_exactly(
    data: Any, server: Server, tmp_path: pathlib.Path
) -> None:
    """No worker yet (``--workers 0``): the partition's stream still holds
    batch 1 when a worker finds a checkpoint that fails its checksum (here a
    forged one that would claim 5 batches done). It says so once and replays
    the partition from batch 1: the evidence is exact."""
    folder, reference = data
    run = Run(folder, tmp_path / "out", server.url, workers=0)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    part = keys.partition(0)
    wait_until(lambda: client.xlen(part.stream) >= 3, "batches waiting for a worker")
    client.hset(part.ckpt, mapping={"last": 5, "seq": 2, "blob": b"\x80\x05N.", "counters": b"\x80", "done": 0,
                                    "sum": "0" * 32})
    with (tmp_path / "worker.stderr").open("wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flowalerts", "worker", "--redis", server.url, "--run", run.run_id(), "-c",
             str(tmp_path / "out.yaml")],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO,
        )
    try:
        assert_exact(run, reference)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    said = (tmp_path / "worker.stderr").read_text()
    assert "Traceback" not in said, said
    warnings = [line for line in said.splitlines() if "failed its check" in line]
    assert len(warnings) == 1, said
    assert warnings[0] == (
        f"warning: the checkpoint of partition 0 of run {keys.run} (key {part.ckpt}) failed its check "
        "(checksum mismatch): replaying the partition from the start of its stream"
    )
    assert leftover_keys(client, PREFIX) == []


def test_a_redis_restarted_with_persistence_changes_nothing(data: Any, tmp_path: pathlib.Path) -> None:
    """``appendfsync always``: Redis comes back within reconnect_seconds with
    every acknowledged write; the run goes on and is exact."""
    folder, reference = data
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="flowalerts-faults-"))
    server = Server(workdir, "--appendonly", "yes", "--appendfsync", "always")
    try:
        run = Run(folder, tmp_path / "out", server.url)
        client = server.client()
        keys = Keys(PREFIX, run.run_id())
        wait_until(lambda: checkpointed(client, keys, 0), "a checkpoint of partition 0")
        server.kill()
        time.sleep(RECONNECT / 3)
        server.start()
        assert_exact(run, reference)
        assert leftover_keys(server.client(), PREFIX) == []
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


# -- Redis loses the run's keys: exit 2, one line ---------------------------------------------

LOST = r"^flowalerts: error: Redis lost this run's keys mid-run \("


def test_a_redis_restarted_without_persistence_is_one_line_and_exit_2(
    data: Any, server: Server, tmp_path: pathlib.Path
) -> None:
    folder, _ = data
    run = Run(folder, tmp_path / "out", server.url)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    wait_until(lambda: checkpointed(client, keys, 0), "a checkpoint of partition 0")
    server.kill()
    fault_at = time.monotonic()
    time.sleep(RECONNECT / 3)
    server.start()
    assert_one_line(run, 2, LOST, fault_at)
    assert_no_key_without_ttl(server)


def test_eviction_of_the_runs_keys_is_one_line_and_exit_2(tmp_path: pathlib.Path, data: Any) -> None:
    """allkeys-lru: a warning at start names the setting; when memory runs
    short mid-run, Redis evicts keys of the run: the run stops with one line
    (exit 2), or, when only keys it can rebuild went (a lease, a heartbeat),
    ends exact. Never re-created streams, never a hang."""
    folder, reference = data
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="flowalerts-faults-"))
    server = Server(workdir, "--maxmemory", "200mb", "--maxmemory-policy", "allkeys-lru")
    try:
        client = server.client()
        baseline = int(client.info("memory")["used_memory"])
        run = Run(folder, tmp_path / "out", server.url)
        keys = Keys(PREFIX, run.run_id())
        wait_until(lambda: checkpointed(client, keys, 0), "a checkpoint of partition 0")
        used = int(client.info("memory")["used_memory"])
        # Redis evicts (LRU) until the run's data fits in half of what it uses.
        client.config_set("maxmemory", baseline + max(1, (used - baseline) // 2))
        fault_at = time.monotonic()
        code = run.wait(BOUND + 60)
        warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: Redis maxmemory-policy")]
        assert len(warnings) == 1 and "allkeys-lru" in warnings[0], run.stderr
        if code == 0:
            check_same(read_alerts(run.outdir), reference)
        else:
            assert_one_line(run, 2, LOST + "|^flowalerts: error: Redis refused a write", fault_at)
        client.config_set("maxmemory", 0)
        assert_no_key_without_ttl(server)
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_full_redis_without_eviction_is_one_line_and_exit_2(tmp_path: pathlib.Path, data: Any) -> None:
    """noeviction: a full Redis refuses writes; the producer says so in one
    line naming the refusal, its workers print nothing of their own (before:
    a worker's traceback)."""
    folder, _ = data
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="flowalerts-faults-"))
    server = Server(workdir, "--maxmemory", "200mb", "--maxmemory-policy", "noeviction")
    try:
        client = server.client()
        run = Run(folder, tmp_path / "out", server.url)
        keys = Keys(PREFIX, run.run_id())
        wait_until(lambda: checkpointed(client, keys, 0), "a checkpoint of partition 0")
        client.config_set("maxmemory", max(1, int(client.info("memory")["used_memory"]) // 2))
        fault_at = time.monotonic()
        code = run.wait(BOUND + 30)
        # The producer's own write refused (exit 2), or its workers' writes
        # refused until the watchdog stops the run (exit 1) naming the error.
        line = assert_one_line(
            run, code, LOST + "|^flowalerts: error: Redis refused a write|^flowalerts: error: no worker left", fault_at
        )
        assert code in (1, 2) and ("maxmemory" in line or "is gone" in line), line
        assert "warning: Redis maxmemory-policy" not in run.stderr
        client.config_set("maxmemory", 0)
        assert_no_key_without_ttl(server)
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_deleted_partition_stream_is_one_line_and_exit_2(data: Any, server: Server, tmp_path: pathlib.Path) -> None:
    folder, _ = data
    run = Run(folder, tmp_path / "out", server.url)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    wait_until(lambda: checkpointed(client, keys, 1), "a checkpoint of partition 1")
    client.delete(keys.partition(1).stream)
    fault_at = time.monotonic()
    line = assert_one_line(run, 2, LOST, fault_at)
    assert keys.partition(1).stream in line
    # Never re-created (a producer's XADD would re-create it without its group).
    assert not client.exists(keys.partition(1).stream)
    assert_no_key_without_ttl(server)


def test_a_batch_lost_by_redis_is_one_line_and_exit_2(data: Any, server: Server, tmp_path: pathlib.Path) -> None:
    """A batch vanished from its stream (Redis lost a write: a stale snapshot,
    ``appendfsync everysec``): the worker finds the same gap again after
    reloading, says so, and the producer stops with the one line - no endless
    reload loop under a live lease, which the watchdog could not see."""
    folder, _ = data
    run = Run(folder, tmp_path / "out", server.url, workers=0)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    part = keys.partition(0)
    wait_until(lambda: client.xlen(part.stream) >= 3, "batches waiting for a worker")
    assert client.xdel(part.stream, "2-1") == 1
    with (tmp_path / "worker.stderr").open("wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flowalerts", "worker", "--redis", server.url, "--run", run.run_id(), "-c",
             str(tmp_path / "out.yaml")],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO,
        )
    fault_at = time.monotonic()
    try:
        line = assert_one_line(run, 2, LOST, fault_at)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert f"batch 2 of {part.stream} is gone (expected batch 2, got 3)" in line
    said = (tmp_path / "worker.stderr").read_text()
    assert "Traceback" not in said and said.count("is gone") == 1, said
    assert_no_key_without_ttl(server)


# -- no live worker: the watchdog -------------------------------------------------------------


def test_workers_that_all_stay_stopped_are_one_line_and_exit_1(
    data: Any, server: Server, tmp_path: pathlib.Path
) -> None:
    folder, _ = data
    run = Run(folder, tmp_path / "out", server.url, workers=1)
    client = server.client()
    keys = Keys(PREFIX, run.run_id())
    wait_until(lambda: checkpointed(client, keys, 0), "a checkpoint")
    workers = run.workers()
    assert workers
    for worker in workers:
        worker.suspend()
    fault_at = time.monotonic()
    try:
        assert_one_line(run, 1, r"no live worker made progress on partition 0 of run", fault_at)
    finally:
        for worker in workers:
            try:
                worker.kill()
            except psutil.NoSuchProcess:
                pass
    assert_no_key_without_ttl(server)


# -- the producer dies ------------------------------------------------------------------------


def test_a_killed_producer_leaves_only_expiring_keys_and_a_rerun_is_exact(
    data: Any, server: Server, tmp_path: pathlib.Path
) -> None:
    folder, reference = data
    run = Run(folder, tmp_path / "out", server.url)
    client = server.client()
    run_id = run.run_id()
    keys = Keys(PREFIX, run_id)
    wait_until(lambda: checkpointed(client, keys, 0), "a checkpoint of partition 0")
    orphans = run.workers()
    run.proc.kill()
    run.proc.wait()
    # Everything the run left expires by itself (60 s after the last heartbeat).
    left = [key.decode() for key in client.scan_iter(f"{PREFIX}:*") if key != f"{PREFIX}:runs".encode()]
    assert left and keys_without_ttl(client, PREFIX) == []
    # A rerun starts over, beside the old run's keys, and is exact.
    rerun = Run(folder, tmp_path / "rerun", server.url)
    assert rerun.run_id() != run_id
    assert_exact(rerun, reference)
    # --cleanup removes the old run now; its orphaned workers then leave, silently.
    cleaned = subprocess.run(
        [sys.executable, "-m", "flowalerts", "run", "--redis", server.url, "--cleanup", run_id, "-c",
         str(tmp_path / "out.yaml")],
        capture_output=True, text=True, timeout=60,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert re.fullmatch(rf"run {run_id}: deleted \d+ key\(s\) on redis://127\.0\.0\.1:\d+/0\n", cleaned.stderr)
    assert leftover_keys(client, PREFIX) == []
    _, alive = psutil.wait_procs(orphans, timeout=10)
    for proc in alive:
        proc.kill()
    assert not alive, "orphaned workers did not leave after --cleanup"
