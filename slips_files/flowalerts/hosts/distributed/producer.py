"""The producer of a distributed run (``flowalerts run --redis URL``).

Reader -> profiler -> the global learners (driver role ``producer``) ->
partition streams on Redis; evidence stream -> sink. The workers
(``flowalerts.hosts.distributed.worker``) do the rest.

**Partitions.** A record goes to partition ``crc32(profile) % P``: every
record, window and timer of a profile lives in one partition, which one
worker at a time owns. What a detection needs beyond its own profile is a
*global fact* (DNS resolutions and CNAMEs, PTR names, SNI, learned DNS /
DHCP / DoH servers, MAC table, local network): the producer learns it once
and appends it to *every* partition right before the record it came from.
``Advance`` (flow time) goes to every partition too, ``TwClosed`` to the
profile's partition. So each partition sees exactly the sequence a single
process would see, filtered to its profiles: the same evidence, whatever the
number of workers and whatever ``redis.batch_size``.

**Batches.** Items are buffered per partition and written as one stream
entry per ``redis.batch_size`` items, with an explicit entry id (the batch
number): a retried write cannot add a duplicate, and a worker notices a gap.
The producer waits while a partition holds more than
``redis.max_pending_messages`` entries (workers trim what they checkpointed),
so Redis memory stays bounded whatever the input size.

**Evidence.** Workers number each partition's evidence; the producer drops a
number it already wrote (a worker restarted from its checkpoint replays the
batches after it and finds the same evidence again), then hands the evidence
to the sink. The run ends when every partition reported ``done``; then the
run's end marker is written and every other key of the run is deleted.

**Faults.** Every heartbeat (``HEARTBEAT_SECONDS``) refreshes the TTL of
every key of the run; one that is gone (without the end marker, which only
``close`` writes) means Redis lost the run: ``RunLost``, exit 2. The
watchdog (``_watchdog``) stops a run whose open partition has work waiting
and neither progress nor a lease held by a live worker for 2 x
``lease_seconds`` + ``WATCHDOG_MARGIN_SECONDS``: ``Stalled``, exit 1, naming
the partition and the last error a worker reported (``P:{R}:errors``).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import redis
from redis.typing import EncodableT, FieldT

from flowalerts import __version__
from flowalerts.catalog import load_components
from flowalerts.core.config import Config
from flowalerts.core.evidence import decode_evidence
from flowalerts.core.health import Health
from flowalerts.core.messages import Advance, Dispatcher, Message, TwClosed
from flowalerts.engine.detection import Detection, skipped_detections
from flowalerts.engine.driver import ModuleDriver
from flowalerts.engine.profiler import Profiler
from flowalerts.hosts.distributed.streams import (
    END_TTL_SECONDS,
    GROUP,
    META_TTL_SECONDS,
    BusError,
    Keys,
    Retrying,
    RunLost,
    Stalled,
    batch_id,
    batch_number,
    connect,
    ensure_group,
    lost_reply,
    new_run_id,
    redact,
    worker_host,
)
from flowalerts.hosts.distributed.wire import (
    END,
    Done,
    advance_item,
    decode_evidence_entry,
    encode_batch,
    message_item,
    tw_closed_item,
)
from flowalerts.io.sink import EvidenceSink
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups

# Environment variable a worker reads its Redis URL from (never on a command
# line, where ``ps`` would show a password).
URL_ENV = "FLOWALERTS_REDIS_URL"
# Local workers resolve the config's relative data paths (feeds, whitelist)
# against the producer's config folder, not their own working directory.
DATA_DIR_ENV = "FLOWALERTS_DATA_DIR"
# Set for local workers: they leave the run's one error line to the producer,
# and write their fatal error to the file named by ERROR_FILE_ENV instead.
LOCAL_ENV = "FLOWALERTS_LOCAL_WORKER"
ERROR_FILE_ENV = "FLOWALERTS_WORKER_ERROR_FILE"
# How often (seconds) the producer reads evidence and refreshes its heartbeat
# (and the TTLs of every key of the run: META_TTL_SECONDS).
PUMP_SECONDS = 0.2
HEARTBEAT_SECONDS = 2.0
# The watchdog stops a run when no live worker made progress on an open
# partition for 2 x lease_seconds + this margin (seconds).
WATCHDOG_MARGIN_SECONDS = 10.0
# Local workers that die are restarted at most this many times each.
MAX_RESTARTS = 5
WAIT_NOTE_SECONDS = 30.0


def _group_of(groups: Any) -> dict[Any, Any] | None:
    if isinstance(groups, list):
        for group in groups:
            if isinstance(group, dict) and group.get("name") in (GROUP, GROUP.encode()):
                return group
    return None


def _delivered(groups: Any) -> int:
    """The last batch number the workers' consumer group was given."""
    group = _group_of(groups)
    if group is None:
        return 0
    return batch_number(group.get("last-delivered-id") or b"0-0")


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def durability_warning(client: redis.Redis) -> str | None:
    """One warning when Redis may evict this run's keys (None: fine, or not known)."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "noeviction")
        maxmemory = int(client.config_get("maxmemory").get("maxmemory", 0) or 0)
    except (redis.RedisError, OSError, ValueError):
        return None  # CONFIG disabled (managed Redis): nothing to say
    if policy != "noeviction" and maxmemory > 0:
        return (
            f"warning: Redis maxmemory-policy is {policy} (maxmemory {maxmemory}): eviction can drop this run's "
            "keys, which stops it (exit 2); set maxmemory-policy noeviction"
        )
    return None


def partition_of(profile: str, partitions: int) -> int:
    """Stable across processes and machines (unlike ``hash``)."""
    return zlib.crc32(profile.encode("utf-8", "surrogatepass")) % partitions


def config_document(config: Config) -> dict[str, Any]:
    """The run's configuration as plain data, for the workers (no Redis URL)."""
    doc = msgspec.to_builtins(config)
    doc.pop("base_dir", None)
    doc["redis"]["url"] = None
    return doc


