"""``flowalerts run``: the standalone host, in one process.

Zeek logs -> readers (typed records) -> profiler (profiles, windows, flow
time) -> module driver (learners, detections, timers) -> sink (alerts.json,
alerts.log, alerts, IDMEF). One process does everything, so nothing goes
through Redis on the way (``flowalerts.workers`` spreads the same pipeline
over processes and a Redis).

The run ends when the input ends (or on SIGINT/SIGTERM): the watermark goes
to +inf, every timer fires, every window closes and every detection settles
before the outputs are closed. Read == processed is checked per log type.

Exit statuses (``RunSummary.exit_status``; the first that applies):

* 130 interrupted (SIGINT/SIGTERM): the outputs cover what was read;
* 4 input unusable: lines were read but not one record was usable (or, raised
  before the run as ``InputUnusable``, no input file could be opened);
* 1 incomplete: a record read was not processed, or some input exists but
  was not (fully) read (an unreadable file, a file stopped at an input limit);
* 3 degraded: a detection raised (isolated; see the summary), unless
  ``health.exit_zero_when_degraded``;
* 0 ok. (2, a usage or setup error, is the CLI's: bad arguments, config, -o.)

With ``redis_url`` the same run is spread over worker processes through a
Redis (``flowalerts.hosts.distributed.producer``, ``flowalerts.hosts.distributed.worker``): this process reads,
profiles and learns the global facts, workers run the detections, and the
evidence comes back here to the same sink.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from flowalerts.core.config import Config
from flowalerts.core.evidence import Evidence
from flowalerts.core.health import Health
from flowalerts.core.messages import End
from flowalerts.core.records import BY_CHANNEL
from flowalerts.engine.detection import load_components
from flowalerts.engine.driver import ModuleDriver
from flowalerts.engine.profiler import Profiler
from flowalerts.io.alerts import AlertTracker
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.sink import EvidenceSink, prepare_outdir
from flowalerts.io.summary import RunSummary
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups, make_lookups


@dataclasses.dataclass
class RunOptions:
    path: str
    outdir: str
    config: Config
    offline: bool = False
    lookups: Lookups | None = None
    knowledge: Knowledge | None = None
    emit: Callable[[str], None] = print
    progress: Callable[[int], None] | None = None
    # Live mode (--follow): a reader factory (path, warnings) -> reader whose
    # iterator yields None when idle, and a stop event it honours.
    live: bool = False
    reader_factory: Callable[[str, InputWarnings], Any] | None = None
    stop_event: Any = None
    # Tests: re-raise detection errors instead of isolating them.
    strict: bool = False
    # Distributed run (flowalerts.hosts.distributed.producer): a Redis URL, local worker
    # processes to start (0: only workers started elsewhere), partitions (0:
    # redis.partitions, else one per worker).
    redis_url: str | None = None
    workers: int = 1
    partitions: int = 0
    quiet: bool = False
    worker_command: list[str] | None = None
    # Tests: the detection classes to run (default: every registered one).
    detections: list[Any] | None = None


class Pipeline:
    """Profiler -> driver -> sink, in one process (also used by live mode and tests)."""

    def __init__(self, config: Config, driver: ModuleDriver, sink: EvidenceSink | None, warn: Callable[[str, str], None]) -> None:
        self.config = config
        self.driver = driver
        self.sink = sink
        self.profiler = Profiler.from_config(config, warn=warn)
        self.evidence: list[Evidence] = []
        self.keep_evidence = sink is None
        driver.emit = self._emit_one

    @property
    def processed(self) -> Counter[str]:
        """Records (and window closes) processed, per channel."""
        return self.driver.processed

    @property
    def health(self) -> Health:
        return self.driver.health

    def close(self) -> None:
        pass

    stop_flag: Any = None

    def feed(self, record: Any, where: str = "", wall_now: float | None = None) -> None:
        self._dispatch(self.profiler.assign(record, where))
        if wall_now is not None:
            self.profiler.note_wall(wall_now)

    def idle(self, wall_now: float | None = None) -> None:
        """The input is idle (live mode): release the records held while T0
        is chosen, and let flow time follow the wall clock on a quiet sensor
        (``Profiler.quiet_advance``)."""
        self._dispatch(self.profiler.flush())
        if wall_now is not None:
            self._dispatch(self.profiler.quiet_advance(wall_now, self.config.time.live_idle_seconds))

    def finish(self) -> None:
        self._dispatch([*self.profiler.finish(), End()])

    def _dispatch(self, items: list[Any]) -> None:
        found = self.driver.feed(items)
        if found:
            self._emit(found)

    def _emit(self, evidences: list[Evidence]) -> None:
        for evidence in evidences:
            self._emit_one(evidence)

    def _emit_one(self, evidence: Evidence) -> None:
        if self.sink is not None:
            self.sink.add(evidence)
        if self.keep_evidence:
            self.evidence.append(evidence)


# Young-generation size of the cyclic GC during a run. Every record allocates
# a few short-lived containers; at Python's default (700) the collector ran
# every few records (about 7% of the profiler+driver+sink CPU at 100k records).
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def _run_gc() -> Any:
    """A run's GC setting: what exists at startup (knowledge, tables, code)
    lives for the whole run, so it is frozen out of the collector's scans,
    and young collections are rarer. Restored afterwards (tests run many
    runs in one process)."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, previous[1], previous[2])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


