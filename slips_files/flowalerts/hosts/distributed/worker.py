"""A worker of a distributed run (``flowalerts worker --redis URL``).

A worker owns partitions (``flowalerts.hosts.distributed.producer``) by **lease**: a key with a
TTL holding ``<worker>:<epoch>``, renewed every few seconds. For each
partition it owns it reads the partition stream through the consumer group
``workers`` (its consumer name is unique: host, pid, random), runs the module
driver (role ``worker``: partition learners and detections; the global facts
arrive in the stream) and writes the evidence to the run's evidence stream.

**At least once, never twice.** Every ``checkpoint_batches`` batches or
``checkpoint_seconds`` (and at the end, and before handing a partition over)
the worker writes a **checkpoint**: the driver's whole state
(``State.snapshot``), its counters, the number of the last batch it
processed and of the last evidence it published. One script writes the
checkpoint, acknowledges the entries it covers and trims them from the
stream, and only if the lease is still the worker's (fencing: a worker that
was presumed dead cannot overwrite its successor). An entry is therefore
acknowledged only once its evidence is on the evidence stream and the state
it produced is in a checkpoint.

**A worker dies** (SIGKILL, OOM, machine lost): its leases expire
(``redis.lease_seconds``); another worker - or the same one restarted -
takes the partition, restores the checkpoint, claims the dead consumer's
pending entries (XAUTOCLAIM) and processes every batch after the checkpoint
again. Processing is deterministic, so it finds the same evidence with the
same numbers, and the producer drops the numbers it already has.

**Finished or lost.** A key of a run gone (meta, a stream, a checkpoint,
the evidence stream) ends the run for this worker: quietly when the run's
end marker is there, else as "lost" (a warning; a local worker leaves the
one error line to its producer). Evidence is written by a script that checks
the lease, and a checkpoint carries a checksum checked before its state is
unpickled: a failing one is replayed from the stream's start when the stream
holds it, else reported as fatal (``P:{R}:errors``) - never a crash loop.

**Balance.** A worker takes at most ``ceil(P / live workers)`` partitions
(live = heartbeat in the run's ``workers`` set), one per round, and hands
surplus partitions back (checkpoint, release) when more workers join.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import resource
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import redis

from flowalerts import __version__
from flowalerts.catalog import config_sections
from flowalerts.core.config import Config, parse_config
from flowalerts.core.evidence import escape_text, to_json
from flowalerts.engine.detection import Detection, Learner
from flowalerts.engine.driver import DriverCounters, ModuleDriver
from flowalerts.hosts.distributed.streams import (
    GROUP,
    BusError,
    Keys,
    PartitionKeys,
    Retrying,
    Scripts,
    batch_number,
    checkpoint_next_key,
    connect,
    lost_reply,
    worker_name,
)
from flowalerts.hosts.distributed.wire import (
    MESSAGE_TYPES,
    Done,
    EvidenceEntry,
    decode_batch,
    encode_evidence,
)
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups, make_lookups

# Batches read per call.
READ_COUNT = 8
# Evidence lines per entry of the evidence stream at the end of input.
PUBLISH_CHUNK = 2000
# A checkpoint blob being uploaded is dropped this long after its last piece
# (its worker died before storing it).
CHECKPOINT_UPLOAD_TTL_MS = 600_000
# Seconds after a run was created during which the producer's worker count
# (not only the live ones) sets how many partitions a worker takes.
STARTUP_GRACE_SECONDS = 20.0
# A worker given --run gives up when the run does not appear within this time.
RUN_APPEAR_SECONDS = 30.0

_MESSAGE_CLASSES = frozenset(MESSAGE_TYPES.values())


# A checkpoint's counters (the state itself is its own field: no copy).
_checkpoint_decoder = msgspec.msgpack.Decoder(DriverCounters)
_encoder = msgspec.msgpack.Encoder()


class _Gap(Exception):
    """A batch is missing (another consumer took it): reload from the checkpoint."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"expected batch {expected}, got {got}")
        self.expected = expected


