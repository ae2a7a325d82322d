"""The Redis side of a distributed run: key layout, connection, retries, scripts.

Key layout (``P`` = ``redis.key_prefix``, ``R`` = the run id, ``i`` = a
partition number). Every key of one partition carries the hash tag
``{R.pi}``, so on a Redis Cluster they live on one slot and the checkpoint
script (which touches the lease, the checkpoint and the stream at once) is
allowed; the run's own keys share the tag ``{R}``::

    P:runs                 SET     ids of the active runs (workers look here)
    P:{R}:meta             HASH    partitions, config, available logs, version ...
                                   (expires unless the producer refreshes it)
    P:{R}:workers          ZSET    worker name -> last heartbeat (ms)
    P:{R}:evidence         STREAM  evidence and "done" entries, read by the producer
    P:{R}:errors           HASH    last error per partition ("p<i>"), "fatal", "lost" (workers)
    P:{R}:end              STRING  the end marker: written before the run's keys are
                                   deleted (10 min TTL), so "finished" is told from "lost"
    P:{R.pi}:in            STREAM  batches of partition i (entry id = batch number),
                                   consumer group "workers"
    P:{R.pi}:lease         STRING  "<worker>:<epoch>" of the owner, with a TTL
    P:{R.pi}:epoch         STRING  lease counter (fencing tokens)
    P:{R.pi}:ckpt          HASH    last batch processed, evidence seq, state, done
    P:{R.pi}:ckpt:next:<token>  STRING  a checkpoint's state being uploaded by the
                                   lease holder (moved into ckpt by the script;
                                   10 min TTL if its worker dies first)

Every key of a run carries a TTL (``META_TTL_SECONDS``) that the producer
refreshes with its heartbeat, or is written only by a script fenced by the
partition's lease or the run's ``meta``: a killed producer leaves nothing
behind for long, and a zombie worker writes nothing.

Connection trouble (a Redis restart, a network blip) is retried with backoff
for ``redis.reconnect_seconds``; a key of the run that vanished without the
end marker means Redis lost data (restarted without persistence, flushed,
evicted): the run stops with ``RunLost`` instead of guessing. Streams are
never re-created implicitly (``NOMKSTREAM``, scripts that check ``EXISTS``).
"""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

# Re-exported: every message here that shows a URL or a Redis error goes through it.
from flowalerts.core.urls import redact as redact

GROUP = "workers"
_CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)


class BusError(Exception):
    """Redis failed in a way that may have lost data, or cannot be reached."""


class RunLost(BusError):
    """The run's keys vanished without its end marker (exit 2)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Redis lost this run's keys mid-run ({detail}): stopping; the outputs are incomplete "
            "(run Redis with maxmemory-policy noeviction and keep it up for the run)"
        )


class Stalled(BusError):
    """No live worker made progress on a partition (exit 1)."""


# Every key of a run expires this long after the producer's last heartbeat.
META_TTL_SECONDS = 60
# The end marker outlives the run's keys this long (workers that were away
# still read "finished", not "lost").
END_TTL_SECONDS = 600


def connect(url: str, timeout: float = 30.0) -> redis.Redis:
    """A client for ``url`` (redis:// rediss:// unix://), checked with PING."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=timeout, health_check_interval=10)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise BusError(f"cannot connect to Redis at {redact(url)}: {redact(str(exc))}") from None
    return client


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def worker_host() -> str:
    """This machine's name as it appears in worker names."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:40] or "host"


def worker_name() -> str:
    """Unique per process: host, pid and a random part (a restarted worker is a new consumer)."""
    return f"{worker_host()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Keys:
    """Key names of one run (see the module docstring)."""

    def __init__(self, prefix: str, run: str) -> None:
        self.prefix = prefix
        self.run = run
        self.runs = f"{prefix}:runs"
        self.meta = f"{prefix}:{{{run}}}:meta"
        self.workers = f"{prefix}:{{{run}}}:workers"
        self.evidence = f"{prefix}:{{{run}}}:evidence"
        self.errors = f"{prefix}:{{{run}}}:errors"
        self.end = f"{prefix}:{{{run}}}:end"

    def partition(self, index: int) -> PartitionKeys:
        return PartitionKeys(self.prefix, self.run, index)

    def all_keys(self, partitions: int) -> list[str]:
        keys = [self.meta, self.workers, self.evidence, self.errors]
        for index in range(partitions):
            keys.extend(self.partition(index).all())
        return keys


class PartitionKeys:
    def __init__(self, prefix: str, run: str, index: int) -> None:
        tag = f"{{{run}.p{index}}}"
        self.index = index
        self.stream = f"{prefix}:{tag}:in"
        self.lease = f"{prefix}:{tag}:lease"
        self.epoch = f"{prefix}:{tag}:epoch"
        self.ckpt = f"{prefix}:{tag}:ckpt"

    def all(self) -> list[str]:
        return [self.stream, self.lease, self.epoch, self.ckpt]


def batch_id(number: int) -> str:
    """The stream entry id of batch ``number`` (1, 2, ...) of a partition."""
    return f"{number}-1"


def batch_number(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])


class Retrying:
    """Runs Redis calls, retrying with backoff while the connection is down."""

    def __init__(self, client: redis.Redis, reconnect_seconds: float = 30.0) -> None:
        self.client = client
        self.reconnect_seconds = reconnect_seconds
        self.reconnects = 0
        self.on_reconnect: Callable[[], None] | None = None

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        deadline: float | None = None
        delay = 0.05
        while True:
            try:
                result = fn(*args, **kwargs)
            except _CONNECTION_ERRORS as exc:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.reconnect_seconds
                    self.reconnects += 1
                elif now > deadline:
                    raise BusError(
                        f"Redis unreachable for {self.reconnect_seconds:.0f}s ({redact(str(exc))}): stopping"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if deadline is not None and self.on_reconnect is not None:
                self.on_reconnect()
            return result


# -- scripts (one partition's keys only: Cluster-safe) -------------------------------------

# KEYS: stream, lease, epoch, ckpt. ARGV: worker name, ttl ms. Takes a free
# partition: {1, token}; {0} taken by another worker; {-1} the run is gone
# (its stream, epoch or checkpoint was deleted: nothing may be recreated);
# {-2} already done.
ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[3]) == 0 or redis.call('EXISTS', KEYS[4]) == 0 then
  return {-1}
end
if redis.call('HGET', KEYS[4], 'done') == '1' then
  return {-2}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0}
end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], token, 'PX', ARGV[2])
return {1, token}
"""

# KEYS: lease. ARGV: token, ttl ms. 1 if still ours (and renewed).
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease. ARGV: token.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lease, ckpt, stream, next. ARGV: token, last batch number, evidence
# seq, counters, done flag, checksum, then the entry ids to acknowledge. ``next`` holds
# the state blob, written piece by piece before (``checkpoint_next_key``: the
# worker never holds the whole blob). Moves it into the checkpoint,
# acknowledges and trims what it covers - only while the lease is ours (a
# worker that lost its lease cannot overwrite its successor's work).
CHECKPOINT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('DEL', KEYS[4])
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[4])
  return -2
