"""Attach mode: the module as a separate process on Slips's Redis.

``flowalerts module --redis redis://HOST:PORT/DB`` runs the module next to a
running Slips (whose own flow_alerts is disabled):

1. **Waits for Slips's Redis** (bounded, a progress line every few seconds)
   and says "attached" only once it is connected and subscribed.
2. **Reads** the channels the module uses, on one subscription (so messages
   come in the order Slips published them), through the same adapter as the
   in-process module (``flowalerts.hosts.slips.host``).
3. **Stores evidence where Slips's evidence handler expects it**, as Slips's
   own modules do, in one atomic script per evidence: the uids in
   ``flows_causing_evidence``, the evidence in the hash
   ``profile_<ip>_timewindow<n>_evidence``, ``number_of_evidence`` + 1, THEN
   the evidence on ``evidence_added`` (with the ``version`` Slips's messages
   carry, which its evidence handler checks). An id Slips already has, or
   whitelisted, is not written again. An update of an aggregated evidence
   (same id) rewrites the stored object's count-dependent fields in place and
   is not published again: Slips would count it twice. Its weight steps
   (``SlipsHost.prepare``) are new evidence, stored and published as any.
4. **Survives lost connections**: it reconnects with backoff (up to
   ``redis.reconnect_seconds``), keeps the evidence it could not store and
   stores it after reconnecting, and says how many messages may have been
   lost meanwhile (pub/sub keeps no backlog): Slips counts what it published
   per channel (``msgs_published_at_runtime``), so published minus received
   is what we missed.
5. **Settles when Slips's input is complete**: while idle it reads Slips's
   progress figures (two times a second; ``SlipsHost.input_complete``); once
   they say so it publishes a barrier on a channel of its own and settles
   when the barrier comes back (``flowalerts.hosts.slips.host``), so its last
   evidence reaches Slips's evidence handler while Slips is still running.
6. **Ends** on SIGTERM/SIGINT, or when Slips's Redis is gone for good (Slips
   kills it at the end of its analysis): it settles what it holds (every
   timer fires, every open window closes), stores what it can, writes
   everything it produced to ``-o`` when given, reports, and exits 0.

A password in the Redis URL is never printed (``redact_url``).
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
import json
import os
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis
import redis.connection

from flowalerts.core.config import Config
from flowalerts.core.evidence import Evidence, escape_text
from flowalerts.core.urls import redact_url
from flowalerts.hosts.slips.encode import (
    EVIDENCE_ADDED,
    FLOWS_CAUSING_EVIDENCE,
    NUMBER_OF_EVIDENCE,
    WHITELISTED_EVIDENCE,
    evidence_hash,
    update_fields,
)
from flowalerts.hosts.slips.host import (
    ANALYSIS_KEY,
    BARRIER_CHANNEL,
    DELIVERED,
    FAILED,
    INPUT_DONE_KEY,
    PROCESSED_FLOWS_KEY,
    REFUSED,
    SKIPPED,
    TOTAL_FLOWS_FIELD,
    UPDATE_NOT_STORED,
    UPDATED,
    Outgoing,
    SlipsHost,
)
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups, NullLookups

# Slips's count of the messages it published, per channel.
MSGS_PUBLISHED = "msgs_published_at_runtime"
# Evidence kept while Slips's Redis is away (beyond it, they are counted as failed).
MAX_PENDING = 100_000
_REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)

# One evidence, stored as Slips's own modules store it (see the module docstring).
_STORE = """
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if redis.call('TTL', KEYS[2]) == -1 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[6], ARGV[4])
return 1
"""
# An update: only where the first version is still stored (not whitelisted).
_UPDATE = """
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""


def _quiet() -> dict[str, Any]:
    """Client options that send no command on connect (no CLIENT SETINFO, no
    HELLO: see ``Attachment.wait_for_redis``), for redis-py 5 to 8. RESP2, as
    Slips's own client (redis-py 8 would say HELLO 3 first)."""
    parameters = inspect.signature(redis.Redis.__init__).parameters
    options: dict[str, Any] = {}
    if "driver_info" in parameters:
        options["driver_info"] = None
    elif "lib_name" in parameters:
        options.update(lib_name=None, lib_version=None)
    if "protocol" in parameters:
        options["protocol"] = 2
    return options


QUIET = _quiet()


