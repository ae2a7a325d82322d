"""``flowalerts module --redis URL``: run only the FlowAlerts module against a
Redis where a Slips-style profiler publishes (spec 1.3.3).

It subscribes to the per-log-type channels (``new_flow``, ``new_dns``, ...)
and ``tw_closed``, decodes each Slips JSON message (``profileid``, ``twid``,
``flow`` with Slips field names, ``version``), runs the detectors, and
publishes every evidence as JSON on ``evidence_added`` in the shape Slips's
evidence handler reads (spec 1.6). With a version filter, messages whose
``version`` differs are dropped, as Slips does. It stops on SIGINT/SIGTERM
(or a stop event), settles pending work and publishes what that produces.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import redis

from flowalerts.bus import BusError, connect
from flowalerts.codec import decode_slips
from flowalerts.config import Config
from flowalerts.evidence import Evidence, Ioc
from flowalerts.input.zeek import MAX_TS
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.ips import parse_ip
from flowalerts.lookups import Lookups, NullLookups
from flowalerts.messages import EVIDENCE_ADDED, TW_CLOSED, TwClosed
from flowalerts.records import BY_CHANNEL, Record
from flowalerts.sink import EvidenceSink
from flowalerts.state import State

log = logging.getLogger(__name__)

# How many messages are handled between two watermark advances.
_ADVANCE_EVERY = 256


def _usable(flow: Record) -> bool:
    """The checks the Zeek readers apply, for records that came from Redis."""
    ts = flow.starttime
    if not isinstance(ts, (int, float)) or not math.isfinite(ts) or not 0 <= ts <= MAX_TS:
        return False
    if (flow.saddr and parse_ip(flow.saddr) is None) or (flow.needs_saddr and not flow.saddr):
        return False
    if (flow.daddr and parse_ip(flow.daddr) is None) or (flow.needs_daddr and not flow.daddr):
        return False
    return 0 <= flow.sport <= 65535 and 0 <= flow.dport <= 65535


def _ioc_dict(ioc: Ioc, with_profile: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "direction": ioc.direction.value,
        "ioc_type": ioc.ioc_type.value,
        "value": ioc.value,
    }
    if with_profile:
        out["profile"] = {"ip": ioc.value} if ioc.ioc_type.value == "IP" else None
    out.update(
        {
            "TI": None,
            "AS": ioc.AS,
            "rDNS": ioc.rDNS,
            "SNI": ioc.SNI,
            "DNS_resolution": list(ioc.domains) if ioc.domains else None,
            "queries": None,
            "CNAME": None,
        }
    )
    return out


def slips_evidence(evidence: Evidence, version: str | None = None) -> dict[str, Any]:
    """An evidence as Slips's evidence handler reads it from ``evidence_added``."""
    out: dict[str, Any] = {
        "evidence_type": evidence.evidence_type.name,
        "description": evidence.description,
        "attacker": _ioc_dict(evidence.attacker, with_profile=True),
        "victim": _ioc_dict(evidence.victim, with_profile=False) if evidence.victim is not None else None,
        "threat_level": evidence.threat_level.name,
        "confidence": evidence.confidence,
        "profile": {"ip": evidence.profile},
        "timewindow": {"number": evidence.timewindow, "start_time": None, "end_time": None},
        "uid": list(evidence.uids),
        "timestamp": evidence.timestamp,
        "proto": None,
        "src_port": evidence.src_port,
        "dst_port": evidence.dst_port,
        "interface": "default",
        "method": "HEURISTIC",
        "id": evidence.id,
        "rel_id": list(evidence.rel_id) if evidence.rel_id else None,
    }
    if version is not None:
        out["version"] = version
    return out


@dataclasses.dataclass
class AttachOptions:
    redis_url: str
    config: Config
    version_filter: str | None = None
    outdir: str | None = None
    knowledge: Knowledge | None = None
    lookups: Lookups | None = None
    emit: Callable[[str], None] = print
    poll_seconds: float = 0.1
    # Prepended to every channel name (pub/sub is shared by all Redis DBs of a
    # server, so two instances on one server can be kept apart). Slips: "".
    channel_prefix: str = ""


@dataclasses.dataclass
class AttachSummary:
    received: Counter[str]
    dropped_version: int
    undecodable: int
    evidence: Counter[str]
    published: int
    elapsed: float
    module_errors: dict[str, int]
    interrupted: bool = False


