"""The Redis bus: record batches in, evidence out.

Two transports, chosen by ``redis.transport`` in slips.yaml:

* ``streams`` (default): one Redis Stream per topic with a consumer group.
  Entries are acknowledged and deleted once processed, and the producer waits
  while too many are unconsumed (backpressure), so nothing is dropped and
  Redis memory stays bounded. This is also the path to several workers.
* ``pubsub``: Slips-compatible PUBLISH/SUBSCRIBE. Redis silently disconnects a
  subscriber whose output buffer passes its limit (32 MB by default), losing
  everything queued; the producer therefore waits on the consumer's progress
  counter (``<prefix>:progress``) so the backlog stays small.

One topic carries records (in flow-time order, all channels mixed, so a DNS
answer is processed before the connection that uses it), one carries evidence.
Every key is under a per-run prefix built from fixed names only.

Connection trouble (Redis restarted, network blip): with streams, every call
is retried with backoff for ``RECONNECT_SECONDS``; each topic has one producer
which gives its entries explicit increasing ids, so a retried XADD cannot add
a duplicate and the consumer drops any id it has already seen. After a
reconnect the stream and its consumer group must still be there; if they
vanished (a restart without persistence, a flush) messages may have been lost
and the run stops with ``BusError``. With pub/sub, anything published while
disconnected is gone, so any connection error is a ``BusError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

BATCH = "flowalerts_batch"
# How long to keep retrying a Redis call that fails on the connection.
RECONNECT_SECONDS = 30.0
_CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class BusError(Exception):
    """The bus failed in a way that may have lost data: stop, don't guess."""


def connect(url: str | None) -> Any:
    """A redis-py client for ``url``, or an in-process fakeredis if None."""
    if url is None:
        import fakeredis

        return fakeredis.FakeRedis()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=10)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise BusError(f"cannot connect to Redis at {url}: {exc}") from None
    return client