@dataclasses.dataclass
class DistributedOptions:
    url: str
    workers: int = 1
    partitions: int = 0
    offline: bool = True
    live: bool = False
    available_logs: set[str] | None = None
    quiet: bool = False
    # Extra arguments for local worker processes (tests, benchmarks).
    worker_command: list[str] | None = None


class DistributedPipeline:
    """Profiler -> global learners -> partition streams; evidence stream -> sink."""

    def __init__(
        self,
        config: Config,
        sink: EvidenceSink,
        options: DistributedOptions,
        *,
        knowledge: Knowledge,
        lookups: Lookups,
        warn: Callable[[str, str], None],
        emit: Callable[[str], None],
        detections: list[type[Detection]] | None = None,
    ) -> None:

        self.config = config
        self.sink = sink
        self.options = options
        self.emit = emit
        redis_config = config.redis
        self.batch_size = max(1, redis_config.batch_size)
        self.max_pending = max(2, redis_config.max_pending_messages)
        workers = max(0, options.workers)
        self.partitions = max(1, options.partitions or redis_config.partitions or workers or 1)
        self.profiler = Profiler.from_config(config, warn=warn)
        self.driver = ModuleDriver(
            config, knowledge, lookups, role="producer", available_logs=options.available_logs,
            live=options.live, wall_clock=time.time, notify=emit,
        )
        all_detections = detections if detections is not None else list(load_components()[0].values())
        self.health = Health()
        self.health.skipped.update(skipped_detections(all_detections, options.available_logs))
        self.processed: Counter[str] = Counter()
        self.redelivered = 0
        self.evidence_gaps = 0

        self.client = connect(options.url)
        self.call = Retrying(self.client, redis_config.reconnect_seconds)
        self.run_id = new_run_id()
        self.keys = Keys(redis_config.key_prefix, self.run_id)
        self.streams = [self.keys.partition(index).stream for index in range(self.partitions)]
        self._buffers: list[list[Any]] = [[] for _ in range(self.partitions)]
        self._dispatch = Dispatcher(
            message=self._route_message, window_closed=self._route_window_closed, advance=self._route_advance
        )
        self._batches = [0] * self.partitions
        self._part_cache: dict[str, int] = {}
        self._seen_seq = [0] * self.partitions
        self._done: dict[int, Done] = {}
        self._evidence_cursor = "0-0"
        self._next_pump = 0.0
        self._next_heartbeat = 0.0
        self._counter = 0
        self._closed = False
        # Watchdog: when each open partition was first seen without progress.
        self._stall_since: dict[int, float] = {}
        self._stall_signature: dict[int, Any] = {}
        self._error_when_fine: dict[int, Any] = {}
        self._ever_live = False
        self._dead_pids: set[int] = set()
        self._last_exit = ""
        self.host = worker_host()
        # The runner's signal flag (raised, count): set by flowalerts.hosts.standalone.
        self.stop_flag: Any = None
        self._create_run(workers)
        self.procs: list[subprocess.Popen[bytes] | None] = []
        self.restarts: Counter[int] = Counter()
        # Where local workers leave their last error (for the watchdog's line).
        self._error_dir = tempfile.mkdtemp(prefix="flowalerts-workers-") if workers else ""
        for slot in range(workers):
            self.procs.append(self._spawn(slot))
        where = redact(options.url)
        emit(
            f"note: run {self.run_id} on {where}: {self.partitions} partition(s), {workers} local worker(s)"
            + ("" if workers else f"; start workers with: flowalerts worker --redis {where}")
        )

    # -- setup ------------------------------------------------------------------------------
    def _create_run(self, workers: int) -> None:
        keys, call, client = self.keys, self.call, self.client
        warning = durability_warning(client)
        if warning:
            self.emit(warning)
        self._sweep_stale_runs()
        for stream in self.streams:
            ensure_group(call, client, stream)
        # The evidence stream exists from the start (a group of its own), so
        # a worker's write never creates it: a missing one means "lost".
        ensure_group(call, client, keys.evidence, "producer")
        lease = max(1.0, self.config.redis.lease_seconds)
        meta: dict[FieldT, EncodableT] = {
            "version": __version__,
            "partitions": self.partitions,
            "workers": workers or self.partitions,
            "config": msgspec.json.encode(config_document(self.config)),
            "available_logs": msgspec.json.encode(sorted(self.options.available_logs) if self.options.available_logs is not None else None),
            "offline": int(self.options.offline),
            "live": int(self.options.live),
            "created": time.time(),
            "lease_ms": int(lease * 1000),
            "checkpoint_seconds": self.config.redis.checkpoint_seconds,
            "checkpoint_batches": max(1, self.config.redis.checkpoint_batches),
        }
        pipe = client.pipeline(transaction=True)
        for index in range(self.partitions):
            part = keys.partition(index)
            pipe.set(part.epoch, 0, ex=META_TTL_SECONDS)
            pipe.hset(part.ckpt, mapping={b"last": 0, b"seq": 0, b"done": 0})
        pipe.hset(keys.meta, mapping=meta)
        for key in self._ttl_keys():
            pipe.expire(key, META_TTL_SECONDS)
        pipe.sadd(keys.runs, self.run_id)
        call(pipe.execute)

    def _ttl_keys(self) -> list[str]:
        """The run's keys that must exist for the whole run (their TTL is
        refreshed with the heartbeat: a killed producer leaves them 60 s)."""
        keys = [self.keys.meta, self.keys.evidence]
        for index in range(self.partitions):
            part = self.keys.partition(index)
            keys.extend((part.stream, part.epoch, part.ckpt))
        return keys

    def _sweep_stale_runs(self) -> None:
        """Ids in ``P:runs`` whose meta expired (a killed producer's run)."""
        try:
            for value in self.client.smembers(self.keys.runs):
                run = _text(value)
                if not self.client.exists(Keys(self.keys.prefix, run).meta):
                    self.client.srem(self.keys.runs, run)
        except (redis.RedisError, OSError):
            pass

    def _spawn(self, slot: int) -> subprocess.Popen[bytes]:
        command = self.options.worker_command or [sys.executable, "-m", "flowalerts"]
        args = [*command, "worker", "--run", self.run_id, "--prefix", self.keys.prefix]
        if self.options.quiet:
            args.append("-q")
        env = {
            **os.environ, URL_ENV: self.options.url, DATA_DIR_ENV: self.config.base_dir, LOCAL_ENV: "1",
            ERROR_FILE_ENV: self._error_file(slot),
        }
        # Own session: a Ctrl-C in the terminal reaches the producer only, which
        # settles the run; workers leave when the run's keys are gone.
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, start_new_session=True)

    def _error_file(self, slot: int) -> str:
        return os.path.join(self._error_dir, f"worker-{slot}.err")

    def _worker_error(self, slot: int) -> str:
        try:
            with open(self._error_file(slot), encoding="utf-8", errors="replace") as file:
                return file.read(2000).strip()
        except OSError:
            return ""

    # -- the Pipeline interface (flowalerts.hosts.standalone) ----------------------------------------------
    def feed(self, record: Any, where: str = "", wall_now: float | None = None) -> None:
        self._dispatch(self.profiler.assign(record, where))
        if wall_now is not None:
            self.profiler.note_wall(wall_now)
        self._counter += 1
        if self._counter & 1023 == 0:
            self._tick()

    def idle(self, wall_now: float | None = None) -> None:
        self._dispatch(self.profiler.flush())
        if wall_now is not None:
            self._dispatch(self.profiler.quiet_advance(wall_now, self.config.time.live_idle_seconds))
        for index in range(self.partitions):
            self._flush(index)
        self._tick(force=True)

    def finish(self) -> None:
        self._dispatch(self.profiler.finish())
        for index in range(self.partitions):
            self._buffers[index].append(END)
            self._flush(index)
        self._wait_done()

    def close(self) -> None:
        """Delete every key of the run and stop local workers (also after an error)."""
        if self._closed:
            return
        self._closed = True
        try:
            # The end marker first: workers that find the keys gone after it
            # read "finished", not "lost".
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self.keys.end, 1, ex=END_TTL_SECONDS)
            for key in self.keys.all_keys(self.partitions):
                pipe.delete(key)
            pipe.srem(self.keys.runs, self.run_id)
            pipe.execute()
        except (redis.RedisError, OSError):
            pass
        # Workers leave within about a second of the keys going. A run that
        # did not complete may have stuck ones (stopped, hung): shorter waits.
        complete = len(self._done) == self.partitions
        deadline = time.monotonic() + (15.0 if complete else 2.0)
        for proc in self.procs:
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5 if complete else 2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        try:
            self.client.close()
        except (redis.RedisError, OSError):
            pass
        if self._error_dir:
            shutil.rmtree(self._error_dir, ignore_errors=True)

    # -- items -> partitions ------------------------------------------------------------------
    def _partition(self, profile: str) -> int:
        index = self._part_cache.get(profile)
        if index is None:
            if len(self._part_cache) >= 1 << 20:
                self._part_cache.clear()
            index = self._part_cache[profile] = partition_of(profile, self.partitions)
        return index

    def _route_message(self, msg: Message[Any]) -> None:
        """A record: the global learners draw their facts (replicated into
        every partition right before it), then it goes to its profile's partition."""
        facts = self.driver.learn(msg)
        if facts:
            for buffer in self._buffers:
                buffer.extend(facts)
        index = self._partition(msg.profile)
        buffer = self._buffers[index]
        buffer.append(message_item(msg))
        if facts:
            self._flush_full()
        elif len(buffer) >= self.batch_size:
            self._flush(index)

    def _route_advance(self, item: Advance) -> None:
        """Flow time moved: for the producer's learners and every partition."""
        self.driver.advance(item.watermark)
        advance = advance_item(item.watermark)
        for buffer in self._buffers:
            buffer.append(advance)
        self._flush_full()

    def _route_window_closed(self, item: TwClosed) -> None:
        index = self._partition(item.profile)
        self._buffers[index].append(tw_closed_item(item.profile, item.twid))
        if len(self._buffers[index]) >= self.batch_size:
            self._flush(index)

    def _flush_full(self) -> None:
        limit = self.batch_size
        for index, buffer in enumerate(self._buffers):
            if len(buffer) >= limit:
                self._flush(index)

    def _flush(self, index: int) -> None:
        buffer = self._buffers[index]
        if not buffer:
            return
        self._buffers[index] = []
        number = self._batches[index] + 1
        self._batches[index] = number
        payload = encode_batch(buffer)
        stream = self.streams[index]
        entry_id = batch_id(number)

        def write() -> Any:
            pipe = self.client.pipeline(transaction=False)
            # NOMKSTREAM: a stream Redis lost is never re-created (without its group).
            pipe.xadd(stream, {"b": payload}, id=entry_id, nomkstream=True)
            pipe.xinfo_groups(stream)
            return pipe.execute(raise_on_error=False)

        added, groups = self.call(write)
        if added is None:
            raise RunLost(f"{stream} is gone")
        if isinstance(added, redis.ResponseError) and "equal or smaller" not in str(added):
            if "maxmemory" in str(added) or str(added).startswith("OOM"):
                raise BusError(f"Redis refused a write to {stream} ({added}): stopping; the outputs are incomplete "
                               "(give Redis more maxmemory)")
            raise BusError(f"cannot write to {stream}: {added}")
        # "equal or smaller": a retried write that had already gone through.
        self._check_groups(stream, groups)
        if number - _delivered(groups) > self.max_pending:
            self._wait_for_room(index)

    def _give_up_if_interrupted(self) -> None:
        """Waiting for workers after SIGINT/SIGTERM: a second signal, or none
        alive, ends the wait (the outputs then miss what was not processed)."""
        flag = self.stop_flag
        if flag is None or not flag.raised:
            return
        if flag.count >= 2 or self._live_workers() == 0:
            self.emit("note: interrupted while waiting for workers: the outputs cover what was processed")
            raise KeyboardInterrupt

    def _wait_for_room(self, index: int) -> None:
        """Backpressure: wait while more than ``max_pending`` batches of the
        partition were not yet read by a worker."""
        stream = self.streams[index]
        started = time.monotonic()
        next_note = started + WAIT_NOTE_SECONDS
        while self._batches[index] - self._delivered_of(stream) > self.max_pending:
            self._give_up_if_interrupted()
            self._pump(block_ms=20)
            self._tick(force=True, pump=False)
            now = time.monotonic()
            if now > next_note:
                next_note = now + WAIT_NOTE_SECONDS
                self.emit(
                    f"note: partition {index} has had no room for {now - started:.0f}s: "
                    f"{self._live_workers()} worker(s) alive; waiting for workers"
                )

    def _check_groups(self, stream: str, groups: Any) -> None:
        if isinstance(groups, redis.ResponseError):
            if lost_reply(groups):
                raise RunLost(f"{stream} is gone")
            raise BusError(f"cannot read the groups of {stream}: {groups}")
        if _group_of(groups) is None:
            raise RunLost(f"the consumer group of {stream} is gone")

    def _delivered_of(self, stream: str) -> int:
        try:
            groups = self.call(self.client.xinfo_groups, stream)
        except redis.ResponseError as exc:
            groups = exc
        self._check_groups(stream, groups)
        return _delivered(groups)

    # -- evidence, heartbeat, local workers -----------------------------------------------------
    def _tick(self, force: bool = False, pump: bool = True) -> None:
        now = time.monotonic()
        if pump and (force or now >= self._next_pump):
            self._next_pump = now + PUMP_SECONDS
            self._pump()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            self._heartbeat()
            self._supervise()
            self._watchdog()

    def _pump(self, block_ms: int | None = None) -> int:
        """Read evidence entries and hand new evidence to the sink."""
        handled = 0
        while True:
            reply = self.call(
                self.client.xread, {self.keys.evidence: self._evidence_cursor}, count=256, block=block_ms
            )
            if not reply:
                return handled
            entries = reply[0][1]
            if not entries:
                return handled
            for _, fields in entries:
                self._take(decode_evidence_entry(fields[b"e"]))
            self._evidence_cursor = entries[-1][0].decode() if isinstance(entries[-1][0], bytes) else entries[-1][0]
            self.call(self.client.xdel, self.keys.evidence, *[entry_id for entry_id, _ in entries])
            handled += len(entries)
            block_ms = None

    def _take(self, entry: Any) -> None:
        index = entry.partition
        if not 0 <= index < self.partitions:
            return
        seen = self._seen_seq[index]
        seq = entry.first_seq
        for line in entry.lines:
            if seq <= seen:
                self.redelivered += 1
            else:
                if seq > seen + 1:
                    self.evidence_gaps += seq - seen - 1
                seen = seq
                self.sink.add(decode_evidence(line))
            seq += 1
        self._seen_seq[index] = seen
        if entry.done is not None and index not in self._done:
            self._done[index] = entry.done
            for channel, count in entry.done.processed.items():
                self.processed[channel] += count
            self.health.merge(entry.done.health)

    def _heartbeat(self) -> None:
        """Refresh the TTL of every key of the run; one gone means Redis lost it."""
        keys = self._ttl_keys()

        def refresh() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.expire(key, META_TTL_SECONDS)
            pipe.hget(self.keys.errors, "lost")
            pipe.hget(self.keys.errors, "fatal")
            return pipe.execute()

        replies = self.call(refresh)
        for key, alive in zip(keys, replies, strict=False):
            if not alive:
                raise RunLost(f"{key} is gone")
        lost, fatal = replies[-2:]
        if lost:
            raise RunLost(_text(lost))
        if fatal:
            raise Stalled(_text(fatal))

    def _live_names(self, horizon_ms: int | None = None) -> dict[str, float]:
        """Workers with a heartbeat younger than ``horizon_ms`` (default 3 x
        the lease), local workers that exited excluded."""
        now_ms = int(time.time() * 1000)
        lease_ms = int(max(1.0, self.config.redis.lease_seconds) * 1000)
        horizon_ms = 3 * lease_ms if horizon_ms is None else horizon_ms
        try:
            members = self.client.zrangebyscore(self.keys.workers, now_ms - horizon_ms, "+inf", withscores=True)
        except (redis.RedisError, OSError):
            return {}
        live: dict[str, float] = {}
        for member, score in members:
            name = _text(member)
            host, _, rest = name.rpartition("-")[0].rpartition("-")
            if host == self.host and rest.isdigit() and int(rest) in self._dead_pids:
                continue
            live[name] = float(score)
        return live

    def _live_workers(self) -> int:
        return len(self._live_names())

    def _watchdog(self) -> None:
        """Stop the run when no live worker made progress on an open partition
        for 2 x lease_seconds + WATCHDOG_MARGIN_SECONDS (all dead, crash-looping
        or stuck). With no worker ever seen (``--workers 0``), wait.

        A partition is fine while it progresses, has nothing to do, is held by
        a worker that renewed its heartbeat within a lease, or waits for a
        worker while such workers exist and none reported an error on it since
        it was last fine (workers take partitions gradually: at most their
        share, and fewer in a run's first 20 s)."""
        open_partitions = [index for index in range(self.partitions) if index not in self._done]
        if not open_partitions:
            return
        live = self._live_names()
        self._ever_live |= bool(live)
        if self.procs and all(proc is None for proc in self.procs) and not live:
            index = open_partitions[0]
            raise Stalled(
                f"no worker left for partition {index} of run {self.run_id}: every local worker exited "
                f"{MAX_RESTARTS + 1} times ({self._last_error(index)})"
            )
        if not self._ever_live:
            return
        lease_seconds = max(1.0, self.config.redis.lease_seconds)
        # Recent: renewed within a lease (a worker that did not has lost its leases).
        recent = self._live_names(int(lease_seconds * 1000) + int(HEARTBEAT_SECONDS * 1000))
        pipe = self.client.pipeline(transaction=False)
        for index in open_partitions:
            part = self.keys.partition(index)
            pipe.xinfo_groups(part.stream)
            pipe.hget(part.ckpt, "last")
            pipe.get(part.lease)
        pipe.hgetall(self.keys.errors)
        replies = self.call(pipe.execute, raise_on_error=False)
        errors = replies[-1] if isinstance(replies[-1], dict) else {}
        now = time.monotonic()
        limit = 2 * lease_seconds + WATCHDOG_MARGIN_SECONDS
        for number, index in enumerate(open_partitions):
            groups, last, lease = replies[3 * number : 3 * number + 3]
            error = errors.get(f"p{index}".encode())
            group = _group_of(groups) or {}
            delivered = _delivered(groups)
            pending = int(group.get("pending") or 0)
            holder = _text(lease).rpartition(":")[0] if lease else ""
            signature = (delivered, pending, last)
            progressing = signature != self._stall_signature.get(index)
            self._stall_signature[index] = signature
            idle = delivered >= self._batches[index] and pending == 0
            waiting = not holder and bool(recent) and error == self._error_when_fine.get(index)
            if progressing or idle or holder in recent or waiting:
                # The last time the partition was fine.
                self._stall_since[index] = now
                self._error_when_fine[index] = error
                continue
            since = self._stall_since.setdefault(index, now)
            if now - since >= limit:
                raise Stalled(
                    f"no live worker made progress on partition {index} of run {self.run_id} for {now - since:.0f}s "
                    f"({len(live)} worker(s) alive; {self._last_error(index)})"
                )

    def _last_error(self, index: int) -> str:
        try:
            errors = self.client.hgetall(self.keys.errors)
        except (redis.RedisError, OSError):
            errors = {}
        message = errors.get(f"p{index}".encode()) or errors.get(b"worker")
        if message:
            return "last error: " + _text(message)
        if self._last_exit:
            return "last error: " + self._last_exit
        return "no error reported"

    def _supervise(self) -> None:
        """Restart local workers that died (a crash, the OOM killer, a SIGKILL)."""
        for slot, proc in enumerate(self.procs):
            if proc is None or proc.poll() is None:
                continue
            code = proc.returncode
            self._dead_pids.add(proc.pid)
            said = self._worker_error(slot)
            self._last_exit = f"local worker {slot} exited ({code})" + (f": {said}" if said else "")
            if self.restarts[slot] >= MAX_RESTARTS:
                self.emit(f"warning: local worker {slot} exited ({code}) {MAX_RESTARTS} times; not restarting it")
                self.procs[slot] = None
                continue
            self.restarts[slot] += 1
            self.emit(f"warning: local worker {slot} exited ({code}); restarting it (its partitions resume from their checkpoints)")
            self.procs[slot] = self._spawn(slot)

    def _wait_done(self) -> None:
        started = time.monotonic()
        next_note = started + WAIT_NOTE_SECONDS
        while len(self._done) < self.partitions:
            self._give_up_if_interrupted()
            self._pump(block_ms=200)
            self._tick(force=True, pump=False)
            now = time.monotonic()
            if now > next_note:
                next_note = now + WAIT_NOTE_SECONDS
                missing = sorted(set(range(self.partitions)) - set(self._done))
                self.emit(
                    f"note: waiting for {len(missing)} partition(s) to finish ({self._live_workers()} worker(s) alive)"
                )
        self._pump()
        self._report_resources()

    def _report_resources(self) -> None:
        """One note per process: peak RSS and CPU (the benchmark reads them)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.emit(
            f"note: resources: producer peak RSS {usage.ru_maxrss / 1024:.0f} MB, "
            f"CPU {usage.ru_utime + usage.ru_stime:.1f}s"
        )
        workers: dict[str, list[Any]] = {}
        for index, done in sorted(self._done.items()):
            if not done.worker:
                continue
            entry = workers.setdefault(done.worker, [0, 0.0, []])
            entry[0] = max(entry[0], done.rss_kb)
            entry[1] = max(entry[1], done.cpu)
            entry[2].append(index)
        for name, (rss_kb, cpu, partitions) in sorted(workers.items()):
            self.emit(
                f"note: resources: worker {name} peak RSS {rss_kb / 1024:.0f} MB, CPU {cpu:.1f}s, "
                f"finished partitions {','.join(map(str, partitions))}"
            )
        if self.redelivered:
            self.emit(f"note: {self.redelivered} evidence re-sent by a worker that resumed from a checkpoint were dropped")
        if self.evidence_gaps:
            self.emit(f"warning: {self.evidence_gaps} evidence missing from the evidence stream (Redis lost data?)")