class SlipsAttachment:
    """The subscribe -> detect -> publish loop."""

    def __init__(self, options: AttachOptions, client: Any | None = None) -> None:
        from flowalerts.runner import build_module
        from flowalerts.worker import ModuleWorker

        self.options = options
        config = options.config
        self.client = client if client is not None else connect(options.redis_url)
        knowledge = options.knowledge or Knowledge.load(config, notify=options.emit)
        self.lookups = options.lookups or NullLookups()
        self.module = build_module(config, State(), knowledge, self.lookups, options.emit)
        # Reuse the worker's enrichment (AS, SNI, rDNS, resolved domains).
        self._enricher = ModuleWorker(self.module, None, None)  # type: ignore[arg-type]
        self.sink = (
            EvidenceSink(
                None,
                options.outdir,
                disabled=set(config.DisabledAlerts.disabled_detections),
                json_name=config.output.alerts_json,
                log_name=config.output.alerts_log,
                idmef=config.output.idmef,
            )
            if options.outdir
            else None
        )
        self.disabled = {name.upper() for name in config.DisabledAlerts.disabled_detections}
        self.received: Counter[str] = Counter()
        self.evidence: Counter[str] = Counter()
        self.dropped_version = 0
        self.undecodable = 0
        self.published = 0
        self.last_version: str | None = options.version_filter
        self._pubsub: Any = None

    def subscribe(self) -> None:
        try:
            self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            prefix = self.options.channel_prefix
            self._pubsub.subscribe(*(prefix + name for name in (*sorted(BY_CHANNEL), TW_CLOSED)))
        except redis.RedisError as exc:
            raise BusError(f"cannot subscribe on Redis at {self.options.redis_url}: {exc}") from None

    def handle_raw(self, channel: str, data: bytes | str) -> list[Evidence]:
        """One Slips message -> the evidence it produces (not yet advanced)."""
        self.received[channel] += 1
        try:
            envelope = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            self.undecodable += 1
            return []
        if not isinstance(envelope, dict):
            self.undecodable += 1
            return []
        version = envelope.get("version")
        wanted = self.options.version_filter
        if wanted is not None and str(version) != wanted:
            self.dropped_version += 1
            return []
        if isinstance(version, str) and len(version) < 64:
            self.last_version = version
        try:
            msg = decode_slips(channel, data)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
            self.undecodable += 1
            return []
        if msg is None:
            self.undecodable += 1
            return []
        if isinstance(msg, TwClosed):
            return self.module.tw_closed(msg.profile, msg.twid)
        if not _usable(msg.flow):
            self.undecodable += 1
            return []
        return self.module.handle(channel, msg)

    def publish(self, evidences: list[Evidence]) -> None:
        if not evidences:
            return
        pipe = self.client.pipeline(transaction=False)
        for evidence in evidences:
            if evidence.evidence_type.value in self.disabled:
                continue
            self._enricher.enrich(evidence)
            self.evidence[evidence.evidence_type.value] += 1
            pipe.publish(self.options.channel_prefix + EVIDENCE_ADDED, json.dumps(slips_evidence(evidence, self.last_version)))
            self.published += 1
            if self.sink is not None:
                self.sink.add(evidence)
        pipe.execute()
        if self.sink is not None:
            self.sink.flush()

    def run(self, stop: threading.Event | None = None, stop_flag: Callable[[], bool] | None = None) -> AttachSummary:
        started = time.perf_counter()
        stop = stop or threading.Event()
        if self._pubsub is None:
            self.subscribe()
        out: list[Evidence] = []
        since_advance = 0
        try:
            while not stop.is_set() and not (stop_flag and stop_flag()):
                try:
                    item = self._pubsub.get_message(timeout=self.options.poll_seconds)
                except redis.RedisError as exc:
                    raise BusError(f"lost the Redis connection: {exc}") from None
                if item is None:
                    if since_advance:
                        out.extend(self.module.advance())
                        since_advance = 0
                    self.publish(out)
                    out = []
                    continue
                channel = item["channel"]
                if isinstance(channel, bytes):
                    channel = channel.decode("utf-8", errors="replace")
                channel = channel[len(self.options.channel_prefix) :]
                out.extend(self.handle_raw(channel, item["data"]))
                since_advance += 1
                if since_advance >= _ADVANCE_EVERY:
                    out.extend(self.module.advance())
                    since_advance = 0
                    self.publish(out)
                    out = []
            out.extend(self.module.finish())
            self.publish(out)
        finally:
            if self._pubsub is not None:
                try:
                    self._pubsub.close()
                except redis.RedisError:
                    pass
            if self.sink is not None:
                self.sink.close()
            self.lookups.close()
        return AttachSummary(
            received=self.received,
            dropped_version=self.dropped_version,
            undecodable=self.undecodable,
            evidence=self.evidence,
            published=self.published,
            elapsed=time.perf_counter() - started,
            module_errors=dict(self.module.errors),
            interrupted=stop.is_set() or bool(stop_flag and stop_flag()),
        )


def run_attached(options: AttachOptions, stop: threading.Event | None = None, ready: threading.Event | None = None) -> AttachSummary:
    """Attach until SIGINT/SIGTERM (main thread) or ``stop`` is set."""
    from flowalerts.runner import _install_signal_handlers, _restore_signal_handlers, _StopFlag

    attachment = SlipsAttachment(options)
    attachment.subscribe()
    if ready is not None:
        ready.set()
    flag = _StopFlag()
    previous = _install_signal_handlers(flag)
    try:
        return attachment.run(stop, stop_flag=lambda: flag.raised)
    finally:
        _restore_signal_handlers(previous)


def format_attach_summary(summary: AttachSummary) -> str:
    lines = ["", "Flowalerts module summary", "========================="]
    lines.append(f"messages received: {sum(summary.received.values())} in {summary.elapsed:.1f}s")
    for channel, count in sorted(summary.received.items()):
        lines.append(f"  {channel:<24} {count:>8}")
    if summary.dropped_version:
        lines.append(f"dropped (other version): {summary.dropped_version}")
    if summary.undecodable:
        lines.append(f"undecodable messages: {summary.undecodable}")
    if summary.module_errors:
        errors = ", ".join(f"{name} x{count}" for name, count in sorted(summary.module_errors.items()))
        lines.append(f"detector errors (isolated, processing continued): {errors}")
    lines.append(f"evidence published on {EVIDENCE_ADDED}: {summary.published}")
    for name, count in sorted(summary.evidence.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {name:<34} {count:>7}")
    return "\n".join(lines)

