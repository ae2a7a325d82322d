"""The module driver: the one API every host uses to run Flowalerts.

Hosts (Slips in-process, Slips attach, ``flowalerts run`` / workers, the
unit-test harness) turn their input into the items of
``flowalerts.core.messages`` and hand them over in stream order with
``feed(items)``, which returns the evidence found:

* ``Message``                  one record;
* ``Advance``                  flow time moved (fires due timers, purges state);
* ``TwClosed``                 a time window of a profile ended;
* ``End``                      end of input: every timer fires, every window
                               closes, every detection settles;
* a ``Fact`` (workers)         a global fact replicated from the producer.

(``handle``, ``advance``, ``window_closed`` and ``finish`` do the same for one
item each.) A worker's checkpoint is ``snapshot()`` and ``restored(...)``. Written once here: learners before
detections, the late-record rule, timers, window settling, enrichment of the
evidence from what the traffic taught (AS, SNI of destinations, rDNS, resolved domains),
disabled evidence types, and error isolation: a detection that raises is
isolated (the others go on), counted with its first traceback, and the run is
marked degraded (``health``). With ``strict=True`` (the unit-test harness)
errors are re-raised instead.

With several workers, ``role`` splits the work: the producer runs the global
learners (``learn``) and replicates their facts to every partition; a worker
``apply_facts`` and runs everything else.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import msgspec

from flowalerts.core.config import Config
from flowalerts.core.evidence import AsInfo, Evidence, Ioc, IoCType
from flowalerts.core.facts import Fact, Facts
from flowalerts.core.health import Health
from flowalerts.core.messages import Advance, Dispatcher, End, Message, TwClosed
from flowalerts.core.state import State
from flowalerts.engine.detection import (
    Detection,
    Learner,
    ModuleContext,
    format_exception,
    registered,
    skipped_detections,
)
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups, NullLookups

log = logging.getLogger(__name__)

Role = Literal["all", "producer", "worker"]


class DriverCounters(msgspec.Struct, kw_only=True):
    """What a checkpoint keeps besides the state: records processed per
    channel and the run's health (``Health.to_builtins``)."""

    processed: dict[str, int]
    health: dict[str, Any]

# Owner of the timers that close a window late (``Detection.window_close_delay``).
CLOSE_OWNER = "__window_close__"


class DetectionFailed(Exception):
    """Raised in strict mode when a detection or learner raises."""