class Topic:
    """One direction of the bus (producer side and consumer side)."""

    def __init__(self, client: Any, name: str, transport: str, prefix: str, max_pending: int) -> None:
        self.client = client
        self.name = name
        self.transport = transport
        self.key = f"{prefix}:bus:{name}"
        self.progress_key = f"{prefix}:progress:{name}"
        self.max_pending = max_pending
        self.published = 0
        self.consumed = 0
        self.reconnect_seconds = RECONNECT_SECONDS
        self.reconnects = 0
        self.duplicates_dropped = 0
        # Highest entry sequence number received (streams), for de-duplication.
        self._last_seq = 0
        self._recover_pending = False
        self._retried = False
        self._pubsub: Any = None
        if transport == "streams":
            try:
                self.call(client.xgroup_create, self.key, "flowalerts", id="$", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        else:
            self._pubsub = client.pubsub(ignore_subscribe_messages=True)
            self.call(self._pubsub.subscribe, self.key)

    # -- connection trouble ----------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args)``, retried with backoff while the connection is down."""
        deadline: float | None = None
        delay = 0.05
        self._retried = False
        while True:
            try:
                result = fn(*args, **kwargs)
            except _CONNECTION_ERRORS as exc:
                if self.transport != "streams":
                    raise BusError(
                        f"lost the connection to Redis on the pub/sub bus ({exc}): messages may be lost"
                    ) from None
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.reconnect_seconds
                    self.reconnects += 1
                elif now > deadline:
                    raise BusError(
                        f"Redis unreachable for {self.reconnect_seconds:.0f}s ({exc}): stopping, outputs are incomplete"
                    ) from None
                self._recover_pending = True
                self._retried = True
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if deadline is not None:
                self.check_intact()
            return result

    def check_intact(self) -> None:
        """After a reconnect: the stream and its group must have survived."""
        if self.transport != "streams":
            return
        try:
            groups = self.client.xinfo_groups(self.key)
        except redis.ResponseError:
            groups = []
        except _CONNECTION_ERRORS as exc:
            raise BusError(f"lost the connection to Redis again ({exc}): stopping, outputs are incomplete") from None
        names = {g.get("name", g.get(b"name")) for g in groups}
        if not names & {"flowalerts", b"flowalerts"}:
            raise BusError(
                f"the bus stream {self.key} vanished (Redis restarted without persistence or was flushed): "
                "messages may be lost"
            )

    # -- producer --------------------------------------------------------------
    def publish(self, kind: str, payload: bytes) -> None:
        if self.transport == "streams":
            # One producer per topic: explicit ids make a retried XADD idempotent.
            entry_id = f"1-{self.published + 1}"
            try:
                self.call(self.client.xadd, self.key, {"k": kind, "d": payload}, id=entry_id)
            except redis.ResponseError as exc:
                if "equal or smaller" not in str(exc):
                    raise
                if not self._retried:
                    raise BusError(f"another producer writes to {self.key}: entries would collide") from None
                # The first attempt got through before the connection broke.
        else:
            self.call(self.client.publish, self.key, kind.encode() + b"\n" + payload)
        self.published += 1

    def backlog(self) -> int:
        """Messages published but not yet processed by the consumer."""
        if self.transport == "streams":
            return int(self.call(self.client.xlen, self.key))
        done = self.call(self.client.get, self.progress_key)
        return self.published - int(done or 0)

    def wait_for_room(self, pump: Callable[[], object] | None = None, timeout: float = 600.0) -> None:
        """Backpressure: block while the consumer is too far behind."""
        deadline = time.monotonic() + timeout
        while self.backlog() > self.max_pending:
            if pump is not None:
                pump()
                continue
            if time.monotonic() > deadline:
                raise BusError(f"consumer of {self.name} made no progress for {timeout:.0f}s")
            time.sleep(0.01)

    # -- consumer --------------------------------------------------------------
    def receive(self, count: int = 64, block_ms: int | None = None) -> list[tuple[str, bytes]]:
        if self.transport == "streams":
            return self._receive_stream(count, block_ms)
        messages = []
        timeout = (block_ms or 0) / 1000
        while len(messages) < count:
            item = self.call(self._pubsub.get_message, timeout=timeout if not messages else 0)
            if item is None:
                break
            data = item["data"]
            kind, _, payload = data.partition(b"\n")
            messages.append((kind.decode(), payload))
        return messages

    def _receive_stream(self, count: int, block_ms: int | None) -> list[tuple[str, bytes]]:
        try:
            # After a reconnect, first take back entries delivered to us whose
            # reply was lost (they sit in our pending list, unacknowledged).
            reply = None
            for _ in range(3):
                start = "0" if self._recover_pending else ">"
                self._recover_pending = False
                reply = self.call(self.client.xreadgroup, "flowalerts", "worker-1", {self.key: start}, count=count, block=block_ms)
                if (reply and reply[0][1]) or (start == ">" and not self._recover_pending):
                    break
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                raise BusError(
                    f"the bus stream {self.key} vanished (Redis restarted or flushed?): messages may be lost"
                ) from None
            raise
        if not reply:
            return []
        entries = reply[0][1]
        if not entries:
            return []
        ids = [entry_id for entry_id, _ in entries]
        self.call(self.client.xack, self.key, "flowalerts", *ids)
        self.call(self.client.xdel, self.key, *ids)
        messages = []
        for entry_id, fields in entries:
            seq = _sequence(entry_id)
            if seq <= self._last_seq:
                self.duplicates_dropped += 1
                continue
            self._last_seq = seq
            messages.append((fields[b"k"].decode(), fields[b"d"]))
        return messages

    def mark_consumed(self, count: int) -> None:
        self.consumed += count
        if self.transport == "pubsub":
            self.call(self.client.set, self.progress_key, self.consumed)

    def close(self) -> None:
        """Best effort: never raises, so it cannot mask the error that stopped a run."""
        try:
            if self._pubsub is not None:
                self._pubsub.close()
            self.client.delete(self.key, self.progress_key)
        except (redis.RedisError, OSError):
            pass


def _sequence(entry_id: bytes | str) -> int:
    """The sequence part of a ``1-N`` stream id (ours are explicit)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[2] or 0)