def _secrets(url: str) -> list[str]:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.password] if parts.password else []
    if parts.username and parts.password is None and "@" in parts.netloc:
        found.append(parts.username)  # redis://secret@host: the only credential is a password
    return [urllib.parse.unquote(s) for s in found] + found


def redact_text(text: str, url: str) -> str:
    """``text`` with the URL's credentials replaced by ***, escaped for one line."""
    for secret in _secrets(url):
        if secret:
            text = text.replace(secret, "***")
    return escape_text(text, limit=500)


class UsageError(Exception):
    """A problem the user must fix (one line, exit 2)."""


@dataclasses.dataclass
class AttachOptions:
    redis_url: str
    config: Config
    outdir: str | None = None
    knowledge: Knowledge | None = None
    lookups: Lookups | None = None
    # Seconds to wait for Slips's Redis to appear.
    wait_seconds: float = 120.0
    # Seconds a lost connection is retried before Slips is taken as gone (None: config).
    reconnect_seconds: float | None = None
    # The version Slips's evidence handler expects (None: the one its messages carry).
    slips_version: str | None = None
    emit: Callable[[str], None] = print
    poll_seconds: float = 0.1
    # Prepended to every channel name (tests share one server; Slips: "").
    channel_prefix: str = ""
    # Seconds between progress lines while waiting.
    progress_every: float = 5.0
    # A key Slips sets once its DB is set up (before it starts reading input);
    # we subscribe only then. "" or None: do not wait for it.
    ready_key: str | None = "number_of_evidence"
    # Seconds after the Redis port is first seen open before our first command
    # (while it starts, Slips counts the commands its Redis gets; see wait_for_redis).
    quiet_start: float = 5.0


@dataclasses.dataclass
class AttachResult:
    status: int
    summary: str
    lines: list[str]
    host: SlipsHost | None = None
    reconnects: int = 0
    possibly_lost: int | None = None
    attached: bool = False