class ModuleDriver:
    def __init__(
        self,
        config: Config,
        knowledge: Knowledge | None = None,
        lookups: Lookups | None = None,
        *,
        state: State | None = None,
        detections: Iterable[type[Detection]] | None = None,
        learners: Iterable[type[Learner]] | None = None,
        available_logs: set[str] | None = None,
        role: Role = "all",
        strict: bool = False,
        live: bool = False,
        wall_clock: Callable[[], float] = lambda: 0.0,
        notify: Callable[[str], None] = lambda text: None,
    ) -> None:
        all_detections, all_learners = registered()
        detection_classes = list(detections) if detections is not None else list(all_detections.values())
        if learners is not None:
            learner_classes = list(learners)
        elif detections is not None:
            # Only what the chosen detections declare they need (unit harness).
            learner_classes = list(dict.fromkeys(need for cls in detection_classes for need in cls.needs))
        else:
            learner_classes = list(all_learners.values())
        self.config = config
        self.state = state or State()
        self.facts = Facts(self.state)
        self.knowledge = knowledge or Knowledge.empty()
        self.lookups = lookups or NullLookups()
        self.role = role
        self.strict = strict
        self.health = Health()
        self._out: list[Evidence] = []
        # Set by a host that writes evidence as it comes (``Pipeline``): each
        # evidence goes there at once and the calls below return empty lists,
        # so the end of input, which decides every pending timer and window
        # at once, never holds all its evidence in memory.
        self.emit: Callable[[Evidence], None] | None = None
        self.ctx = ModuleContext(
            config=config,
            state=self.state,
            facts=self.facts,
            knowledge=self.knowledge,
            lookups=self.lookups,
            live=live,
            wall_clock=wall_clock,
            notify=notify,
            report=self._collect,
            late_window_use=self._late_window_use,
            fire_timer=self._fire_timer,
            undecided=self._undecided,
        )
        self.learners: list[Learner] = []
        for cls in learner_classes:
            if role == "worker" and cls.scope == "global":
                continue  # global facts arrive replicated from the producer
            if role == "producer" and cls.scope == "partition":
                continue
            self.learners.append(cls(self.ctx, config.section(cls.id, cls.Config)))
        self.detections: list[Detection] = []
        if role != "producer":
            self.health.skipped.update(skipped_detections(detection_classes, available_logs))
            for cls in detection_classes:
                if cls.id not in self.health.skipped:
                    self.detections.append(cls(self.ctx, config.section(cls.id, cls.Config)))
        self.by_id: dict[str, Detection] = {d.id: d for d in self.detections}
        self._learner_routes: dict[str, list[Learner]] = {}
        for learner in self.learners:
            for channel in learner.channels:
                self._learner_routes.setdefault(channel, []).append(learner)
        self._routes: dict[str, list[Detection]] = {}
        for detection in self.detections:
            for channel in detection.channels:
                self._routes.setdefault(channel, []).append(detection)
        # The hot path's view of the routes: (component, bound method) pairs,
        # so a record costs no attribute look-up per component.
        self._learn_calls = {channel: [(learner, learner.learn) for learner in learners]
                             for channel, learners in self._learner_routes.items()}
        self._handle_calls = {channel: [(detection, detection.handle) for detection in detections]
                              for channel, detections in self._routes.items()}
        # Late records (their window already settled) go only to detections
        # that declare ``late_records``; the others are counted as not seeing them.
        self._late_calls = {channel: [(d, handle) for d, handle in calls if d.late_records]
                            for channel, calls in self._handle_calls.items()}
        self._late_skipped = {channel: [d.id for d, _ in calls if not d.late_records]
                              for channel, calls in self._handle_calls.items()}
        self.disabled = {name.upper() for name in config.DisabledAlerts.disabled_detections}
        self.processed: Counter[str] = Counter()
        self.watermark = float("-inf")
        # Windows close this long after the host says they ended, so decisions
        # that wait for other logs (timers) still count in their window.
        self.close_delay = max((d.window_close_delay() for d in self.detections), default=0.0)
        self.finished = False
        self._dispatch = Dispatcher(
            message=self._handle,
            window_closed=self._window_closed_item,
            advance=self._advance_item,
            end=self._end_item,
            other=self.facts.apply,
        )

    @property
    def channels(self) -> set[str]:
        """The record channels the module reads (its learners' and detections'),
        so a host subscribes to exactly these."""
        return set(self._routes) | set(self._learner_routes)

    # -- records -------------------------------------------------------------------
    def feed(self, items: Iterable[Any]) -> list[Evidence]:
        """Process items in stream order (see the module docstring)."""
        self._dispatch(items)
        return self._take()

    def handle(self, msg: Message[Any]) -> list[Evidence]:
        """Run the learners, then the detections, of the record's channel."""
        self._handle(msg)
        return self._take()

    def _handle(self, msg: Message[Any]) -> None:
        # The hot path: _call inlined (one try per component, no extra frame).
        channel = msg.flow.channel
        if msg.late:
            self.health.late_records[channel] += 1
        learners = self._learn_calls.get(channel)
        if learners:
            apply = self.facts.apply
            for learner, learn in learners:
                try:
                    found = learn(msg)
                except Exception as exc:
                    found = self._failed(learner, "learn", exc)
                if found:
                    for fact in found:
                        apply(fact)
        calls = self._handle_calls
        if msg.late:
            calls = self._late_calls
            for ident in self._late_skipped.get(channel, ()):
                self.health.late_window_use[ident] += 1
        for detection, handle in calls.get(channel, ()):
            try:
                handle(msg)
            except Exception as exc:
                self._failed(detection, "handle", exc)
        self.processed[channel] += 1

    def learn(self, msg: Message[Any]) -> list[Fact]:
        """Producer role: the facts the (global) learners draw from a record."""
        facts: list[Fact] = []
        for learner in self._learner_routes.get(msg.flow.channel, ()):
            found = self._call(learner, "learn", learner.learn, msg)
            if found:
                for fact in found:
                    self.facts.apply(fact)
                    facts.append(fact)
        return facts

    def apply_facts(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            self.facts.apply(fact)

    # -- time ------------------------------------------------------------------------
    def advance(self, watermark: float) -> list[Evidence]:
        """Flow time reached ``watermark``: fire due timers, purge expired state."""
        self._advance(watermark)
        return self._take()

    def window_closed(self, profile: str, twid: int) -> list[Evidence]:
        """A window ended: final tally reports, ``on_window_closed``, then its state goes.

        With a ``close_delay`` (some detection decides after waiting for other
        logs) the close happens once the watermark is ``close_delay`` past the
        moment the host said the window ended (a timer of the driver's own).
        """
        self._window_closed(profile, twid)
        return self._take()

    def finish(self) -> list[Evidence]:
        """End of input: every timer fires, every window closes, detections settle."""
        self._finish()
        return self._take()

    def _advance(self, watermark: float) -> None:
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        # Timers first, then the purge: a timer due at t still sees the facts
        # that were valid at t. At end of input nothing is purged: the windows
        # that close then still read the facts of their time.
        self.state.advance(watermark, purge=False)
        for owner, key, payload in self.state.timers.pop_due(watermark):
            self._run_timer(owner, key, payload)
        if watermark < math.inf:
            self.state.advance(watermark)

    def _window_closed(self, profile: str, twid: int) -> None:
        if self.close_delay > 0 and -math.inf < self.watermark < math.inf:
            due = self.watermark + self.close_delay
            for owner, key, payload in self.state.timers.schedule(CLOSE_OWNER, (profile, twid), due):
                self._fire_timer(owner, key, payload)
            return
        self._close_window(profile, twid)

    def _close_window(self, profile: str, twid: int) -> None:
        owners = self.state.window_owners(profile, twid)
        for detection in self.detections:
            if detection.id in owners:
                self._call(detection, "window_closed", detection.settle_tallies, profile, twid)
            self._call(detection, "window_closed", detection.on_window_closed, profile, twid)
        self.state.close_window(profile, twid)
        self.processed["tw_closed"] += 1

    def _finish(self) -> None:
        self.finished = True
        self._advance(float("inf"))
        for profile, twid in self.state.open_windows():
            self._window_closed(profile, twid)
        for detection in self.detections:
            self._call(detection, "finish", detection.finish)

    def _advance_item(self, item: Advance) -> None:
        self._advance(item.watermark)

    def _window_closed_item(self, item: TwClosed) -> None:
        self._window_closed(item.profile, item.twid)

    def _end_item(self, item: End) -> None:
        self._finish()

    # -- checkpoints ------------------------------------------------------------------
    def snapshot(self, final: bool = False) -> tuple[DriverCounters, Iterator[bytes]]:
        """The driver's counters and its state, as pieces of bytes made one at
        a time (``State.snapshot_pieces``). ``final``: the input ended, so the
        state will never be resumed and only the counters are kept."""
        counters = DriverCounters(processed=dict(self.processed), health=self.health.to_builtins())
        return counters, (State() if final else self.state).snapshot_pieces()

    @classmethod
    def restored(cls, state_blob: bytes, counters: DriverCounters, config: Config, **options: Any) -> ModuleDriver:
        """A driver resuming from ``snapshot()`` (same construction options as
        the one that took it). Raises ValueError for a blob that is not a
        Flowalerts state (``State.restore``)."""
        state = State.restore(state_blob)
        driver = cls(config, state=state, **options)
        driver.watermark = state.watermark
        driver.processed = Counter(counters.processed)
        driver.health.restore(counters.health)
        return driver

    # -- internals -------------------------------------------------------------------
    def _run_timer(self, owner: str, key: Any, payload: Any) -> None:
        if owner == CLOSE_OWNER:
            self._close_window(*key)
            return
        detection = self.by_id.get(owner)
        if detection is not None:
            self._call(detection, "timer", detection.on_timer, key, payload)

    def _fire_timer(self, owner: str, key: Any, payload: Any) -> None:
        self.health.timers_fired_early[owner] += 1
        self._run_timer(owner, key, payload)

    def _undecided(self, owner: str) -> None:
        self.health.undecided[owner] += 1

    def _late_window_use(self, owner: str) -> None:
        self.health.late_window_use[owner] += 1

    def _call(self, component: Detection | Learner, where: str, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return func(*args)
        except Exception as exc:
            return self._failed(component, where, exc)

    def _failed(self, component: Detection | Learner, where: str, exc: Exception) -> None:
        """Isolate a component's error: count it, keep its first traceback (strict: raise)."""
        key = f"{component.id}:{where}"
        self.health.errors[key] += 1
        if key not in self.health.first_traceback:
            self.health.first_traceback[key] = format_exception()
            log.error("detection %s failed on %s (isolated, processing continues): %r", component.id, where, exc)
        if self.strict:
            raise DetectionFailed(f"{component.id} failed on {where}") from exc
        return None

    def _collect(self, evidence: Evidence) -> None:
        if evidence.evidence_type in self.disabled:
            self.health.disabled_evidence[evidence.evidence_type] += 1
            return
        for ioc in (evidence.attacker, evidence.victim):
            if ioc is not None and ioc.ioc_type is IoCType.IP:
                self._enrich(ioc)
        if self.emit is not None:
            self.emit(evidence)
            return
        self._out.append(evidence)

    def _enrich(self, ioc: Ioc) -> None:
        # What the traffic taught (each fact store adds its part: the SNI of a
        # destination, its rDNS, the names it was resolved from), then the
        # optional lookups and the organisations' AS data.
        self.facts.enrich(ioc)
        if ioc.rDNS is None:
            ioc.rDNS = self.lookups.rdns(ioc.value)
        if ioc.AS is None:
            found = self.knowledge.orgs.asn_of(ioc.value)
            if found is not None:
                ioc.AS = AsInfo(number=found[0], org=found[1] or "")

    def _take(self) -> list[Evidence]:
        out, self._out = self._out, []
        return out
