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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

BATCH = "flowalerts_batch"


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
        self._pubsub: Any = None
        if transport == "streams":
            try:
                client.xgroup_create(self.key, "flowalerts", id="$", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        else:
            self._pubsub = client.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(self.key)

    # -- producer --------------------------------------------------------------
    def publish(self, kind: str, payload: bytes) -> None:
        if self.transport == "streams":
            self.client.xadd(self.key, {"k": kind, "d": payload})
        else:
            self.client.publish(self.key, kind.encode() + b"\n" + payload)
        self.published += 1

    def backlog(self) -> int:
        """Messages published but not yet processed by the consumer."""
        if self.transport == "streams":
            return int(self.client.xlen(self.key))
        done = self.client.get(self.progress_key)
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
            item = self._pubsub.get_message(timeout=timeout if not messages else 0)
            if item is None:
                break
            data = item["data"]
            kind, _, payload = data.partition(b"\n")
            messages.append((kind.decode(), payload))
        return messages

    def _receive_stream(self, count: int, block_ms: int | None) -> list[tuple[str, bytes]]:
        try:
            reply = self.client.xreadgroup("flowalerts", "worker-1", {self.key: ">"}, count=count, block=block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                raise BusError(
                    f"the bus stream {self.key} vanished (Redis restarted or flushed?): messages may be lost"
                ) from None
            raise
        if not reply:
            return []
        entries = reply[0][1]
        ids = [entry_id for entry_id, _ in entries]
        self.client.xack(self.key, "flowalerts", *ids)
        self.client.xdel(self.key, *ids)
        return [(fields[b"k"].decode(), fields[b"d"]) for _, fields in entries]

    def mark_consumed(self, count: int) -> None:
        self.consumed += count
        if self.transport == "pubsub":
            self.client.set(self.progress_key, self.consumed)

    def close(self) -> None:
        if self._pubsub is not None:
            self._pubsub.close()
        try:
            self.client.delete(self.key, self.progress_key)
        except redis.RedisError:
            pass