class Attachment:
    def __init__(self, options: AttachOptions, stop: threading.Event) -> None:
        self.options = options
        self.stop = stop
        self.safe_url = redact_url(options.redis_url)
        config = options.config
        self.reconnect_seconds = (
            config.redis.reconnect_seconds if options.reconnect_seconds is None else options.reconnect_seconds
        )
        self.ttl = max(1, int(2 * config.parameters.width))
        self.host = SlipsHost(
            config,
            options.knowledge or Knowledge.load(config, notify=self.say),
            options.lookups or NullLookups(),
            info=self.say,
            warn=lambda text: self.say("warning: " + text),
        )
        self.prefix = options.channel_prefix
        self.client: Any = None
        self.pubsub: Any = None
        self.pending: collections.deque[Outgoing] = collections.deque()
        self.reconnects = 0
        self.lost_estimates: list[int] = []
        self.published_at_attach: dict[str, int] | None = None
        self.published_last: dict[str, int] | None = None
        self._published_read_at = 0.0
        self.gone = False
        self.sink: Any = None
        if options.outdir:
            from flowalerts.io.sink import EvidenceSink

            self.sink = EvidenceSink(options.outdir, json_name=config.output.alerts_json, log_name=config.output.alerts_log)

    # -- text ------------------------------------------------------------------------------------
    def safe(self, text: str) -> str:
        return redact_text(text, self.options.redis_url)

    def say(self, text: str) -> None:
        self.options.emit(self.safe(text))

    # -- connection ------------------------------------------------------------------------------
    def _connect(self, timeout: float) -> bool:
        """Connect, subscribe, snapshot Slips's publish counters. False if Redis is not there."""
        self._drop_connection()
        try:
            client = redis.Redis.from_url(
                self.options.redis_url,
                socket_connect_timeout=min(2.0, max(0.1, timeout)),
                socket_timeout=10.0,
                **QUIET,
            )
            client.ping()
            published = self._read_published(client)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(*(self.prefix + channel for channel in (*self.host.channels, BARRIER_CHANNEL)))
        except redis.AuthenticationError as exc:
            raise UsageError(f"Redis at {self.safe_url} refused us: {self.safe(str(exc))}") from None
        except _REDIS_ERRORS:
            return False
        except redis.RedisError as exc:
            # Authentication, wrong DB ...: retrying does not help.
            raise UsageError(f"Redis at {self.safe_url} refused us: {self.safe(str(exc))}") from None
        self.client, self.pubsub = client, pubsub
        self.host.barrier_lost()
        if self.published_at_attach is None:
            self.published_at_attach = published
        self.published_last = published
        return True

    def _drop_connection(self) -> None:
        for thing in (self.pubsub, self.client):
            if thing is not None:
                try:
                    thing.close()
                except Exception:
                    pass
        self.client = self.pubsub = None

    def _read_published(self, client: Any) -> dict[str, int]:
        raw = client.hgetall(MSGS_PUBLISHED) or {}
        out = {}
        for key, value in raw.items():
            name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            try:
                out[name] = int(value)
            except (TypeError, ValueError):
                continue
        return out

    def possibly_lost(self) -> int | None:
        """Messages Slips published on our channels since we attached that we did
        not receive (None: the publisher keeps no counters, e.g. not Slips)."""
        if not self.published_last:
            return None  # no counters at all: not Slips, or it published nothing yet
        base = self.published_at_attach or {}
        last = self.published_last or {}
        received = self.host.decoder.stats.received
        return sum(max(0, last.get(ch, 0) - base.get(ch, 0) - received[ch]) for ch in self.host.channels)

    def wait_for_redis(self) -> bool:
        """Wait (bounded) for the Redis port, then for Slips to have set up its DB,
        then connect. Until Slips is set up we send it (almost) no command: while it
        starts, Slips counts the commands its Redis receives for a second and, if
        it sees more than two, takes the server for someone else's and stops."""
        started = time.monotonic()
        deadline = started + self.options.wait_seconds
        self._next_progress = started + self.options.progress_every
        self.say(f"waiting for Slips's Redis at {self.safe_url} (up to {self.options.wait_seconds:g} s)")
        while not self._port_open():
            if self.stop.is_set() or not self._pause(started, deadline, "for Slips's Redis"):
                return False
        ready_key = self.options.ready_key
        if ready_key:
            # Slips checks its fresh Redis for other clients' commands right after
            # starting it: no command of ours until that is surely over.
            quiet_until = time.monotonic() + self.options.quiet_start
            while time.monotonic() < quiet_until:
                if self.stop.is_set() or not self._pause(started, deadline, "for Slips to start", step=0.2):
                    return False
        if ready_key:
            probe = None
            while True:
                try:
                    probe = probe or redis.Redis.from_url(
                        self.options.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0, **QUIET
                    )
                    if probe.exists(ready_key):
                        break
                except redis.AuthenticationError as exc:
                    raise UsageError(f"Redis at {self.safe_url} refused us: {self.safe(str(exc))}") from None
                except _REDIS_ERRORS:
                    probe = None
                except redis.RedisError as exc:
                    raise UsageError(f"Redis at {self.safe_url} refused us: {self.safe(str(exc))}") from None
                if self.stop.is_set():
                    return False
                if not self._pause(started, deadline, f"for Slips to set up its DB (key {ready_key})", step=1.0):
                    self.say(f"no sign of Slips in this Redis (no key {ready_key}): attaching anyway")
                    break
            if probe is not None:
                probe.close()
        while not self._connect(timeout=2.0):
            if self.stop.is_set() or not self._pause(started, deadline, "for Slips's Redis"):
                return False
        return True

    def _pause(self, started: float, deadline: float, what: str, step: float = 0.5) -> bool:
        """Sleep a step (False when the wait is over), with a progress line now and then."""
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= self._next_progress:
            self.say(f"still waiting {what} ({now - started:.0f} s)")
            self._next_progress = now + self.options.progress_every
        self.stop.wait(min(step, max(0.0, deadline - now)))
        return True

    def _port_open(self) -> bool:
        """A TCP connect, no Redis command (unix sockets: assumed open)."""
        try:
            params = redis.connection.parse_url(self.options.redis_url)
        except ValueError:
            return True
        if "path" in params:
            return os.path.exists(params["path"])
        try:
            with socket.create_connection((params.get("host", "localhost"), int(params.get("port", 6379))), timeout=1.0):
                return True
        except OSError:
            return False

    def reconnect(self, error: BaseException) -> bool:
        """Backoff until Redis answers again (True), or Slips is gone / we are stopped (False)."""
        self._drop_connection()
        lost_from = time.monotonic()
        self.say(
            f"lost the connection to Slips's Redis ({self.safe(str(error)) or type(error).__name__}); "
            f"reconnecting for up to {self.reconnect_seconds:g} s"
        )
        delay = 0.1
        while not self.stop.is_set():
            if self._connect(timeout=2.0):
                self.reconnects += 1
                lost = self.possibly_lost()
                if lost is None:
                    how_many = "an unknown number of messages"
                else:
                    already = sum(self.lost_estimates)
                    how_many = f"{max(0, lost - already)} messages"
                    self.lost_estimates.append(max(0, lost - already))
                self.say(
                    f"reconnected after {time.monotonic() - lost_from:.1f} s; {how_many} published meanwhile "
                    "may be lost (Redis pub/sub keeps no backlog to replay)"
                )
                self._flush_pending()
                return True
            if time.monotonic() - lost_from >= self.reconnect_seconds:
                self.gone = True
                self.say(
                    f"Slips's Redis did not come back within {self.reconnect_seconds:g} s: "
                    "taking it as the end of Slips's analysis"
                )
                return False
            self.stop.wait(delay)
            delay = min(2.0, delay * 2)
        return False

    # -- evidence --------------------------------------------------------------------------------
    def deliver(self, evidences: list[Evidence]) -> None:
        if self.sink is not None:
            for evidence in evidences:
                self.sink.add(evidence)
        for item in self.host.prepare(evidences):
            if len(self.pending) >= MAX_PENDING:
                self.host.outcome(item, FAILED)
                continue
            self.pending.append(item)
        self._flush_pending()

    def _flush_pending(self) -> None:
        while self.pending and self.client is not None:
            item = self.pending[0]
            if not self.host.wanted(item):
                self.pending.popleft()
                self.host.outcome(item, SKIPPED)
                continue
            try:
                result = self._store(item)
            except _REDIS_ERRORS:
                break  # keep it; the read loop notices the lost connection
            except redis.RedisError as exc:
                self.say(f"Slips's Redis refused evidence {item.evidence.evidence_type}: {self.safe(str(exc))}")
                result = FAILED
            self.pending.popleft()
            self.host.outcome(item, result)
        self.host.delivery.pending = len(self.pending)

    def _version(self) -> str | None:
        if self.options.slips_version:
            return self.options.slips_version
        versions = self.host.decoder.stats.versions
        return versions.most_common(1)[0][0] if versions else None

    def _store(self, item: Outgoing) -> str:
        payload = item.payload
        key, ident = evidence_hash(payload), payload["id"]
        uids = json.dumps(payload["uid"])
        if item.update:
            current = self.client.hget(key, ident)
            if current is None:
                return UPDATE_NOT_STORED
            stored = json.loads(current)
            stored.update(update_fields(payload))
            done = self.client.eval(_UPDATE, 3, key, FLOWS_CAUSING_EVIDENCE, WHITELISTED_EVIDENCE, ident, json.dumps(stored), uids)
            return UPDATED if done else UPDATE_NOT_STORED
        published = dict(payload)
        version = self._version()
        if version is not None:
            published["version"] = version
        done = self.client.eval(
            _STORE,
            4,
            key,
            FLOWS_CAUSING_EVIDENCE,
            NUMBER_OF_EVIDENCE,
            WHITELISTED_EVIDENCE,
            ident,
            json.dumps(payload),
            uids,
            json.dumps(published),
            self.ttl,
            self.prefix + EVIDENCE_ADDED,
        )
        return DELIVERED if done else REFUSED

    # -- the loop ------------------------------------------------------------------------------
    def _report_failures(self) -> None:
        for line in self.host.new_failures():
            self.say(line)

    def _refresh_published(self) -> None:
        now = time.monotonic()
        if self.client is None or now - self._published_read_at < 5.0:
            return
        self._published_read_at = now
        try:
            self.published_last = self._read_published(self.client)
        except _REDIS_ERRORS:
            pass

    def _check_input_done(self) -> None:
        """Idle: is Slips's input complete (its progress figures)? Then send the barrier."""
        client = self.client
        if client is None:
            return

        def read() -> tuple[Any, Any, Any]:
            pipe = client.pipeline(transaction=False)
            pipe.get(INPUT_DONE_KEY)
            pipe.hget(ANALYSIS_KEY, TOTAL_FLOWS_FIELD)
            pipe.get(PROCESSED_FLOWS_KEY)
            more, total, processed = pipe.execute()
            return more, total, processed

        try:
            self.host.poll_input_end(read, lambda token: client.publish(self.prefix + BARRIER_CHANNEL, token))
        except _REDIS_ERRORS:
            pass  # the read loop notices the lost connection
        except redis.RedisError:
            self.host.give_up_input_end()  # not Slips's keys (wrong types): the end comes when it stops

    def run(self) -> None:
        host = self.host
        prefix_len = len(self.prefix)
        while not self.stop.is_set():
            try:
                message = self.pubsub.get_message(timeout=self.options.poll_seconds)
            except _REDIS_ERRORS as exc:
                if not self.reconnect(exc):
                    break
                continue
            if message is None:
                self._flush_pending()
                self._refresh_published()
                self._check_input_done()
                continue
            channel = message.get("channel")
            if isinstance(channel, bytes):
                channel = channel.decode("utf-8", "replace")
            evidences = host.on_message(str(channel)[prefix_len:], message.get("data"))
            if evidences:
                self.deliver(evidences)
            self._report_failures()
        if not self.gone and self.client is not None:
            self._drain()

    def _drain(self, seconds: float = 2.0) -> None:
        """Stopping: handle what is already waiting on the subscription."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = self.pubsub.get_message(timeout=0.05)
            except _REDIS_ERRORS:
                self._drop_connection()
                return
            if message is None:
                return
            channel = message.get("channel")
            if isinstance(channel, bytes):
                channel = channel.decode("utf-8", "replace")
            evidences = self.host.on_message(str(channel)[len(self.prefix) :], message.get("data"))
            if evidences:
                self.deliver(evidences)

    def settle(self) -> None:
        """Every timer fires, every open window closes; store what Slips can still take."""
        self.deliver(self.host.finish())
        self._report_failures()
        if self.client is not None:
            try:
                self.published_last = self._read_published(self.client)
            except _REDIS_ERRORS:
                pass
        self._flush_pending()
        if self.sink is not None:
            self.sink.close()
        self._drop_connection()


def run_attach(options: AttachOptions, stop: threading.Event | None = None) -> AttachResult:
    """Attach until ``stop`` is set or Slips's Redis is gone for good."""
    stop = stop or threading.Event()
    try:
        redis.connection.parse_url(options.redis_url)
    except ValueError as exc:
        raise UsageError(f"invalid Redis URL {redact_url(options.redis_url)}: {exc}") from None
    attachment = Attachment(options, stop)
    attached = attachment.wait_for_redis()
    if not attached and not stop.is_set():
        raise UsageError(f"no Redis answered at {attachment.safe_url} within {options.wait_seconds:g} s")
    if attached:
        attachment.say(
            f"attached to Slips's Redis at {attachment.safe_url}; reading {', '.join(attachment.host.channels)}"
        )
        attachment.run()
    attachment.settle()
    return _result(attachment, attached)