# The same batch missing after this many reloads in a row: Redis lost it.
MAX_GAPS = 3


class _Gone(Exception):
    """A key of the run vanished: the run ended (end marker) or Redis lost it."""


def checkpoint_sum(last: int, seq: int, counters: bytes, done: int, pieces: list[bytes]) -> str:
    """The checksum a checkpoint carries (checked before its state is unpickled)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{last}:{seq}:{done}:{len(counters)}:".encode())
    digest.update(counters)
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


@dataclasses.dataclass
class RunInfo:
    keys: Keys
    partitions: int
    config: Config
    available_logs: set[str] | None
    offline: bool
    live: bool
    created: float
    hint: int
    lease_ms: int
    checkpoint_seconds: float
    checkpoint_batches: int
    knowledge: Knowledge
    lookups: Lookups
    done: set[int] = dataclasses.field(default_factory=set)
    # Partitions whose checkpoint failed its check and cannot be replayed.
    poisoned: set[int] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class Task:
    """One partition this worker owns."""

    run: RunInfo
    keys: PartitionKeys
    token: str
    # Set by Worker._load: a new driver, or one restored from the checkpoint.
    driver: ModuleDriver = dataclasses.field(init=False)
    last: int = 0  # last batch number processed
    seq: int = 0  # last evidence number published
    unacked: list[bytes] = dataclasses.field(default_factory=list)
    batches: int = 0  # processed since the last checkpoint
    checkpointed_at: float = 0.0
    pending: bool = True  # still reading this consumer's pending entries
    cursor: str = "0"
    finished: bool = False

    @property
    def index(self) -> int:
        return self.keys.index


class Worker:
    def __init__(
        self,
        url: str,
        prefix: str = "flowalerts",
        *,
        run_id: str | None = None,
        until_done: bool = False,
        reconnect_seconds: float = 30.0,
        detections: list[type[Detection]] | None = None,
        learners: list[type[Learner]] | None = None,
        emit: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
        name: str | None = None,
        base_dir: str | None = None,
        local: bool = False,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.run_id = run_id
        self.until_done = until_done or run_id is not None
        self.detections = detections
        self.learners = learners
        self.emit = emit or (lambda text: print(escape_text(text), file=sys.stderr))
        self.stop = stop or threading.Event()
        self.name = name or worker_name()
        self.base_dir = base_dir
        # A local worker (started by the producer) leaves the run's one error
        # line to the producer.
        self.local = local
        # Runs found gone: (run id, "finished" or "lost").
        self.gone: dict[str, str] = {}
        self.client = connect(url)
        # The raw XAUTOCLAIM reply (redis-py's parser drops the cursor of JUSTID).
        self.client.set_response_callback("XAUTOCLAIM", lambda response, **options: response)
        self.call = Retrying(self.client, reconnect_seconds)
        self.scripts = Scripts(self.client)
        self.runs: dict[str, RunInfo] = {}
        self.tasks: dict[tuple[str, int], Task] = {}
        self.seen_run = False
        self.started = time.monotonic()
        self.stats: Counter[str] = Counter()
        self._knowledge: dict[bytes, Knowledge] = {}
        # (run, partition) -> (the batch found missing, times in a row).
        self._gaps: dict[tuple[str, int], tuple[int, int]] = {}

    # -- main loop ------------------------------------------------------------------------------
    def serve(self) -> int:
        try:
            self._serve_loop()
        except BaseException as exc:
            # The state of a partition may be half-way through a batch: no
            # checkpoint; release the leases so another worker resumes from
            # the last checkpoint at once.
            if isinstance(exc, Exception):
                self._report_error(f"{type(exc).__name__}: {exc}")
            self._release_all()
            raise
        self._hand_back_all()
        # A worker of one run (--run) says whether that run was lost.
        return 1 if self.run_id is not None and self.gone.get(self.run_id) == "lost" else 0

    def _serve_loop(self) -> None:
        next_housekeeping = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_housekeeping:
                interval = self._housekeeping()
                next_housekeeping = time.monotonic() + interval
                if self._should_exit():
                    break
            worked = False
            tasks = list(self.tasks.values())
            block = 100 if len(tasks) == 1 else None
            for task in tasks:
                try:
                    worked |= self._step(task, block)
                except _Gone as exc:
                    self._gone(task, str(exc))
            if not worked and len(tasks) != 1:
                self.stop.wait(0.05 if tasks else 0.2)

    def _should_exit(self) -> bool:
        if not self.until_done:
            return False
        if self.run_id is not None and not self.seen_run:
            return time.monotonic() - self.started > RUN_APPEAR_SECONDS
        return self.seen_run and not self.runs

    def _report_error(self, message: str, task: Task | None = None, fatal: bool = False, lost: bool = False) -> None:
        """Leave an error where the producer finds it (its watchdog names it):
        under ``task``'s partition, else under every partition this worker
        holds (or its runs). Best effort: Redis may be what failed."""
        tasks = [task] if task is not None else list(self.tasks.values())
        targets = [(held.run.keys, f"p{held.index}") for held in tasks] or [
            (info.keys, "worker") for info in self.runs.values()
        ]
        for keys, field in targets:
            # 1: the partition cannot be recovered (exit 1); 2: Redis lost data (exit 2).
            level = (2 if lost else 1) if fatal and task is not None else 0
            try:
                self.scripts.report(keys=[keys.meta, keys.errors], args=[field, f"{self.name}: {message}"[:2000], level])
            except (redis.RedisError, OSError):
                pass

    def _release_all(self) -> None:
        for task in list(self.tasks.values()):
            try:
                self.client.evalsha(self.scripts.release.sha, 1, task.keys.lease, task.token)
            except (redis.RedisError, OSError):
                pass
        self.tasks.clear()

    def _hand_back_all(self) -> None:
        """On stop: checkpoint and release what we own, so others resume at once."""
        for task in list(self.tasks.values()):
            try:
                self._hand_back(task)
            except (BusError, _Gone, redis.RedisError, OSError):
                pass

    # -- runs, leases, balance ----------------------------------------------------------------------
    def _housekeeping(self) -> float:
        interval = 1.0
        run_ids = {self.run_id} if self.run_id else {
            value.decode() if isinstance(value, bytes) else value
            for value in self.call(self.client.smembers, f"{self.prefix}:runs")
        }
        for run_id in sorted(run_ids):
            if run_id not in self.runs and run_id not in self.gone:
                info = self._load_run(run_id)
                if info is not None:
                    self.runs[run_id] = info
                    self.seen_run = True
        for run_id, info in list(self.runs.items()):
            try:
                if not self.call(self.client.exists, info.keys.meta):
                    raise _Gone("meta")
                interval = min(interval, info.lease_ms / 3000.0)
                self._balance(run_id, info)
            except _Gone as exc:
                self._drop_run(run_id, info, str(exc))
        # Idle: look for new runs and free partitions often.
        return interval if self.tasks else min(interval, 0.2)

    def _load_run(self, run_id: str) -> RunInfo | None:
        keys = Keys(self.prefix, run_id)
        raw = self.call(self.client.hgetall, keys.meta)
        if not raw:
            return None
        meta = {key.decode(): value for key, value in raw.items()}
        version = meta.get("version", b"").decode()
        if version != __version__:
            self.emit(f"warning: run {run_id} was started by flowalerts {version}, this worker is {__version__}: skipped")
            return None
        doc = msgspec.json.decode(meta["config"])
        config, _ = parse_config(doc, base_dir=self.base_dir, sections=config_sections())
        logs = msgspec.json.decode(meta["available_logs"])
        offline = meta.get("offline") == b"1"
        # Loading the knowledge (ASN data, feeds) takes a while: once per configuration.
        knowledge = self._knowledge.get(meta["config"])
        if knowledge is None:
            knowledge = self._knowledge[meta["config"]] = Knowledge.load(config, notify=lambda text: None)
        return RunInfo(
            keys=keys,
            partitions=int(meta["partitions"]),
            config=config,
            available_logs=set(logs) if logs is not None else None,
            offline=offline,
            live=meta.get("live") == b"1",
            created=float(meta["created"]),
            hint=int(meta.get("workers", b"1")),
            lease_ms=int(meta["lease_ms"]),
            checkpoint_seconds=float(meta["checkpoint_seconds"]),
            checkpoint_batches=int(meta["checkpoint_batches"]),
            knowledge=knowledge,
            lookups=make_lookups(config, offline),
        )

    def _drop_run(self, run_id: str, info: RunInfo, what: str) -> None:
        """A key of the run is gone: it finished (its end marker is there), or
        Redis lost it / its producer died. Either way this worker writes
        nothing more for it (every key of the run expires by itself)."""
        for key in [key for key in self.tasks if key[0] == run_id]:
            self.tasks.pop(key)
        finished = bool(self.call(self.client.exists, info.keys.end))
        self.gone[run_id] = "finished" if finished else "lost"
        if not finished and not self.local:
            self.emit(f"warning: run {run_id} lost its keys in Redis ({what} gone, no end marker): dropped it")
        info.lookups.close()
        del self.runs[run_id]

    def _balance(self, run_id: str, info: RunInfo) -> None:
        now_ms = int(time.time() * 1000)
        live = int(self.call(
            self.scripts.heartbeat, keys=[info.keys.meta, info.keys.workers],
            args=[self.name, now_ms, now_ms - 3 * info.lease_ms],
        ))
        if live < 0:
            raise _Gone("meta")
        owned = [task for key, task in self.tasks.items() if key[0] == run_id]
        for task in owned:
            if not self.call(self.scripts.renew, keys=[task.keys.lease], args=[task.token, info.lease_ms]):
                self.emit(f"warning: lost the lease of partition {task.index} of run {run_id}; another worker has it")
                self.tasks.pop((run_id, task.index), None)
        owned = [task for key, task in self.tasks.items() if key[0] == run_id]
        divisor = live
        if time.time() - info.created < STARTUP_GRACE_SECONDS:
            divisor = max(live, info.hint)
        open_partitions = info.partitions - len(info.done)
        target = max(1, math.ceil(open_partitions / max(1, divisor)))
        if len(owned) > target:
            self._hand_back(owned[-1])
            return
        if len(owned) >= target:
            return
        mine = {task.index for task in owned}
        for index in range(info.partitions):
            if index in mine or index in info.done or index in info.poisoned:
                continue
            if self._acquire(run_id, info, index):
                return

    def _acquire(self, run_id: str, info: RunInfo, index: int) -> bool:
        keys = info.keys.partition(index)
        # One script: a finished run's keys are never recreated, a done
        # partition is never taken again.
        reply = self.call(
            self.scripts.acquire, keys=[keys.stream, keys.lease, keys.epoch, keys.ckpt], args=[self.name, info.lease_ms]
        )
        status = int(reply[0])
        if status == -2:
            info.done.add(index)
        if status == -1:
            raise _Gone(f"partition {index}'s stream, epoch or checkpoint")
        if status != 1:
            return False
        token = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        checkpoint = self.call(self.client.hgetall, keys.ckpt)
        task = Task(run=info, keys=keys, token=token)
        try:
            loaded = self._load(task, checkpoint)
        except redis.ResponseError as exc:
            if not lost_reply(exc):
                raise
            raise _Gone(f"partition {index}'s stream") from None
        if not loaded:
            return False
        self.tasks[(run_id, index)] = task
        self.stats["acquired"] += 1
        return True

    def _driver_options(self, info: RunInfo) -> dict[str, Any]:
        return {
            "knowledge": info.knowledge,
            "lookups": info.lookups,
            "detections": self.detections,
            "learners": self.learners,
            "available_logs": info.available_logs,
            "role": "worker",
            "live": info.live,
            "wall_clock": time.time,
            "notify": self.emit,
        }

    def _restore(self, task: Task, checkpoint: dict[bytes, bytes]) -> str | None:
        """Restore the checkpoint into ``task``: None, or why it cannot be
        (its checksum, checked before unpickling, or its content)."""
        info = task.run
        try:
            blob = checkpoint[b"blob"]
            last = int(checkpoint[b"last"])
            seq = int(checkpoint[b"seq"])
            done = int(checkpoint.get(b"done", b"0"))
            raw_counters = checkpoint[b"counters"]
            expected = checkpoint.get(b"sum", b"").decode(errors="replace")
        except (KeyError, ValueError) as exc:
            return f"incomplete: {exc}"
        if checkpoint_sum(last, seq, raw_counters, done, [blob]) != expected:
            return "checksum mismatch"
        try:
            counters = _checkpoint_decoder.decode(raw_counters)
            task.driver = ModuleDriver.restored(blob, counters, info.config, **self._driver_options(info))
        except Exception as exc:  # a checksum-valid state that still does not load
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        task.last, task.seq = last, seq
        return None

    def _load(self, task: Task, checkpoint: dict[bytes, bytes]) -> bool:
        """Restore the partition's checkpoint and take its pending entries.
        False: the checkpoint failed its check and the partition cannot be
        replayed (reported once; the partition is left alone)."""
        info = task.run
        replay = False
        if checkpoint.get(b"blob"):
            problem = self._restore(task, checkpoint)
            if problem is None:
                self.stats["restored"] += 1
            else:
                first = self.call(self.client.xrange, task.keys.stream, "-", "+", count=1)
                where = f"partition {task.index} of run {info.keys.run} (key {task.keys.ckpt})"
                if first and batch_number(first[0][0]) == 1:
                    # The stream still holds the partition's start: replay it all.
                    self.emit(f"warning: the checkpoint of {where} failed its check ({problem}): "
                              "replaying the partition from the start of its stream")
                    self._report_error(f"checkpoint failed its check ({problem}); replayed", task)
                    replay = True
                else:
                    message = (f"the checkpoint of {where} failed its check ({problem}) and its stream no longer "
                               "holds the partition's start: the partition cannot be recovered")
                    if not self.local:
                        self.emit(f"error: {message}")
                    self._report_error(message, task, fatal=True)
                    info.poisoned.add(task.index)
                    self.call(self.scripts.release, keys=[task.keys.lease], args=[task.token])
                    return False
        if replay or not checkpoint.get(b"blob"):
            task.driver = ModuleDriver(info.config, **self._driver_options(info))
            task.last = task.seq = 0
        task.unacked = []
        task.batches = 0
        task.checkpointed_at = time.monotonic()
        # Entries delivered to a consumer that died (or to us before a gap)
        # and never acknowledged become ours; we read them first.
        cursor = "0-0"
        while True:
            reply = self.call(
                self.client.execute_command,
                "XAUTOCLAIM", task.keys.stream, GROUP, self.name, 0, cursor, "COUNT", 1000, "JUSTID",
            )
            cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            if cursor == "0-0":
                break
        if replay:
            # Every entry again, through ">" (we hold the lease: the only consumer).
            self.call(self.client.xgroup_setid, task.keys.stream, GROUP, "0")
            task.pending = False
        else:
            task.pending = True
        task.cursor = "0"
        return True

    # -- processing -------------------------------------------------------------------------------
    def _step(self, task: Task, block: int | None) -> bool:
        """Read and process what is waiting for one partition; True if anything was."""
        stream = task.keys.stream
        try:
            if task.pending:
                reply = self.call(self.client.xreadgroup, GROUP, self.name, {stream: task.cursor}, count=READ_COUNT)
                entries = reply[0][1] if reply else []
                if not entries:
                    task.pending = False
                    return True
                last_id = entries[-1][0]
                task.cursor = last_id.decode() if isinstance(last_id, bytes) else last_id
            else:
                reply = self.call(
                    self.client.xreadgroup, GROUP, self.name, {stream: ">"}, count=READ_COUNT, block=block
                )
                entries = reply[0][1] if reply else []
        except redis.ResponseError as exc:
            if lost_reply(exc):
                self._gone(task, "stream")
                return False
            raise
        if entries:
            try:
                self._process(task, entries)
            except _Gap as gap:
                self.stats["gaps"] += 1
                key = (task.run.keys.run, task.index)
                expected, count = self._gaps.get(key, (0, 0))
                count = count + 1 if expected == gap.expected else 1
                self._gaps[key] = (gap.expected, count)
                if count >= MAX_GAPS:
                    # Not another consumer's: the batch is gone (Redis lost
                    # writes, e.g. restarted from a stale snapshot).
                    message = f"batch {gap.expected} of {task.keys.stream} is gone ({gap})"
                    if not self.local:
                        self.emit(f"error: {message}: Redis lost data of run {key[0]}")
                    self._report_error(message, task, fatal=True, lost=True)
                    task.run.poisoned.add(task.index)
                    self.call(self.scripts.release, keys=[task.keys.lease], args=[task.token])
                    self.tasks.pop(key, None)
                    return True
                try:
                    if not self._load(task, self.call(self.client.hgetall, task.keys.ckpt)):
                        self.tasks.pop((task.run.keys.run, task.index), None)
                except redis.ResponseError as exc:
                    if not lost_reply(exc):
                        raise
                    self._gone(task, "stream")
                return True
        if task.finished:
            return True
        due = task.batches and (
            task.batches >= task.run.checkpoint_batches
            or time.monotonic() - task.checkpointed_at >= task.run.checkpoint_seconds
        )
        if due:
            self._checkpoint(task)
        return bool(entries)

    def _gone(self, task: Task, what: str) -> None:
        """A key of the task's run vanished: drop the run (finished or lost)."""
        run_id = task.run.keys.run
        self.tasks.pop((run_id, task.index), None)
        if run_id in self.runs:
            self._drop_run(run_id, task.run, f"{task.keys.stream}: {what}")

    def _process(self, task: Task, entries: list[tuple[bytes, dict[bytes, bytes] | None]]) -> None:
        driver = task.driver
        found: list[Any] = []

        # Evidence is collected as it comes and published in entries of
        # PUBLISH_CHUNK: the end of input decides every pending timer and
        # window at once, and its evidence must not pile up in memory (a
        # restart from the checkpoint re-sends the same sequence numbers,
        # which the producer drops).
        def collect(evidence: Any) -> None:
            found.append(evidence)
            if len(found) >= PUBLISH_CHUNK:
                self._publish(task, found, None)
                found.clear()

        driver.emit = collect
        try:
            for entry_id, fields in entries:
                number = batch_number(entry_id)
                if number <= task.last:
                    task.unacked.append(entry_id)  # already in the checkpoint
                    continue
                if number != task.last + 1:
                    raise _Gap(task.last + 1, number)
                if not fields:
                    raise BusError(f"batch {number} of {task.keys.stream} is gone before it was processed")
                try:
                    items = decode_batch(fields[b"b"])
                except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
                    # Not ours or corrupt: counted (the run is degraded and read !=
                    # processed says records are missing), never retried forever.
                    driver.health.errors["bus:decode"] += 1
                    driver.health.first_traceback.setdefault("bus:decode", f"batch {number} of {task.keys.stream}: {exc}")
                    items = []
                for item in items:
                    if item.__class__ in _MESSAGE_CLASSES:
                        item.share_strings()
                driver.feed(items)
                task.last = number
                task.unacked.append(entry_id)
                task.batches += 1
                self.stats["batches"] += 1
        finally:
            driver.emit = None
        ended = driver.finished
        done = None
        if ended:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            done = Done(
                processed=dict(driver.processed),
                health=driver.health.to_builtins(),
                evidence=task.seq + len(found),
                worker=self.name,
                rss_kb=usage.ru_maxrss,
                cpu=usage.ru_utime + usage.ru_stime,
            )
        if found or done is not None:
            self._publish(task, found, done)
        if ended:
            if (task.run.keys.run, task.index) not in self.tasks:
                return  # lost the lease while publishing
            # The producer may have read `done` and removed the run's keys
            # already: then this checkpoint finds no lease, and nothing is lost.
            self._checkpoint(task, done=True, after_done=True)
            self.call(self.scripts.release, keys=[task.keys.lease], args=[task.token])
            task.run.done.add(task.index)
            task.finished = True
            self.tasks.pop((task.run.keys.run, task.index), None)

    def _publish(self, task: Task, evidences: list[Any], done: Done | None) -> None:
        lines = [to_json(evidence) for evidence in evidences]
        entry = EvidenceEntry(partition=task.index, first_seq=task.seq + 1, lines=lines, done=done)
        # Only while we hold the lease (a zombie writes nothing), never
        # re-creating the stream.
        status = int(self.call(
            self.scripts.publish, keys=[task.keys.lease, task.run.keys.evidence], args=[task.token, encode_evidence(entry)]
        ))
        if status == -1:
            raise _Gone("evidence stream")
        if status == 0:
            if self.tasks.pop((task.run.keys.run, task.index), None) is not None:
                self.emit(f"warning: lost the lease of partition {task.index}; its new owner resumes from its checkpoint")
            task.seq += len(lines)
            return
        task.seq += len(lines)
        self.stats["evidence"] += len(lines)

    def _checkpoint(self, task: Task, done: bool = False, after_done: bool = False) -> bool:
        # A finished partition is never resumed (its lease cannot be taken
        # again): its last checkpoint keeps the counters, not the state.
        counters, pieces = task.driver.snapshot(final=done)
        encoded_counters = _encoder.encode(counters)
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{task.last}:{task.seq}:{int(done)}:{len(encoded_counters)}:".encode())
        digest.update(encoded_counters)
        # The blob goes piece by piece at explicit offsets (SETRANGE: a retried
        # write lands at the same place), then the script moves it in at once.
        # Each piece is written with its TTL (a zombie's leftovers expire).
        next_key = checkpoint_next_key(task.keys.ckpt, task.token)
        self.call(self.client.delete, next_key)
        offset = 0
        for piece in pieces:
            digest.update(piece)

            def upload(piece: bytes = piece, offset: int = offset) -> Any:
                pipe = self.client.pipeline(transaction=True)
                pipe.setrange(next_key, offset, piece)
                pipe.pexpire(next_key, CHECKPOINT_UPLOAD_TTL_MS)
                return pipe.execute()

            self.call(upload)
            offset += len(piece)
        if not offset:
            self.call(self.client.set, next_key, b"", px=CHECKPOINT_UPLOAD_TTL_MS)
        ok = self.call(
            self.scripts.checkpoint,
            keys=[task.keys.lease, task.keys.ckpt, task.keys.stream, next_key],
            args=[task.token, task.last, task.seq, encoded_counters, int(done), digest.hexdigest(), *task.unacked],
        )
        if ok == -2:
            raise _Gone("checkpoint or stream")
        if ok == -1:
            raise BusError(f"the checkpoint blob of {task.keys.ckpt} vanished before it was stored")
        if not ok:
            held = self.tasks.pop((task.run.keys.run, task.index), None) is not None
            if held and not after_done:
                self.emit(
                    f"warning: lost the lease of partition {task.index}; its new owner resumes from its checkpoint"
                )
            return False
        task.unacked = []
        task.batches = 0
        task.checkpointed_at = time.monotonic()
        self.stats["checkpoints"] += 1
        return True

    def _hand_back(self, task: Task) -> None:
        if self._checkpoint(task):
            self.call(self.scripts.release, keys=[task.keys.lease], args=[task.token])
        self.tasks.pop((task.run.keys.run, task.index), None)


def install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass
