"""The Detection and Learner base classes, and their registry.

A **detection** is one technique, in one file under ``detections/<log>/``.
It declares, as class attributes (pySigma style: found by declaration):

* ``id``        - its name, and the key of its section under ``flow_alerts:``
                  in slips.yaml;
* ``channels``  - the record channels it reads (``new_flow``, ``new_dns`` ...);
* ``Config``    - its typed config section (a ``SectionConfig``; unknown keys
                  are errors);
* ``evidence``  - the ``EvidenceKind``s it emits (threat level, confidence,
                  typed details, how Slips receives them);
* ``needs``     - the learners whose facts it reads (the unit harness runs
                  exactly these with it);
* ``logs``      - the Zeek logs it cannot decide without (default: the logs of
                  its channels); when one is absent or unreadable the
                  detection does not run and the summary says why.

It gets typed records and the narrow host API below, and reports typed
evidence. It opens no socket, reads no file and knows no host. It keeps no
state in attributes: everything goes through ``window``, ``table`` and the
timers, which the host can checkpoint and which expire with flow time.

A **learner** turns records into ``Fact`` updates other detections read
(``flowalerts.core.facts``). Learners run before detections on each record.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import (
    Details,
    Evidence,
    EvidenceKind,
    Ioc,
    NoDetails,
    ThreatLevel,
    link,
    uuid_shaped,
)
from flowalerts.core.records import BY_CHANNEL

if TYPE_CHECKING:
    from flowalerts.core.config import Config
    from flowalerts.core.facts import Fact, Facts
    from flowalerts.core.messages import Message
    from flowalerts.core.state import FlowTimeTable, State
    from flowalerts.knowledge import Knowledge
    from flowalerts.knowledge.lookups import Lookups


class NoConfig(SectionConfig):
    """For detections without settings."""


@dataclasses.dataclass
class ModuleContext:
    """What the module gives every detection and learner. Built by the driver."""

    config: Config
    state: State
    facts: Facts
    knowledge: Knowledge
    lookups: Lookups
    # True only in live mode: the only place wall time matters.
    live: bool = False
    # Wall clock, injectable for tests; read only when ``live``.
    wall_clock: Callable[[], float] = lambda: 0.0
    # Informational messages for the user ("Detected DNS server ...").
    notify: Callable[[str], None] = lambda text: None
    # Set by the driver: where reported evidence goes.
    report: Callable[[Evidence], None] = lambda evidence: None
    # Set by the driver: a late record used window state (counted per owner).
    late_window_use: Callable[[str], None] = lambda owner: None
    # Set by the driver: a timer that had to fire before its time (the timer
    # service was full): (owner, key, payload).
    fire_timer: Callable[[str, Any, Any], None] = lambda owner, key, payload: None
    # Set by the driver: a decision abstained from because bounded state it
    # needed was full (counted per owner, shown in the summary).
    undecided: Callable[[str], None] = lambda owner: None


DETECTIONS: dict[str, type[Detection]] = {}
LEARNERS: dict[str, type[Learner]] = {}


class _Component:
    """What detections and learners share: identity, channels, state access."""

    id: ClassVar[str] = ""
    channels: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[SectionConfig]] = NoConfig
    abstract: ClassVar[bool] = False

    def __init__(self, ctx: ModuleContext, config: Any = None) -> None:
        self.ctx = ctx
        self.config = config if config is not None else self.Config()
        self.facts = ctx.facts
        self.knowledge = ctx.knowledge
        self.lookups = ctx.lookups
        self._state = ctx.state
        # The component's tables by short name (a component lives as long as
        # its state: a restored checkpoint gets new components).
        self._tables: dict[str, FlowTimeTable[Any]] = {}

    @classmethod
    def _check_declaration(cls) -> None:
        if not cls.id or not cls.id.isidentifier() or cls.id != cls.id.lower():
            raise TypeError(f"{cls.__name__}: id must be a lower_snake_case identifier, got {cls.id!r}")
        unknown = [channel for channel in cls.channels if channel not in BY_CHANNEL]
        if unknown or not cls.channels:
            raise TypeError(f"{cls.__name__}: unknown or missing channels {unknown or cls.channels}")

    # -- state ------------------------------------------------------------------
    def window(self, msg: Message[Any]) -> dict[Any, Any]:
        """This component's dict for the record's (profile, window).

        A late record (its window already closed) gets a fresh dict that is
        thrown away: it is counted, never mixed into a reopened window.
        """
        if msg.late:
            self.ctx.late_window_use(self.id)
            return {}
        return self._state.window(self.id, msg.profile, msg.twid)

    def window_of(self, profile: str, twid: int) -> dict[Any, Any] | None:
        """The dict of (profile, twid) if it exists (e.g. in ``on_window_closed``)."""
        return self._state.peek_window(self.id, profile, twid)

    def table(self, name: str, max_entries: int = 0) -> FlowTimeTable[Any]:
        """A table private to this component whose entries expire with flow time."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self._state.table(f"{self.id}.{name}", max_entries)
        return table

    @property
    def watermark(self) -> float:
        """Flow time up to which every record has arrived (``flowalerts.core.clock``)."""
        return self._state.watermark


