"""Optional network lookups (domain creation date, ASN, rDNS) behind one interface.

Lookups never block the flow loop: ``creation_date`` / ``asn`` / ``rdns``
return what the cache knows *now* (or None) and, when online, schedule a
background lookup whose result later calls will see. ``NullLookups`` is used
with ``--offline`` and in tests.

Domain creation dates come from RDAP (RFC 9083) over HTTPS with the standard
library: the RDAP server of the domain's TLD is found in IANA's bootstrap
file (fetched once per process), then ``<server>/domain/<name>`` is asked for
its ``registration`` event. Every request is bounded in total time
(``lookups.timeout``) and size (``flowalerts.knowledge.fetch``). There is no whois
client: python-whois would collide with Slips's ``whois`` package.

``OnlineLookups``:

* a small pool of daemon worker threads (``max_concurrent``) fed by a bounded
  queue; daemon threads, not a ``ThreadPoolExecutor``, so a hung lookup can
  never keep the process from exiting (``close`` does not wait for them);
* each lookup has a deadline (``timeout``): past it the key is negatively
  cached and counted as failed, even if the worker is still stuck; a late
  answer still lands in the cache;
* positive results are cached for the run; failures and "no answer" for
  ``negative_cache_seconds`` of wall-clock time;
* with a Redis client, results are persisted one key per answer,
  ``<prefix>:cache:<kind>:<digest of the name>`` (value: JSON with the name),
  each with an expiry: ``lookups.cache_ttl_seconds`` for answers,
  ``negative_cache_seconds`` for failures, so nothing stays in Redis forever;
  a later run reads them back before asking the network. Redis is only
  touched from the worker threads, never from the caller;
* ``notes`` counts what happened: lookups_started, lookups_done,
  lookups_failed, lookups_timeout, lookups_pending (calls answered "not yet"),
  lookups_dropped (queue full), lookups_cached (answered from Redis).

Resolvers are injectable (``resolver=``, ``asn_resolver=``, ``rdns_resolver=``)
so tests never touch the network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import queue
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from flowalerts.knowledge.fetch import FetchError, fetch

if TYPE_CHECKING:
    from flowalerts.core.config import Config
    from flowalerts.core.config import Lookups as LookupsConfig

log = logging.getLogger(__name__)

CREATION, ASN, RDNS = "rdap", "asn", "rdns"
MAX_QUEUED = 10_000
MAX_CACHED = 200_000
# IANA's RDAP bootstrap registry for domain names (RFC 9224).
RDAP_BOOTSTRAP_URL = "https://data.iana.org/rdap/dns.json"
RDAP_MAX_BYTES = 1 << 20
BOOTSTRAP_MAX_BYTES = 4 << 20

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
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        # RFC 3339 ("2024-05-01T10:00:00Z"): msgspec parses the "Z" that
        # Python 3.10's fromisoformat does not.
        try:
            return _as_datetime(msgspec.convert(value, dt.datetime))
        except msgspec.ValidationError:
            return None
    return None


def registration_date(rdap: Any) -> dt.datetime | None:
    """The ``registration`` event of an RDAP domain answer (RFC 9083 4.5)."""
    events = rdap.get("events") if isinstance(rdap, dict) else None
    if not isinstance(events, list):
        return None
    dates = [
        _as_datetime(event.get("eventDate"))
        for event in events[:100]
        if isinstance(event, dict) and event.get("eventAction") == "registration"
    ]
    found = [date for date in dates if date is not None]
    return min(found) if found else None


class RdapClient:
    """Creation dates of domains from RDAP, standard library only (see the module docstring)."""

    def __init__(self, timeout: float = 3.0, bootstrap_url: str = RDAP_BOOTSTRAP_URL, fetcher: Callable[..., bytes] = fetch) -> None:
        self.timeout = timeout
        self.bootstrap_url = bootstrap_url
        self._fetch = fetcher
        self._lock = threading.Lock()
        self._servers: dict[str, str] | None = None
        self._retry_bootstrap_at = 0.0

    def servers(self) -> dict[str, str]:
        """TLD -> RDAP base URL (https only), from the bootstrap file (once)."""
        with self._lock:
            if self._servers is not None:
                return self._servers
            if time.monotonic() < self._retry_bootstrap_at:
                raise FetchError("RDAP bootstrap unavailable (retrying later)")
            try:
                data = json.loads(self._fetch(self.bootstrap_url, timeout=self.timeout, max_bytes=BOOTSTRAP_MAX_BYTES))
            except (FetchError, ValueError, RecursionError):
                self._retry_bootstrap_at = time.monotonic() + 600.0
                raise
            self._servers = parse_bootstrap(data)
            return self._servers

    def creation_date(self, domain: str) -> dt.datetime | None:
        labels = domain.lower().rstrip(".").split(".")
        if len(labels) < 2:
            return None
        servers = self.servers()
        base = None
        for start in range(len(labels) - 1, -1, -1):
            base = servers.get(".".join(labels[start:])) or base
        if base is None:
            return None
        url = base.rstrip("/") + "/domain/" + urllib.parse.quote(".".join(labels), safe=".-")
        body = self._fetch(url, timeout=self.timeout, max_bytes=RDAP_MAX_BYTES, headers={"Accept": "application/rdap+json"})
        return registration_date(json.loads(body))


def parse_bootstrap(data: Any) -> dict[str, str]:
    servers: dict[str, str] = {}
    services = data.get("services") if isinstance(data, dict) else None
    for service in services if isinstance(services, list) else ():
        if not (isinstance(service, list) and len(service) == 2):
            continue
        tlds, urls = service
        https = [u for u in urls if isinstance(u, str) and u.startswith("https://")] if isinstance(urls, list) else []
        if not https or not isinstance(tlds, list):
            continue
        for tld in tlds:
            if isinstance(tld, str) and tld:
                servers[tld.lower()] = https[0]
    return servers


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
    if kind == CREATION and isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _decode(kind: str, value: Any) -> Any:
    if kind == CREATION:
        return _as_datetime(value) if isinstance(value, str) else None
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
        from flowalerts.core.config import Lookups as LookupsConfig

        self.config = config or LookupsConfig()
        timeout = self.config.timeout
        self._resolvers: dict[str, Resolver | None] = {
            CREATION: resolver or RdapClient(timeout).creation_date,
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
        return self._get(CREATION, domain.lower().rstrip("."))

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
                resolver = self._resolvers[kind]
                if not found and resolver is not None:
                    value = resolver(key)
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

    def _redis_key(self, kind: str, key: str) -> str:
        # A digest, not the name: traffic cannot shape or collide with keys.
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return f"{self.key_prefix}:cache:{kind}:{digest}"

    def _from_redis(self, kind: str, key: str) -> tuple[bool, Any]:
        if self.redis is None:
            return False, None
        try:
            raw = self.redis.get(self._redis_key(kind, key))
        except Exception:
            return False, None
        if raw is None:
            return False, None
        try:
            data = json.loads(raw)
        except (ValueError, TypeError, RecursionError):
            return False, None
        if not isinstance(data, dict) or data.get("key") != key:
            return False, None
        value = _decode(kind, data.get("value"))
        if value is None and data.get("value") is not None:
            return False, None  # unreadable: ask again
        return True, value

    def _to_redis(self, kind: str, key: str, value: Any) -> None:
        if self.redis is None:
            return
        data = {"key": key, "value": _encode(kind, value), "at": self._wall()}
        ttl = self.config.cache_ttl_seconds if value is not None else self.config.negative_cache_seconds
        try:
            self.redis.set(self._redis_key(kind, key), json.dumps(data), ex=max(1, math.ceil(ttl)))
        except Exception as exc:
            log.debug("cannot persist lookup %s %s: %s", kind, key, exc)


def make_lookups(config: Config, offline: bool, redis_client: Any = None) -> Lookups:
    """NullLookups with --offline or ``lookups.enabled: false``, else OnlineLookups."""
    if offline or not config.lookups.enabled:
        return NullLookups()
    return OnlineLookups(config.lookups, redis_client=redis_client, key_prefix=config.redis.key_prefix)
