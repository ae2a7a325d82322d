"""The state layer: everything a detection remembers, bounded by flow time.

Detections keep no state of their own (no attributes that grow); they use
three kinds of state, all owned by one ``State`` object so that a worker can
snapshot it at a batch boundary and restore it after a restart:

* **windows** - a dict per (owner, profile, time window), dropped when that
  window closes. Per-window counters cannot outlive their window.
* **tables** - ``FlowTimeTable``: a dict whose entries expire at a flow time
  (learned facts, "seen" sets that span windows). Purged as the watermark
  advances.
* **timers** - ``Timers``: one flow-time timer service. A detection schedules
  (key, due time, payload) and is called back when the watermark passes the
  due time; at end of input every timer fires, in due order. Bounded: past
  ``max_timers`` the timer due first fires early (counted).

Nothing here reads the wall clock: time is the watermark the host passes to
``advance``, so a replay is deterministic.
"""

from __future__ import annotations

import heapq
import io
import itertools
import pickle
from collections import Counter
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

V = TypeVar("V")

# Purge granularity: entries expire in buckets of this many seconds.
_BUCKET_SECONDS = 60.0
_NO_BUCKET = 1 << 62
# Evicted or deleted keys are dropped from the bucket lists past this many.
_MIN_COMPACT = 4096
_INF = float("inf")