class Learner(_Component):
    """Turns records into ``Fact`` updates (``flowalerts.core.facts``).

    ``scope`` "global": facts about everyone (replicated to every partition
    by the producer when there are several workers); "partition": facts only
    the record's own profile uses (kept where the record is processed).
    """

    scope: ClassVar[str] = "global"

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract", False):
            return
        cls._check_declaration()
        if not register:  # a test's own learner: checked, not registered
            return
        if cls.id in LEARNERS and LEARNERS[cls.id] is not cls:
            raise TypeError(f"learner id {cls.id!r} declared twice")
        LEARNERS[cls.id] = cls

    def learn(self, msg: Message[Any]) -> Iterable[Fact] | None:  # pragma: no cover - interface
        raise NotImplementedError


class Tally(msgspec.Struct, gc=False):
    """Occurrences of one repeated event in one (profile, window), under one key.

    ``reported`` is the count the evidence was last reported with (0: never);
    ``threshold`` the count at which it is reported.
    ``extra`` holds whatever else the detection accumulates (ports, names ...);
    it stays an empty dict (64 bytes) when nothing is added: most tallies of
    a busy network never reach their threshold.
    """

    count: int = 0
    uids: list[str] = msgspec.field(default_factory=list)
    first_ts: float = float("inf")
    last_ts: float = float("-inf")
    reported: int = 0
    threshold: int = 1
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    def add(self, uid: str, ts: float) -> None:
        self.count += 1
        if uid and len(self.uids) < Evidence.MAX_UIDS:
            self.uids.append(uid)
        if ts < self.first_ts:
            self.first_ts = ts
        if ts > self.last_ts:
            self.last_ts = ts


