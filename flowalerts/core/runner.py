"""``flowalerts run``: Zeek logs -> profiler -> bus -> FlowAlerts -> bus -> sink.

Everything goes through Redis (embedded fakeredis, or a real server with
``--redis``). In one process the stages take turns: after each record batch is
published, the module and then the sink process what is waiting, so the run is
deterministic and the bus never holds more than a few batches. The run ends
only when the module has acknowledged the end of input (after settling all
pending work) and the sink has received that acknowledgement, so no message is
lost or left behind; read == processed is checked per log type.
"""

from __future__ import annotations

import dataclasses
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis

from flowalerts.core.alerts import Alert, AlertTracker
from flowalerts.core.bus import BATCH, Topic, connect
from flowalerts.core.codec import encode_batch
from flowalerts.core.config import Config
from flowalerts.core.facts import LearnedFacts
from flowalerts.core.input.folder import FolderReader
from flowalerts.core.input.warnings import InputWarnings
from flowalerts.core.knowledge import Knowledge
from flowalerts.core.lookups import Lookups, make_lookups
from flowalerts.core.messages import INPUT_END, TW_CLOSED
from flowalerts.core.profiler import Profiler
from flowalerts.core.records import BY_CHANNEL
from flowalerts.core.sink import EvidenceSink
from flowalerts.core.state import State, StateMirror
from flowalerts.core.worker import ModuleWorker
from flowalerts.modules.flow_alerts.detector import DetectorContext
from flowalerts.modules.flow_alerts.module import FlowAlerts


@dataclasses.dataclass
class RunSummary:
    read: Counter[str]
    processed: Counter[str]
    skipped: Counter[str]
    evidence: Counter[str]
    elapsed: float
    warnings: int
    module_errors: dict[str, int]
    interrupted: bool = False
    notes: list[str] = dataclasses.field(default_factory=list)
    alerts: list[Alert] = dataclasses.field(default_factory=list)
    profiles: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def complete(self) -> bool:
        return all(self.read[t] == self.processed[t] for t in self.read)

    @property
    def total_read(self) -> int:
        return sum(self.read.values())


@dataclasses.dataclass
class RunOptions:
    path: str
    outdir: str
    config: Config
    redis_url: str | None = None
    offline: bool = False
    lookups: Lookups | None = None
    knowledge: Knowledge | None = None
    emit: Callable[[str], None] = print
    progress: Callable[[int], None] | None = None
    # Live mode (--follow): a reader factory (path, warnings) -> reader whose
    # iterator may yield None when idle, a stop event it honours, and live=True
    # for the detectors (ctx.live / ctx.wall_clock).
    live: bool = False
    reader_factory: Callable[[str, InputWarnings], Any] | None = None
    stop_event: Any = None


class _StopFlag:
    """Set by SIGINT/SIGTERM; the read loop stops at the next record."""

    raised = False
    event: Any = None


def build_module(config: Config, state: State, knowledge: Knowledge, lookups: Lookups, emit: Callable[[str], None], live: bool = False) -> FlowAlerts:
    ctx = DetectorContext(
        config=config,
        state=state,
        facts=LearnedFacts(state),
        knowledge=knowledge,
        lookups=lookups,
        live=live,
        wall_clock=time.time,
        notify=emit,
    )
    return FlowAlerts(ctx)


def run(options: RunOptions) -> RunSummary:
    started = time.perf_counter()
    config = options.config
    warnings = InputWarnings(emit=options.emit)
    reader = options.reader_factory(options.path, warnings) if options.reader_factory else FolderReader(options.path, warnings)
    client = connect(options.redis_url or config.redis.url)
    prefix = f"{config.redis.key_prefix}:{secrets.token_hex(4)}"
    transport = config.redis.transport
    records = Topic(client, "records", transport, prefix, config.redis.max_pending_messages)
    evidence_topic = Topic(client, "evidence", transport, prefix, config.redis.max_pending_messages)

    knowledge = options.knowledge or Knowledge.load(config, notify=options.emit)
    lookups = options.lookups or make_lookups(config, options.offline, redis_client=client)
    state = State(mirror=StateMirror(client, prefix))
    module = build_module(config, state, knowledge, lookups, options.emit, live=options.live)
    worker = ModuleWorker(module, records, evidence_topic)
    sink = EvidenceSink(
        evidence_topic,
        options.outdir,
        disabled=set(config.DisabledAlerts.disabled_detections),
        json_name=config.output.alerts_json,
        log_name=config.output.alerts_log,
        alerts=AlertTracker(config.detection.evidence_detection_threshold, config.parameters.width),
        idmef=config.output.idmef,
    )
    profiler = Profiler(config)

    def pump() -> None:
        worker.pump()
        sink.pump()

    stop = _StopFlag()
    stop.event = options.stop_event
    previous_handlers = _install_signal_handlers(stop)
    try:
        batch: list[Any] = []
        batch_size = config.redis.batch_size
        count = 0
        for record in reader:
            if record is None:
                # Live reader is idle: hand over what is batched, flush outputs.
                if batch:
                    count += len(batch)
                    _publish(records, batch, pump)
                    batch = []
                pump()
                sink.flush()
                if options.progress:
                    options.progress(count)
                continue
            batch.append((record.channel, profiler.assign(record)))
            for closed in profiler.due_closures():
                batch.append((TW_CLOSED, closed))
            if len(batch) >= batch_size:
                count += len(batch)
                _publish(records, batch, pump)
                batch = []
                if options.progress:
                    options.progress(count)
            if stop.raised and not options.live:
                options.emit("interrupted: settling pending work and flushing outputs")
                break
        for closed in profiler.close_all():
            batch.append((TW_CLOSED, closed))
        if batch:
            _publish(records, batch, pump)
        records.publish(INPUT_END, b"")
        while not sink.done:
            worker.pump(block_ms=100)
            sink.pump(block_ms=100)
    finally:
        _restore_signal_handlers(previous_handlers)
        sink.close()
        records.close()
        evidence_topic.close()
        _clear_mirror(state)
        lookups.close()

    report = sink.module_report or {}
    processed = Counter()
    for channel, count in report.get("processed", {}).items():
        record_type = BY_CHANNEL.get(channel)
        if record_type is not None:
            processed[record_type.log_type] += count
    return RunSummary(
        read=reader.read_counts,
        processed=processed,
        skipped=reader.skipped_counts,
        evidence=sink.counts,
        elapsed=time.perf_counter() - started,
        warnings=warnings.total,
        module_errors=report.get("errors", {}),
        interrupted=stop.raised or bool(options.stop_event is not None and options.stop_event.is_set()),
        notes=warnings.notes,
        alerts=list(sink.alerts),
        profiles=sink.profile_counts,
    )


def _clear_mirror(state: State) -> None:
    """Best effort: a dead connection here must not mask the error that stopped the run."""
    if state.mirror is None:
        return
    try:
        state.mirror.clear()
    except (redis.RedisError, OSError):
        pass


def _publish(records: Topic, batch: list[Any], pump: Callable[[], None]) -> None:
    records.publish(BATCH, encode_batch(batch))
    # Let the consumers catch up; with a separate module process this waits.
    pump()
    records.wait_for_room(pump)


def _install_signal_handlers(stop: _StopFlag) -> dict[int, Any]:
    def handler(signum: int, frame: Any) -> None:
        stop.raised = True
        if stop.event is not None:
            stop.event.set()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