class FlowTimeTable(Generic[V]):
    """A dict whose entries expire at a flow time.

    ``set(key, value, expires_at)`` stores; ``get`` returns the default once
    the watermark passed the expiry (even before the purge ran). An expiry of
    +inf never expires: for a few run-wide entries only (the table's
    ``max_entries`` still bounds them).

    Expiry index: the keys are listed per bucket of ``_BUCKET_SECONDS`` of
    expiry, in append-only lists (8 bytes a key; sets cost 40 to 300 bytes
    a key once keys move between buckets). A live key is listed in a bucket
    at or before its expiry's: a later expiry (the common update: a fact
    seen again) changes no listing, the purge of the earlier bucket lists
    the key again where it now expires; an earlier expiry lists it at once.
    A listing whose key was deleted or evicted is dropped when its bucket is
    purged, or earlier once more keys were dropped than the table holds
    (``_compact``: a capped table evicting on every insertion must not keep
    its evicted keys alive until their expiry).
    """

    __slots__ = (
        "_buckets", "_dropped", "_entries", "_low", "_scanned", "_watermark", "evicted", "evicted_until",
        "max_entries", "name",
    )

    def __init__(self, name: str, max_entries: int = 0) -> None:
        self.name = name
        self._entries: dict[Any, tuple[float, V]] = {}
        self._buckets: dict[int, list[Any]] = {}
        # Keys evicted or deleted since the last _compact (still listed).
        self._dropped = 0
        self._watermark = float("-inf")
        # Purge bookkeeping: no bucket below _low; buckets up to _scanned were
        # purged at the last scan (so a purge within one bucket costs nothing).
        self._low = _NO_BUCKET
        self._scanned = -_NO_BUCKET
        # 0: unbounded by count (bounded by expiry only).
        self.max_entries = max_entries
        self.evicted = 0
        # The latest expiry among evicted entries: a key missing now may have
        # been evicted if its entry would have lived until then. A decision
        # that needs an entry's *absence* reads this (``may_have_evicted``).
        self.evicted_until = float("-inf")

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
        entries = self._entries
        old = entries.get(key)
        if old is None:
            if self.max_entries and len(entries) >= self.max_entries:
                self._evict()
        elif old[0] == expires_at:
            # The hot case (a fact re-set with the same expiry): same bucket.
            entries[key] = (expires_at, value)
            return
        entries[key] = (expires_at, value)
        if expires_at == _INF:
            return  # never expires: in no bucket (kept until deleted)
        number = int(expires_at // _BUCKET_SECONDS)
        if old is not None and old[0] != _INF and int(old[0] // _BUCKET_SECONDS) <= number:
            return  # listed at or before its new expiry (the purge moves it on)
        self._list(key, number)

    def _list(self, key: Any, number: int) -> None:
        bucket = self._buckets.get(number)
        if bucket is None:
            bucket = self._buckets[number] = []
            if number < self._low:
                self._low = number
        bucket.append(key)

    def _compact(self) -> None:
        """Keep the first listing of each live key (amortised O(1): runs once
        as many keys were dropped as the table holds)."""
        entries = self._entries
        listed: set[Any] = set()
        for number in sorted(self._buckets):
            current = []
            for key in self._buckets[number]:
                entry = entries.get(key)
                if entry is not None and entry[0] != _INF and key not in listed:
                    listed.add(key)
                    current.append(key)
            if current:
                self._buckets[number] = current
            else:
                del self._buckets[number]
        self._dropped = 0
        self._low = min(self._buckets) if self._buckets else _NO_BUCKET

    def delete(self, key: Any) -> None:
        if self._entries.pop(key, None) is not None:
            self._forgot(1)

    def expiry(self, key: Any) -> float | None:
        """When ``key``'s entry expires, or None if there is none."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def may_have_evicted(self, expiring_after: float) -> bool:
        """True when the cap evicted an entry that would still be alive at
        ``expiring_after``: a key absent now cannot prove that it was never set."""
        return self.evicted > 0 and self.evicted_until >= expiring_after

    def _evict(self) -> None:
        """Full: forget the oldest insertions (dicts keep insertion order).

        A sixteenth of the table at a time: deleting one key at a time from
        the front of a dict makes each next look-up of "the first key" step
        over every deleted slot (quadratic on a busy network)."""
        entries = self._entries
        count = max(1, self.max_entries // 16)
        until = self.evicted_until
        for key in list(itertools.islice(entries, count)):
            expires_at, _ = entries.pop(key)
            if expires_at > until:
                until = expires_at
        self.evicted += count
        self.evicted_until = until
        self._forgot(count)

    def _forgot(self, count: int) -> None:
        """``count`` keys were evicted or deleted (and are still listed)."""
        self._dropped += count
        if self._dropped > _MIN_COMPACT and self._dropped > len(self._entries):
            self._compact()

    def items(self) -> Iterator[tuple[Any, V]]:
        watermark = self._watermark
        for key, (expires_at, value) in list(self._entries.items()):
            if expires_at >= watermark:
                yield key, value

    def purge(self, watermark: float) -> int:
        """Forget entries whose expiry is before ``watermark``."""
        if watermark <= self._watermark:
            return 0
        self._watermark = watermark
        limit = int(watermark // _BUCKET_SECONDS) if watermark != float("inf") else None
        if limit is not None and (limit < self._low or limit <= self._scanned):
            # Nothing due yet (expired entries of the current bucket are
            # already invisible to get/items; they go at the next bucket).
            return 0
        self._scanned = limit if limit is not None else self._scanned
        removed = 0
        entries = self._entries
        for number in sorted(b for b in self._buckets if limit is None or b <= limit):
            keep = []
            for key in self._buckets.pop(number):
                entry = entries.get(key)
                if entry is None or entry[0] == _INF:
                    continue  # deleted or evicted (or made run-wide)
                if entry[0] < watermark:
                    del entries[key]
                    removed += 1
                    continue
                current = int(entry[0] // _BUCKET_SECONDS)
                if current == number:
                    keep.append(key)
                else:
                    self._list(key, current)  # its expiry moved on
            if keep:
                self._buckets[number] = list(dict.fromkeys(keep))
        self._low = min(self._buckets) if self._buckets else _NO_BUCKET
        return removed


class Timers:
    """The flow-time timer service: (owner, key) -> (due, payload).

    ``schedule`` replaces an existing timer of the same key; ``cancel``
    removes it; ``pop_due(watermark)`` yields the timers whose due time is at
    or before the watermark, in due order (ties in scheduling order). Owners
    are detection ids. At most ``max_timers`` timers wait at once; scheduling
    one more fires the earliest-due timer first (``fired_early`` counts them).
    """

    def __init__(self, max_timers: int = 1_000_000) -> None:
        self.max_timers = max_timers
        self._heap: list[tuple[float, int, str, Any]] = []
        self._live: dict[tuple[str, Any], tuple[float, int, Any]] = {}
        self._seq = 0
        self.fired_early: Counter[str] = Counter()
        # Heap entries of cancelled or replaced timers (dropped when they reach
        # the top, or all at once when they outnumber the live timers: a
        # detection that cancels most of its timers early must not keep them).
        self._stale = 0

    _COMPACT_AT = 16384

    def __len__(self) -> int:
        return len(self._live)

    def schedule(self, owner: str, key: Any, due: float, payload: Any = None) -> list[tuple[str, Any, Any]]:
        """Schedule; returns the timers that had to fire early to make room."""
        early: list[tuple[str, Any, Any]] = []
        replaced = (owner, key) in self._live
        if not replaced:
            while len(self._live) >= self.max_timers:
                popped = self._pop_next()
                if popped is None:
                    break
                self.fired_early[popped[0]] += 1
                early.append(popped)
        self._seq += 1
        seq = self._seq
        self._live[(owner, key)] = (due, seq, payload)
        heapq.heappush(self._heap, (due, seq, owner, key))
        if replaced:
            self._superseded()
        return early

    def cancel(self, owner: str, key: Any) -> Any:
        """Remove the timer; returns its payload (None if there was none)."""
        entry = self._live.pop((owner, key), None)
        if entry is None:
            return None
        self._superseded()
        return entry[2]

    def _superseded(self) -> None:
        """One more heap entry belongs to no live timer."""
        self._stale += 1
        if self._stale > self._COMPACT_AT and self._stale > len(self._live):
            self._compact()

    def _compact(self) -> None:
        """Rebuild the heap from the live timers (same due order: (due, seq) is unique)."""
        self._heap = [(due, seq, owner, key) for (owner, key), (due, seq, _payload) in self._live.items()]
        heapq.heapify(self._heap)
        self._stale = 0

    def pending(self, owner: str, key: Any) -> Any:
        entry = self._live.get((owner, key))
        return None if entry is None else entry[2]

    def pop_due(self, watermark: float) -> Iterator[tuple[str, Any, Any]]:
        """Timers due at or before ``watermark`` (owner, key, payload), in due order."""
        while True:
            self._drop_stale_head()
            if not self._heap or self._heap[0][0] > watermark:
                return
            popped = self._pop_next()
            if popped is not None:
                yield popped

    def _pop_next(self) -> tuple[str, Any, Any] | None:
        while self._heap:
            _due, seq, owner, key = heapq.heappop(self._heap)
            entry = self._live.get((owner, key))
            if entry is not None and entry[1] == seq:
                del self._live[(owner, key)]
                return owner, key, entry[2]
            self._stale -= 1
        return None

    def _drop_stale_head(self) -> None:
        heap = self._heap
        while heap:
            _due, seq, owner, key = heap[0]
            entry = self._live.get((owner, key))
            if entry is not None and entry[1] == seq:
                return
            heapq.heappop(heap)
            self._stale -= 1


WindowKey = tuple[str, int]


class State:
    """Windows, tables and timers of one module instance (see the module docstring)."""

    def __init__(self, max_timers: int = 1_000_000) -> None:
        self._windows: dict[tuple[str, str, int], dict[Any, Any]] = {}
        self._owners_of: dict[WindowKey, set[str]] = {}
        self._tables: dict[str, FlowTimeTable[Any]] = {}
        self.timers = Timers(max_timers)
        self.watermark = float("-inf")

    # -- per-window state -------------------------------------------------
    def window(self, owner: str, profile: str, twid: int) -> dict[Any, Any]:
        """The mutable dict of ``owner`` for (profile, twid); created on first use."""
        key = (owner, profile, twid)
        data = self._windows.get(key)
        if data is None:
            data = self._windows[key] = {}
            self._owners_of.setdefault((profile, twid), set()).add(owner)
        return data

    def peek_window(self, owner: str, profile: str, twid: int) -> dict[Any, Any] | None:
        """The window dict if it exists, without creating it."""
        return self._windows.get((owner, profile, twid))

    def window_owners(self, profile: str, twid: int) -> set[str]:
        return set(self._owners_of.get((profile, twid), ()))

    def close_window(self, profile: str, twid: int) -> None:
        for owner in self._owners_of.pop((profile, twid), ()):
            self._windows.pop((owner, profile, twid), None)

    def open_windows(self) -> list[WindowKey]:
        return sorted(self._owners_of, key=lambda key: (key[1], key[0]))

    # -- tables -------------------------------------------------------------
    def table(self, name: str, max_entries: int = 0) -> FlowTimeTable[Any]:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = FlowTimeTable(name, max_entries)
        return table

    def advance(self, watermark: float, purge: bool = True) -> None:
        """Flow time moved on: purge expired table entries (unless ``purge``
        is False: the driver fires the due timers first, so they still see the
        entries that were valid at their due time)."""
        if watermark > self.watermark:
            self.watermark = watermark
        if purge:
            self.purge(watermark)

    def purge(self, watermark: float) -> None:
        """Forget table entries that expired before ``watermark`` (idempotent)."""
        for table in self._tables.values():
            table.purge(watermark)

    # -- sizes and persistence ----------------------------------------------
    def size(self) -> dict[str, int]:
        """Entry counts, for the bounded-memory tests and the summary."""
        sizes = {"windows": len(self._windows), "timers": len(self.timers)}
        for name, table in self._tables.items():
            sizes[f"table:{name}"] = len(table)
        return sizes

    def snapshot(self) -> bytes:
        """The whole state as bytes (a checkpoint taken at a batch boundary)."""
        return b"".join(self.snapshot_pieces())

    def snapshot_pieces(self) -> Iterator[bytes]:
        """``snapshot()`` in pieces whose concatenation it is, made one at a
        time (a host that sends each piece on never holds the whole).

        Pickled in bounded chunks: a pickler remembers every object it wrote
        (to keep shared references shared), and for the whole state at once
        that memo and its temporaries cost more than the state (+183 MB for a
        39 MB checkpoint at the 1M benchmark). Each chunk holds entries worth
        about ``_CHUNK_WEIGHT`` objects (an entry whose value is a container
        weighs its length). Each chunk is a frame: an 8-byte length, then the
        pickle of a tagged tuple (see ``restore``).
        """
        yield _SNAPSHOT_MAGIC

        def frame(obj: Any) -> Iterator[bytes]:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            yield len(data).to_bytes(8, "little")
            yield data

        yield from frame(("header", self.watermark, self._owners_of))
        yield from frame(("timers", self.timers))
        for chunk in _chunks(self._windows):
            yield from frame(("windows", chunk))
        for name in sorted(self._tables):
            table = self._tables[name]
            shell = {slot: getattr(table, slot) for slot in FlowTimeTable.__slots__ if slot not in _TABLE_CONTENTS}
            yield from frame(("table", name, shell))
            for chunk in _chunks(table._entries):
                yield from frame(("entries", name, chunk))
            for chunk in _chunks(table._buckets):
                yield from frame(("buckets", name, chunk))
        yield from frame(("end",))

    @staticmethod
    def restore(data: bytes) -> State:
        """A state from ``snapshot``. Only Flowalerts' own classes and plain
        containers are accepted, so a tampered checkpoint cannot run code."""
        view = memoryview(data)
        if bytes(view[: len(_SNAPSHOT_MAGIC)]) != _SNAPSHOT_MAGIC:
            raise ValueError("not a Flowalerts state checkpoint")
        at = len(_SNAPSHOT_MAGIC)
        state = State()
        table: FlowTimeTable[Any] | None = None
        while True:
            if at + 8 > len(view):
                raise ValueError("truncated Flowalerts state checkpoint")
            size = int.from_bytes(view[at : at + 8], "little")
            at += 8
            if at + size > len(view):
                raise ValueError("truncated Flowalerts state checkpoint")
            item = _RestrictedUnpickler(io.BytesIO(view[at : at + size])).load()
            at += size
            if not isinstance(item, tuple) or not item or not isinstance(item[0], str):
                raise ValueError("not a Flowalerts state checkpoint")
            kind = item[0]
            if kind == "end":
                return state
            if kind == "header" and len(item) == 3:
                _, state.watermark, state._owners_of = item
            elif kind == "timers" and len(item) == 2 and isinstance(item[1], Timers):
                state.timers = item[1]
            elif kind == "windows" and len(item) == 2 and isinstance(item[1], dict):
                state._windows.update(item[1])
            elif kind == "table" and len(item) == 3 and isinstance(item[2], dict):
                _, name, shell = item
                table = state._tables[name] = FlowTimeTable(name)
                for slot, value in shell.items():
                    if slot not in FlowTimeTable.__slots__ or slot in _TABLE_CONTENTS:
                        raise ValueError("not a Flowalerts state checkpoint")
                    setattr(table, slot, value)
            elif kind in ("entries", "buckets") and len(item) == 3 and isinstance(item[2], dict):
                if table is None or table.name != item[1]:
                    raise ValueError("not a Flowalerts state checkpoint")
                (table._entries if kind == "entries" else table._buckets).update(item[2])
            else:
                raise ValueError("not a Flowalerts state checkpoint")


# Objects (about) per pickled chunk of a checkpoint: bounds the pickler's memo.
_CHUNK_WEIGHT = 1024
# The slots of a table pickled in chunks of their own (the rest is its "shell").
_TABLE_CONTENTS = ("_entries", "_buckets")


def _weight(value: Any) -> int:
    """About how many objects pickling ``value`` remembers: cheap (it runs on
    every entry at every checkpoint), so it looks one level into a table
    entry's value (``(expiry, value)``) and into small dicts (a window's
    ``__tallies__``)."""
    if type(value) is tuple and len(value) == 2 and isinstance(value[1], (dict, list, set)):
        return 1 + len(value[1])
    if isinstance(value, dict):
        size = len(value)
        if size < 64:
            size += sum(len(item) for item in value.values() if isinstance(item, (dict, list, set)))
        return 1 + size
    if isinstance(value, (list, tuple, set)):
        return 1 + len(value)
    return 1


def _chunks(mapping: dict[Any, Any]) -> Iterator[dict[Any, Any]]:
    """``mapping`` in dicts of about ``_CHUNK_WEIGHT`` objects, in order."""
    chunk: dict[Any, Any] = {}
    weight = 0
    for key, value in mapping.items():
        chunk[key] = value
        weight += _weight(value)
        if weight >= _CHUNK_WEIGHT:
            yield chunk
            chunk, weight = {}, 0
    if chunk:
        yield chunk


_SNAPSHOT_MAGIC = b"FLOWALERTS-STATE-3\n"
_SAFE_BUILTINS = frozenset({"set", "frozenset", "dict", "list", "tuple", "float", "int", "str", "bytes", "bool", "complex"})


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if "." in name:
            # A dotted name walks attributes (from one of our modules into the standard library):
            # never needed by our own pickles.
            raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not allowed")
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if module == "collections" and name in ("Counter", "OrderedDict", "defaultdict", "deque"):
            return super().find_class(module, name)
        if (module == "flowalerts" or module.startswith("flowalerts.")) and not name.startswith("_Restricted"):
            found = super().find_class(module, name)
            if isinstance(found, type):  # our classes only: no function of ours is called on load
                return found
        if module == "ipaddress" and name in ("IPv4Network", "IPv6Network", "IPv4Address", "IPv6Address"):
            return super().find_class(module, name)
        if module == "msgspec._utils" and name == "rebuild":
            # How msgspec pickles keyword-only structs (records): rebuild(cls, kwargs),
            # where cls itself must pass this check.
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not allowed")
