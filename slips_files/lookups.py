"""Optional network lookups (whois creation date, ASN, rDNS) behind one interface.

Lookups never block the flow loop: ``creation_date`` / ``asn`` / ``rdns``
return what the cache knows *now* (or None) and, when online, schedule a
background lookup whose result later calls will see. ``NullLookups`` is used
with ``--offline`` and in tests.

``OnlineLookups``:

* a small pool of daemon worker threads (``max_concurrent``) fed by a bounded
  queue; daemon threads, not a ``ThreadPoolExecutor``, so a hung whois or
  resolver call can never keep the process from exiting (``close`` does not
  wait for them);
* each lookup has a deadline (``timeout``): past it the key is negatively
  cached and counted as failed, even if the worker is still stuck; a late
  answer still lands in the cache;
* positive results are cached for the run; failures and "no answer" for
  ``negative_cache_seconds`` of wall-clock time;
* with a Redis client, results are persisted in the hashes
  ``<prefix>:cache:<kind>`` (field = domain / IP, value = JSON) and read back
  by the worker before asking the network, so a later run reuses them. Redis
  is only touched from the worker threads, never from the caller;
* ``notes`` counts what happened: lookups_started, lookups_done,
  lookups_failed, lookups_timeout, lookups_pending (calls answered "not yet"),
  lookups_dropped (queue full), lookups_cached (answered from Redis).

Resolvers are injectable (``resolver=``, ``asn_resolver=``, ``rdns_resolver=``)
so tests never touch the network.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowalerts.config import Config
    from flowalerts.config import Lookups as LookupsConfig

log = logging.getLogger(__name__)

WHOIS, ASN, RDNS = "whois", "asn", "rdns"
MAX_QUEUED = 10_000
MAX_CACHED = 200_000

Resolver = Callable[[str], Any]


class Lookups:
    """Interface; see NullLookups for the offline behaviour."""

    # False when no lookup can ever answer (offline): callers skip the work
    # of preparing a question.
    online = True

    def __init__(self) -> None:
        self.notes: Counter[str] = Counter()

    def creation_date(self, domain: str) -> dt.datetime | None:
        return None

    def asn(self, ip: str) -> str | None:
        return None

    def rdns(self, ip: str) -> str | None:
        return None

    def close(self) -> None:
        pass


class NullLookups(Lookups):
    """No network at all: every answer is None (counted as ``lookups_offline``)."""

    online = False

    def creation_date(self, domain: str) -> dt.datetime | None:
        self.notes["lookups_offline"] += 1
        return None


# -- the real resolvers (only used when online) ------------------------------------
def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, list):
        dates = [v for v in (_as_datetime(item) for item in value) if v is not None]
        return min(dates) if dates else None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None


def whois_creation_date(domain: str, timeout: float = 3.0) -> dt.datetime | None:
    """Creation date from python-whois (network)."""
    import whois  # python-whois

    record = whois.whois(domain, quiet=True, timeout=max(1, int(timeout)))
    value = record.get("creation_date") if hasattr(record, "get") else None
    return _as_datetime(value)


def rdap_asn(ip: str, timeout: float = 3.0) -> str | None:
    """'AS<number> <description>' from RDAP via ipwhois (network)."""
    from ipwhois import IPWhois

    result = IPWhois(ip, timeout=max(1, int(timeout))).lookup_rdap(depth=0)
    number = result.get("asn")
    if not number:
        return None
    description = result.get("asn_description") or ""
    return f"AS{number} {description}".strip()


def reverse_dns(ip: str) -> str | None:
    return socket.gethostbyaddr(ip)[0] or None


# -- cache encoding ------------------------------------------------------------------
def _encode(kind: str, value: Any) -> Any:
    if kind == WHOIS and isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _decode(kind: str, value: Any) -> Any:
    if kind == WHOIS and isinstance(value, str):
        try:
            return _as_datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return value if isinstance(value, str) else None


class OnlineLookups(Lookups):
    """Cached, time-limited, asynchronous lookups; see the module docstring."""

    def __init__(
        self,
        config: LookupsConfig | None = None,
        *,
        resolver: Resolver | None = None,
        asn_resolver: Resolver | None = None,
        rdns_resolver: Resolver | None = None,
        redis_client: Any = None,
        key_prefix: str = "flowalerts",
        enable_asn: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        from flowalerts.config import Lookups as LookupsConfig

        self.config = config or LookupsConfig()
        timeout = self.config.timeout
        self._resolvers: dict[str, Resolver | None] = {
            WHOIS: resolver or (lambda domain: whois_creation_date(domain, timeout)),
            ASN: asn_resolver or ((lambda ip: rdap_asn(ip, timeout)) if enable_asn else None),
            RDNS: rdns_resolver or reverse_dns,
        }
        self.redis = redis_client
        self.key_prefix = key_prefix
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        # (kind, key) -> (value, negative-until wall time or None for positive)
        self._cache: dict[tuple[str, str], tuple[Any, float | None]] = {}
        # (kind, key) -> monotonic deadline
        self._inflight: dict[tuple[str, str], float] = {}
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._closed = False
        self._workers = [
            threading.Thread(target=self._work, name=f"flowalerts-lookup-{i}", daemon=True)
            for i in range(max(1, self.config.max_concurrent))
        ]
        for worker in self._workers:
            worker.start()

    # -- public API (never blocks) ------------------------------------------------
    def creation_date(self, domain: str) -> dt.datetime | None:
        if not isinstance(domain, str) or not domain or len(domain) > 253:
            return None
        return self._get(WHOIS, domain.lower().rstrip("."))

    def asn(self, ip: str) -> str | None:
        return self._get(ASN, ip) if isinstance(ip, str) and ip else None

    def rdns(self, ip: str) -> str | None:
        return self._get(RDNS, ip) if isinstance(ip, str) and ip else None

    def close(self) -> None:
        """Stop the workers without waiting for lookups still running."""
        self._closed = True
        for _ in self._workers:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    # -- cache and scheduling -------------------------------------------------------
    def _get(self, kind: str, key: str) -> Any:
        if self._resolvers.get(kind) is None or self._closed:
            return None
        item = (kind, key)
        with self._lock:
            cached = self._cache.get(item)
            if cached is not None:
                value, negative_until = cached
                if negative_until is None or negative_until > self._wall():
                    return value
                del self._cache[item]
            deadline = self._inflight.get(item)
            if deadline is not None:
                if self._clock() > deadline:
                    # Too slow: give up on it for now (a late answer still lands).
                    del self._inflight[item]
                    self._store_locked(item, None, negative=True)
                    self.notes["lookups_timeout"] += 1
                    self.notes["lookups_failed"] += 1
                    return None
                self.notes["lookups_pending"] += 1
                return None
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.notes["lookups_dropped"] += 1
                return None
            self._inflight[item] = self._clock() + self.config.timeout + self._queue.qsize() * self.config.timeout
            self.notes["lookups_started"] += 1
            self.notes["lookups_pending"] += 1
        return None

    def _store_locked(self, item: tuple[str, str], value: Any, negative: bool) -> None:
        if len(self._cache) >= MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))
        until = self._wall() + self.config.negative_cache_seconds if negative else None
        self._cache[item] = (value, until)

    # -- workers ---------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._closed:
                return
            kind, key = item
            try:
                found, value = self._from_redis(kind, key)
                if not found:
                    value = self._resolvers[kind](key)
                    self._to_redis(kind, key, value)
                with self._lock:
                    self._inflight.pop(item, None)
                    self._store_locked(item, value, negative=value is None)
                    self.notes["lookups_cached" if found else "lookups_done"] += 1
            except Exception as exc:  # network errors, parser errors, anything
                log.debug("lookup %s %s failed: %s", kind, key, exc)
                with self._lock:
                    self._inflight.pop(item, None)
                    self._store_locked(item, None, negative=True)
                    self.notes["lookups_failed"] += 1
                self._to_redis(kind, key, None)

    def _redis_key(self, kind: str) -> str:
        return f"{self.key_prefix}:cache:{kind}"

    def _from_redis(self, kind: str, key: str) -> tuple[bool, Any]:
        if self.redis is None:
            return False, None
        try:
            raw = self.redis.hget(self._redis_key(kind), key)
        except Exception:
            return False, None
        if raw is None:
            return False, None
        try:
            data = json.loads(raw)
        except (ValueError, TypeError):
            return False, None
        if not isinstance(data, dict):
            return False, None
        value = _decode(kind, data.get("value"))
        if value is None:
            retry_at = data.get("retry_at")
            if not isinstance(retry_at, (int, float)) or retry_at <= self._wall():
                return False, None  # an expired negative entry: ask again
        return True, value

    def _to_redis(self, kind: str, key: str, value: Any) -> None:
        if self.redis is None:
            return
        data: dict[str, Any] = {"value": _encode(kind, value), "at": self._wall()}
        if value is None:
            data["retry_at"] = self._wall() + self.config.negative_cache_seconds
        try:
            self.redis.hset(self._redis_key(kind), key, json.dumps(data))
        except Exception as exc:
            log.debug("cannot persist lookup %s %s: %s", kind, key, exc)


def make_lookups(config: Config, offline: bool, redis_client: Any = None) -> Lookups:
    """NullLookups with --offline or ``lookups.enabled: false``, else OnlineLookups."""
    if offline or not config.lookups.enabled:
        return NullLookups()
    return OnlineLookups(config.lookups, redis_client=redis_client, key_prefix=config.redis.key_prefix)
