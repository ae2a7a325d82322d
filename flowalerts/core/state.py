"""The narrow state interface detectors get.

Two kinds of state, both bounded by *flow* time (Zeek ``ts``), never by the
wall clock, so replaying a folder is deterministic:

* ``window(name, profile, twid)``: a dict owned by one (profile, time window).
  It is dropped when that window closes (``tw_closed``), so per-window
  counters cannot grow without bound on a long run.
* ``table(name)``: learned facts shared across profiles (DNS resolutions, MAC
  to IP, DNS servers ...), each entry with an expiry in flow time. Entries are
  purged as the flow-time watermark advances.

The state is held in the worker's memory (work is partitioned by profile, so
one worker owns a profile's windows) and, when a mirror is attached, written
behind to Redis once per batch in one pipeline (``flush``). Redis keys are
built only from fixed names, validated IPs and integers; traffic strings are
only ever hash *fields* or values, so they cannot collide with or inject into
other keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import msgspec

V = TypeVar("V")

# Purge granularity: entries expire in buckets of this many seconds.
_BUCKET_SECONDS = 60.0


class FlowTimeTable(Generic[V]):
    """A dict whose entries expire at a flow time.

    ``set(key, value, expires_at)`` stores; ``get`` returns None once the
    watermark passed the expiry (even before the purge ran).
    """

    __slots__ = ("_buckets", "_entries", "_watermark", "deleted", "dirty", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[Any, tuple[float, V]] = {}
        self._buckets: dict[int, set[Any]] = {}
        self._watermark = float("-inf")
        self.dirty: set[Any] = set()
        self.deleted: set[Any] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return self.get(key) is not None

    def get(self, key: Any, default: V | None = None) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._watermark:
            return default
        return entry[1]

    def set(self, key: Any, value: V, expires_at: float) -> None:
        self._entries[key] = (expires_at, value)
        self._buckets.setdefault(int(expires_at // _BUCKET_SECONDS), set()).add(key)
        self.dirty.add(key)

    def delete(self, key: Any) -> None:
        if self._entries.pop(key, None) is not None:
            self.deleted.add(key)
            self.dirty.discard(key)

    def items(self) -> Iterator[tuple[Any, V]]:
        watermark = self._watermark
        for key, (expires_at, value) in self._entries.items():
            if expires_at >= watermark:
                yield key, value

    def purge(self, watermark: float) -> int:
        """Forget entries whose expiry is before ``watermark``."""
        if watermark <= self._watermark:
            return 0
        self._watermark = watermark
        limit = int(watermark // _BUCKET_SECONDS)
        removed = 0
        for bucket in [b for b in self._buckets if b <= limit]:
            keys = self._buckets.pop(bucket)
            keep = set()
            for key in keys:
                entry = self._entries.get(key)
                if entry is None:
                    continue
                if entry[0] < watermark:
                    # A key re-set with a later expiry sits in a later bucket too.
                    if int(entry[0] // _BUCKET_SECONDS) == bucket:
                        del self._entries[key]
                        self.deleted.add(key)
                        self.dirty.discard(key)
                        removed += 1
                elif bucket == limit and int(entry[0] // _BUCKET_SECONDS) == bucket:
                    keep.add(key)
            if keep:
                self._buckets[bucket] = keep
        return removed


class StateMirror:
    """Writes state changes behind to Redis, one pipeline per flush."""

    def __init__(self, redis_client: Any, prefix: str = "flowalerts") -> None:
        self.redis = redis_client
        self.prefix = prefix
        self._encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)

    def window_key(self, profile: str, twid: int) -> str:
        return f"{self.prefix}:state:window:{profile}:{twid}"

    def table_key(self, name: str) -> str:
        return f"{self.prefix}:state:table:{name}"

    def write(self, state: State) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for (profile, twid), names in state.dirty_windows.items():
            key = self.window_key(profile, twid)
            mapping = {}
            for name in names:
                data = state._windows.get((name, profile, twid))
                if data is not None:
                    mapping[name] = self._encoder.encode(data)
            if mapping:
                pipe.hset(key, mapping=mapping)
        for profile, twid in state.closed_windows:
            pipe.delete(self.window_key(profile, twid))
        for table in state._tables.values():
            key = self.table_key(table.name)
            if table.dirty:
                mapping = {}
                for item in table.dirty:
                    value = table._entries.get(item)
                    if value is not None:
                        mapping[self._encoder.encode(item)] = self._encoder.encode(value)
                if mapping:
                    pipe.hset(key, mapping=mapping)
            if table.deleted:
                pipe.hdel(key, *[self._encoder.encode(item) for item in table.deleted])
        pipe.execute()

    def clear(self) -> None:
        for key in self.redis.scan_iter(match=f"{self.prefix}:state:*", count=1000):
            self.redis.delete(key)


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, msgspec.Struct):
        return msgspec.structs.asdict(obj)
    raise NotImplementedError(f"cannot store {type(obj).__name__}")


class State:
    """Per-window dicts and flow-time tables; see the module docstring."""

    def __init__(self, mirror: StateMirror | None = None) -> None:
        self._windows: dict[tuple[str, str, int], dict[Any, Any]] = {}
        self._window_names: dict[tuple[str, int], set[str]] = {}
        self._tables: dict[str, FlowTimeTable[Any]] = {}
        self.mirror = mirror
        self.dirty_windows: dict[tuple[str, int], set[str]] = {}
        self.closed_windows: set[tuple[str, int]] = set()
        self.watermark = float("-inf")

    # -- per-window state -------------------------------------------------
    def window(self, name: str, profile: str, twid: int) -> dict[Any, Any]:
        """The mutable dict ``name`` of (profile, twid); created on first use."""
        key = (name, profile, twid)
        data = self._windows.get(key)
        if data is None:
            data = self._windows[key] = {}
            self._window_names.setdefault((profile, twid), set()).add(name)
        if self.mirror is not None:
            self.dirty_windows.setdefault((profile, twid), set()).add(name)
        return data

    def peek_window(self, name: str, profile: str, twid: int) -> dict[Any, Any] | None:
        """The window dict if it exists, without creating it."""
        return self._windows.get((name, profile, twid))

    def close_window(self, profile: str, twid: int) -> None:
        for name in self._window_names.pop((profile, twid), ()):
            self._windows.pop((name, profile, twid), None)
        self.dirty_windows.pop((profile, twid), None)
        if self.mirror is not None:
            self.closed_windows.add((profile, twid))

    def open_windows(self) -> list[tuple[str, int]]:
        return list(self._window_names)

    # -- shared learned facts ----------------------------------------------
    def table(self, name: str) -> FlowTimeTable[Any]:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = FlowTimeTable(name)
        return table

    def advance(self, watermark: float) -> None:
        """Flow time moved on: purge expired facts."""
        if watermark > self.watermark:
            self.watermark = watermark
            for table in self._tables.values():
                table.purge(watermark)

    # -- persistence ----------------------------------------------------------
    def flush(self) -> None:
        """Write the changes since the last flush to the mirror, if any."""
        if self.mirror is not None:
            self.mirror.write(self)
        self.dirty_windows.clear()
        self.closed_windows.clear()
        for table in self._tables.values():
            table.dirty.clear()
            table.deleted.clear()

    def size(self) -> dict[str, int]:
        """Entry counts, for the bounded-memory tests and the summary."""
        sizes = {"windows": len(self._windows)}
        for name, table in self._tables.items():
            sizes[f"table:{name}"] = len(table)
        return sizes