class Detection(_Component):
    """Base of every detection; see the module docstring."""

    evidence: ClassVar[tuple[EvidenceKind, ...]] = ()
    needs: ClassVar[tuple[type[Learner], ...]] = ()
    logs: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract", False):
            return
        cls._check_declaration()
        if not cls.evidence:
            raise TypeError(f"{cls.__name__}: declares no evidence kinds")
        if not register:  # a test's own detection: checked, not registered
            return
        if cls.id in DETECTIONS and DETECTIONS[cls.id] is not cls:
            raise TypeError(f"detection id {cls.id!r} declared twice ({DETECTIONS[cls.id].__name__}, {cls.__name__})")
        DETECTIONS[cls.id] = cls

    @classmethod
    def required_logs(cls) -> tuple[str, ...]:
        if cls.logs is not None:
            return cls.logs
        return tuple(dict.fromkeys(BY_CHANNEL[channel].log_type for channel in cls.channels))

    # -- hooks (override what you need) -------------------------------------------
    def handle(self, msg: Message[Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def on_timer(self, key: Any, payload: Any) -> None:
        """A timer scheduled with ``schedule`` is due (flow time passed it)."""

    def on_window_closed(self, profile: str, twid: int) -> None:
        """(profile, twid) ended; its window dicts are dropped right after."""

    def finish(self) -> None:
        """End of input, after every timer fired and every window closed."""

    def window_close_delay(self) -> float:
        """Seconds of flow time after a window ends during which this
        detection's timers may still report into that window (e.g. the grace
        it waits for other logs). The host closes every window this much later
        (the largest value of the detections it runs), so such decisions are
        counted in their own window's tallies. Default: 0."""
        return 0.0

    # -- timers ----------------------------------------------------------------------
    def schedule(self, key: Any, due: float, payload: Any = None) -> None:
        """Call ``on_timer(key, payload)`` once the watermark reaches ``due``.

        Scheduling a key again replaces its timer. Timers survive window
        closes; at end of input every timer fires, in due order.
        """
        for owner, early_key, early_payload in self._state.timers.schedule(self.id, key, due, payload):
            self.ctx.fire_timer(owner, early_key, early_payload)

    def cancel(self, key: Any) -> Any:
        """Cancel the timer ``key``; returns its payload (None if none was pending)."""
        return self._state.timers.cancel(self.id, key)

    def pending(self, key: Any) -> Any:
        """The payload of the pending timer ``key``, or None."""
        return self._state.timers.pending(self.id, key)

    # -- evidence ---------------------------------------------------------------------
    def report(
        self,
        kind: EvidenceKind,
        *,
        msg: Message[Any] | None = None,
        profile: str | None = None,
        twid: int | None = None,
        ts: float | None = None,
        attacker: Ioc,
        victim: Ioc | None = None,
        description: str,
        details: Details | None = None,
        uids: Iterable[str] = (),
        threat_level: ThreatLevel | None = None,
        confidence: float | None = None,
        src_port: int | None = None,
        dst_port: int | None = None,
        proto: str | None = None,
        count: int = 1,
        occurrences: int = 1,
        evidence_id: str = "",
        send: bool = True,
    ) -> Evidence:
        """Build an evidence of ``kind`` (its declared level and confidence
        unless given) for the record ``msg`` (or an explicit profile, window
        and time), and hand it to the host unless ``send`` is False."""
        if kind not in self.evidence:
            raise ValueError(f"{type(self).__name__} reports {kind.name}, which it does not declare")
        if details is None:
            details = NoDetails()
        if not isinstance(details, kind.details):
            raise TypeError(f"{kind.name} carries {kind.details.__name__}, not {type(details).__name__}")
        if msg is not None:
            profile = msg.profile if profile is None else profile
            twid = msg.twid if twid is None else twid
            ts = msg.flow.starttime if ts is None else ts
            if not uids and msg.flow.uid:
                uids = (msg.flow.uid,)
        if profile is None or twid is None or ts is None:
            raise ValueError("report() needs msg, or profile, twid and ts")
        evidence = Evidence(
            evidence_type=kind.name,
            description=description,
            attacker=attacker,
            victim=victim,
            threat_level=threat_level or kind.threat_level,
            confidence=kind.confidence if confidence is None else confidence,
            profile=profile,
            timewindow=twid,
            uids=list(uids),
            ts=ts,
            proto=proto,
            src_port=src_port,
            dst_port=dst_port,
            count=count,
            occurrences=occurrences,
            details=details,
            id=evidence_id,
        )
        if send:
            self.ctx.report(evidence)
        return evidence

    def report_linked(self, *evidences: Evidence) -> list[Evidence]:
        """Report evidence built with ``send=False`` as one linked group (rel_id)."""
        linked = link(*evidences)
        for evidence in linked:
            self.ctx.report(evidence)
        return linked

    # -- repeated events: one evidence per (profile, window, kind, key) ------------------
    def tally(
        self,
        msg: Message[Any],
        key: Any,
        threshold: int,
        uid: str | None = None,
        update: Callable[[Tally], None] | None = None,
    ) -> Tally:
        """Count one occurrence of a repeated event under ``key`` in the
        record's window.

        When the count first reaches ``threshold``, ``report_tally`` is called
        (evidence as soon as it is known); when the window closes and the
        count grew since, it is called again and reports the *same* evidence
        id with the final count and every uid (hosts treat it as an update).
        So one (profile, window, key) never gives more than one evidence id.
        ``update(tally)`` runs after counting and before any report (to keep
        extra facts in ``tally.extra``). While ``hold_tally`` says so, the
        report at the threshold is held back to the window close. A late
        record (its window already closed) is counted in the summary and not
        reported.
        """
        if msg.late:
            # The window's evidence was settled when it closed: reporting the
            # same id again would replace it with this one record. Counted in
            # the summary (late window use) instead.
            self.ctx.late_window_use(self.id)
            return Tally()
        tallies = self.window(msg).setdefault("__tallies__", {})
        entry = tallies.get(key)
        if entry is None:
            entry = tallies[key] = Tally()
            entry.threshold = max(1, threshold)
        entry.add(msg.flow.uid if uid is None else uid, msg.flow.starttime)
        if update is not None:
            update(entry)
        if entry.reported == 0 and entry.count >= entry.threshold and not self.hold_tally(key, entry):
            entry.uids.sort()
            self.report_tally(msg.profile, msg.twid, key, entry)
            entry.reported = entry.count
        return entry

    def tally_id(self, kind: EvidenceKind, profile: str, twid: int, key: Any) -> str:
        """The evidence id of a tally: the same for the first report and its update."""
        return uuid_shaped(kind.name, profile, str(twid), repr(key))

    def hold_tally(self, key: Any, tally: Tally) -> bool:
        """True: do not report this tally at its threshold, only when its window
        closes (for evidence that waits on a verdict about the whole capture)."""
        return False

    def report_tally(self, profile: str, twid: int, key: Any, tally: Tally) -> None:
        """Report the evidence of a tally (override when using ``tally``).
        Use ``evidence_id=self.tally_id(...)``."""
        raise NotImplementedError(f"{type(self).__name__} uses tally() but does not implement report_tally()")

    def settle_tallies(self, profile: str, twid: int) -> None:
        """Called by the driver when a window closes: final reports of grown
        (or held) tallies that reached their threshold."""
        window = self.window_of(profile, twid)
        if not window:
            return
        for key, entry in (window.get("__tallies__") or {}).items():
            if entry.count > entry.reported and entry.count >= entry.threshold:
                entry.uids.sort()
                self.report_tally(profile, twid, key, entry)
                entry.reported = entry.count


def load_components() -> tuple[dict[str, type[Detection]], dict[str, type[Learner]]]:
    """Import every file under ``detections/`` and ``learners/`` so their classes register."""
    from flowalerts import detections as detections_package
    from flowalerts import learners as learners_package

    for package in (learners_package, detections_package):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    return dict(sorted(DETECTIONS.items())), dict(sorted(LEARNERS.items()))


def skipped_detections(detections: Iterable[type[Detection]], available_logs: set[str] | None) -> dict[str, str]:
    """Detections that cannot run for lack of a log they need, with why
    (``None``: the logs are not known, so every detection runs)."""
    skipped: dict[str, str] = {}
    if available_logs is None:
        return skipped
    for cls in detections:
        missing = [name for name in cls.required_logs() if name not in available_logs]
        if missing:
            skipped[cls.id] = "needs " + ", ".join(f"{name}.log" for name in missing)
    return skipped


def config_sections() -> dict[str, type[SectionConfig]]:
    """The config class of every detection and learner, by id (for the config loader)."""
    detections, learners = load_components()
    sections: dict[str, type[SectionConfig]] = {}
    for ident, cls in [*learners.items(), *detections.items()]:
        sections[ident] = cls.Config
    return sections


def format_exception() -> str:
    return traceback.format_exc(limit=20)