def _result(attachment: Attachment, attached: bool) -> AttachResult:
    host = attachment.host
    lines = host.summary_lines()
    lost = attachment.possibly_lost()
    if attachment.reconnects:
        lines.append(f"reconnections to Slips's Redis: {attachment.reconnects}")
    if lost is None:
        lines.append("messages possibly lost: unknown (the publisher keeps no per-channel counters)")
    elif lost:
        lines.append(f"messages possibly lost: {lost} (Slips published them on our channels; we never received them)")
    pending = len(attachment.pending)
    if pending:
        lines.append(
            f"evidence not stored in Slips (its Redis was gone): {pending}"
            + (" (all written to the -o folder)" if attachment.sink is not None else "")
        )
    d = host.delivery
    produced = sum(host.produced.values())
    summary = (
        f"flowalerts module: {sum(host.decoder.stats.received.values())} messages "
        f"({host.decoder.stats.total_rejected} rejected), {produced} evidence "
        f"({sum(d.delivered.values())} stored in Slips, {sum(d.updated.values())} updates, "
        f"{sum(d.steps.values())} weight steps, "
        f"{sum(d.not_in_slips.values())} without a Slips type, {pending} not stored), "
        f"{host.failures} detection failures, {attachment.reconnects} reconnections, "
        f"{'?' if lost is None else lost} messages possibly lost"
    )
    degraded = host.failures > 0 and not attachment.options.config.health.exit_zero_when_degraded
    return AttachResult(
        status=3 if degraded else 0,
        summary=summary,
        lines=lines,
        host=host,
        reconnects=attachment.reconnects,
        possibly_lost=lost,
        attached=attached,
    )


def channel_counts(result: AttachResult) -> Counter[str]:
    """Messages received per channel (for tests and benchmarks)."""
    return Counter(result.host.decoder.stats.received) if result.host is not None else Counter()