end
local blob = redis.call('GET', KEYS[4])
if not blob then
  return -1
end
redis.call('HSET', KEYS[2], 'last', ARGV[2], 'seq', ARGV[3], 'blob', blob, 'counters', ARGV[4], 'done', ARGV[5],
  'sum', ARGV[6])
blob = nil
redis.call('DEL', KEYS[4])
local n = #ARGV
local i = 7
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('XACK', KEYS[3], 'workers', unpack(ARGV, i, j))
  i = j + 1
end
redis.call('XTRIM', KEYS[3], 'MINID', ARGV[2] .. '-1')
return 1
"""


# KEYS: lease, evidence. ARGV: token, payload. Evidence is written only by
# the lease holder (a zombie writes nothing) and never re-creates the stream:
# 1 written, 0 not the lease holder, -1 the evidence stream is gone.
PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
return 1
"""

# KEYS: meta, workers. ARGV: worker name, now ms, horizon ms. A heartbeat
# only while the run exists; the set expires with meta. -1: meta is gone.
HEARTBEAT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  return -1
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return redis.call('ZCARD', KEYS[2])
"""

# KEYS: meta, errors. ARGV: field, message, level (0; 1 "fatal": a partition
# cannot be recovered; 2 "lost": Redis lost data of the run). A worker's error,
# for the producer's one line; only while the run exists, expiring with it.
REPORT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] == '1' then
  redis.call('HSETNX', KEYS[2], 'fatal', ARGV[2])
elseif ARGV[3] == '2' then
  redis.call('HSETNX', KEYS[2], 'lost', ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
"""


def checkpoint_next_key(ckpt: str, token: str) -> str:
    """Where a lease holder writes its next checkpoint's blob (same hash tag as
    the checkpoint, so one Cluster slot; the token keeps two holders apart)."""
    return f"{ckpt}:next:{token}"


class Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self.acquire = client.register_script(ACQUIRE)
        self.renew = client.register_script(RENEW)
        self.release = client.register_script(RELEASE)
        self.checkpoint = client.register_script(CHECKPOINT)
        self.publish = client.register_script(PUBLISH)
        self.heartbeat = client.register_script(HEARTBEAT)
        self.report = client.register_script(REPORT)


def lost_reply(exc: BaseException) -> bool:
    """A Redis error that says a key of the run is gone."""
    text = str(exc)
    return "NOGROUP" in text or "no such key" in text.lower()


def cleanup(client: redis.Redis, prefix: str, run: str) -> int:
    """Delete every key of run ``run`` (what a killed producer left); the number deleted."""
    deleted = 0
    # Glob-escaped; '{' and '}' are literal in Redis globs.
    base = re.sub(r"([\\*?\[\]])", r"\\\1", f"{prefix}:{{{run}")
    for pattern in (base + "}:*", base + ".p*"):
        for key in client.scan_iter(match=pattern, count=1000):
            deleted += int(client.delete(key))
    client.srem(f"{prefix}:runs", run)
    return deleted


def ensure_group(call: Retrying, client: redis.Redis, stream: str, group: str = GROUP) -> None:
    """The consumer group of a partition stream (created with the stream)."""
    try:
        call(client.xgroup_create, stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