class _StopFlag:
    """Set by SIGINT/SIGTERM; the read loop stops at the next record.

    ``count``: signals received (a distributed run waiting for its workers
    gives up at the second one, or at the first when no worker is alive)."""

    raised = False
    count = 0
    event: Any = None


def run(options: RunOptions) -> RunSummary:
    started = time.perf_counter()
    config = options.config
    # A bad -o is a usage error said in one line, before anything is read.
    prepare_outdir(options.outdir)
    warnings = InputWarnings(emit=options.emit)
    if options.reader_factory:
        reader = options.reader_factory(options.path, warnings)
    else:
        reader = FolderReader(options.path, warnings, config.input)
    knowledge = options.knowledge or Knowledge.load(config, notify=options.emit)
    lookups = options.lookups or make_lookups(config, options.offline)
    sink = EvidenceSink(
        options.outdir,
        json_name=config.output.alerts_json,
        log_name=config.output.alerts_log,
        alerts=AlertTracker(config.detection.evidence_detection_threshold, config.parameters.width),
        idmef=config.output.idmef,
    )
    pipeline: Any
    if options.redis_url:
        from flowalerts.hosts.distributed.producer import DistributedOptions, DistributedPipeline

        try:
            pipeline = DistributedPipeline(
                config,
                sink,
                DistributedOptions(
                    url=options.redis_url,
                    workers=options.workers,
                    partitions=options.partitions,
                    offline=options.offline,
                    live=options.live,
                    available_logs=getattr(reader, "available_logs", None),
                    quiet=options.quiet,
                    worker_command=options.worker_command,
                ),
                knowledge=knowledge,
                lookups=lookups,
                warn=warnings.warn,
                emit=options.emit,
                detections=options.detections,
            )
        except BaseException:
            sink.close()
            raise
    else:
        driver = ModuleDriver(
            config,
            knowledge,
            lookups,
            detections=options.detections,
            learners=None if options.detections is None else list(load_components()[1].values()),
            available_logs=getattr(reader, "available_logs", None),
            live=options.live,
            wall_clock=time.time,
            notify=options.emit,
            strict=options.strict,
        )
        pipeline = Pipeline(config, driver, sink, warn=warnings.warn)
    _note_skipped_detections(pipeline.health, reader, warnings)
    stop = _StopFlag()
    stop.event = options.stop_event
    pipeline.stop_flag = stop
    previous_handlers = _install_signal_handlers(stop)
    count = 0
    try:
        with _run_gc():
            for record in reader:
                if record is None:
                    # Live reader is idle: release what waits, flush the outputs.
                    pipeline.idle(time.time())
                    sink.flush()
                    if options.progress:
                        options.progress(count)
                    continue
                pipeline.feed(record, getattr(reader, "where", ""), time.time() if options.live else None)
                count += 1
                if options.progress and count % 1000 == 0:
                    options.progress(count)
                if stop.raised and not options.live:
                    options.emit("interrupted: settling pending work and flushing outputs")
                    break
            pipeline.finish()
    finally:
        _restore_signal_handlers(previous_handlers)
        pipeline.close()
        sink.close()
        lookups.close()

    processed: Counter[str] = Counter()
    for channel, n in pipeline.processed.items():
        record_type = BY_CHANNEL.get(channel)
        if record_type is not None:
            processed[record_type.log_type] += n
    return RunSummary(
        read=reader.read_counts,
        processed=processed,
        skipped=reader.skipped_counts,
        evidence=sink.counts,
        elapsed=time.perf_counter() - started,
        warnings=warnings.total,
        health=pipeline.health,
        interrupted=stop.raised or bool(options.stop_event is not None and options.stop_event.is_set()),
        notes=warnings.notes,
        alerts=sink.alerts,
        profiles=sink.profile_counts,
        late=pipeline.profiler.late,
        clock_jumps=pipeline.profiler.clock_jumps,
        updates=sink.updates,
        duplicates=sink.duplicates,
        exit_zero_when_degraded=config.health.exit_zero_when_degraded,
        unread_input=list(getattr(reader, "incomplete", [])),
    )


def _note_skipped_detections(health: Health, reader: Any, warnings: InputWarnings) -> None:
    """One note per missing log: which detections need it (so are not run), and why it is missing."""
    if not health.skipped:
        return
    available = getattr(reader, "available_logs", None) or set()
    missing_reason = getattr(reader, "missing_reason", lambda log_type: "absent")
    detections, _ = load_components()
    needing: dict[str, list[str]] = {}
    for ident in sorted(health.skipped):
        cls = detections.get(ident)
        for name in cls.required_logs() if cls else ():
            if name not in available:
                needing.setdefault(name, []).append(ident)
    for name, idents in sorted(needing.items()):
        warnings.note(
            f"the input has no {name}.log ({missing_reason(name)}): "
            f"{len(idents)} detection(s) that need it not run: {', '.join(idents)}"
        )


def _install_signal_handlers(stop: _StopFlag) -> dict[int, Any]:
    def handler(signum: int, frame: Any) -> None:
        stop.raised = True
        stop.count += 1
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
