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
import traceback
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, overload

import msgspec
from typing_extensions import TypeVar

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import (
    Details,
    Evidence,
    EvidenceKind,
    Growth,
    Ioc,
    NoDetails,
    ThreatLevel,
    link,
    src_ip,
    uuid_shaped,
)
from flowalerts.core.records import BY_CHANNEL

if TYPE_CHECKING:
    from flowalerts.core.config import Config
    from flowalerts.core.facts import Fact, Facts, FactStore
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


DETECTIONS: dict[str, type[Detection[Any, Any]]] = {}
LEARNERS: dict[str, type[Learner[Any]]] = {}

CfgT = TypeVar("CfgT", bound=SectionConfig, default=NoConfig)
W = TypeVar("W")
S = TypeVar("S", bound="FactStore")

# The key of a detection's tallies in its window dict (only this module reads it).
_TALLIES = "__tallies__"


class _Component(Generic[CfgT]):
    """What detections and learners share: identity, channels, config, state access."""

    id: ClassVar[str] = ""
    channels: ClassVar[tuple[str, ...]] = ()
    # The typed config section: the generic parameter (``Detection[MyConfig]``).
    Config: ClassVar[type[SectionConfig]] = NoConfig
    abstract: ClassVar[bool] = False

    config: CfgT

    def __init__(self, ctx: ModuleContext, config: Any = None) -> None:
        self.ctx = ctx
        self.config = typing.cast("CfgT", config if config is not None else self.Config())
        self._store_cache: dict[type[FactStore], tuple[Facts, Any]] = {}
        self.knowledge = ctx.knowledge
        self.lookups = ctx.lookups
        self._state = ctx.state
        # The component's tables by short name (a component lives as long as
        # its state: a restored checkpoint gets new components).
        self._tables: dict[str, FlowTimeTable[Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for parameter in _generic_arguments(cls):
            if isinstance(parameter, type) and issubclass(parameter, SectionConfig) and "Config" not in cls.__dict__:
                cls.Config = parameter

    @classmethod
    def _check_declaration(cls) -> None:
        if not cls.id or not cls.id.isidentifier() or cls.id != cls.id.lower():
            raise TypeError(f"{cls.__name__}: id must be a lower_snake_case identifier, got {cls.id!r}")
        unknown = [channel for channel in cls.channels if channel not in BY_CHANNEL]
        if unknown or not cls.channels:
            raise TypeError(f"{cls.__name__}: unknown or missing channels {unknown or cls.channels}")

    # -- per-window state -----------------------------------------------------------
    @overload
    def window(self, msg: Message[Any]) -> dict[Any, Any]: ...

    @overload
    def window(self, msg: Message[Any], kind: type[W]) -> W: ...

    def window(self, msg: Message[Any], kind: type[Any] | None = None) -> Any:
        """This component's state for the record's (profile, window), dropped
        when the window closes: a dict, or the one instance of ``kind`` (a
        class of the detection's own, created with no arguments on first use).

        A late record (its window already settled) gets fresh state that is
        thrown away: it is counted, never mixed into a reopened window.
        """
        if msg.late:
            self.ctx.late_window_use(self.id)
            return {} if kind is None else kind()
        data = self._state.window(self.id, msg.profile, msg.twid)
        if kind is None:
            return data
        found = data.get(kind)
        if found is None:
            found = data[kind] = kind()
        return found

    @overload
    def window_of(self, profile: str, twid: int) -> dict[Any, Any] | None: ...

    @overload
    def window_of(self, profile: str, twid: int, kind: type[W]) -> W | None: ...

    def window_of(self, profile: str, twid: int, kind: type[Any] | None = None) -> Any:
        """The state of (profile, twid) if it exists (None once the window
        closed, or if nothing was stored): e.g. in ``recount``."""
        data = self._state.peek_window(self.id, profile, twid)
        if data is None or kind is None:
            return data
        return data.get(kind)

    # -- facts learned from the traffic ------------------------------------------------
    def facts_of(self, store: type[S]) -> S:
        """The facts of ``store`` (``flowalerts.core.facts``), e.g.
        ``self.facts_of(DnsNames).domains_of_ip(ip)``: only the stores that
        the learners this component ``needs`` (or, for a learner, itself)
        provide - in production as in the unit harness."""
        facts = self.ctx.facts
        cached = self._store_cache.get(store)
        if cached is not None and cached[0] is facts:
            return cached[1]  # on the hot path: checked and made once per registry
        if store not in self._readable_stores():
            raise LookupError(
                f"{type(self).__name__} reads {store.__name__}, which none of the learners it needs provides"
            )
        found = facts.store(store)
        self._store_cache[store] = (facts, found)
        return found

    @classmethod
    def _readable_stores(cls) -> frozenset[type[FactStore]]:
        found = cls.__dict__.get("_stores_cache")
        if found is None:
            learners = [*getattr(cls, "needs", ()), *([cls] if issubclass(cls, Learner) else [])]
            found = frozenset(store for learner in learners for store in learner.provides)
            cls._stores_cache = found
        return found

    # -- state that expires with flow time ---------------------------------------------
    def table(self, name: str, max_entries: int = 0) -> FlowTimeTable[Any]:
        """A table private to this component whose entries expire with flow time."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self._state.table(f"{self.id}.{name}", max_entries)
        return table

    # -- what the host knows ----------------------------------------------------------
    @property
    def watermark(self) -> float:
        """Flow time up to which every record has arrived (``flowalerts.core.clock``)."""
        return self._state.watermark

    @property
    def window_width(self) -> float:
        """The time window's width in seconds (``parameters.time_window_width``)."""
        return self.ctx.config.parameters.width

    @property
    def settings(self) -> Config:
        """The whole configuration (framework sections: parameters, time ...)."""
        return self.ctx.config

    @property
    def live(self) -> bool:
        """True only when following a live Zeek: the only place wall time matters."""
        return self.ctx.live

    def wall_time(self) -> float:
        """The wall clock (injectable in tests); read it only when ``live``."""
        return self.ctx.wall_clock()

    def notify(self, text: str) -> None:
        """An informational line for the user (e.g. "detected DNS server ...")."""
        self.ctx.notify(text)

    def undecided(self) -> None:
        """A decision was abstained from because bounded state it needed was
        full (counted per detection, shown in the summary)."""
        self.ctx.undecided(self.id)


def _generic_arguments(cls: type) -> tuple[Any, ...]:
    """The arguments ``cls`` gave its generic base (``Detection[A, B]`` -> (A, B))."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, type) and issubclass(origin, _Component):
            return typing.get_args(base)
    return ()


class Learner(_Component[CfgT]):
    """Turns records into ``Fact`` updates (``flowalerts.core.facts``).

    ``scope`` "global": facts about everyone (replicated to every partition
    by the producer when there are several workers); "partition": facts only
    the record's own profile uses (kept where the record is processed).
    """

    scope: ClassVar[str] = "global"
    # The fact stores it writes (and so may read); detections that need it read them.
    provides: ClassVar[tuple[type[FactStore], ...]] = ()
    # Learners whose stores it reads too.
    needs: ClassVar[tuple[type[Learner[Any]], ...]] = ()

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

    ``count`` occurrences, the ``uids`` of their flows (sorted before a
    report), their flow-time span; ``threshold`` is the count at which the
    evidence is reported, ``reported`` the count it was last reported with (0:
    never), ``recounted`` whether ``set_tally`` replaced it since. A detection
    that accumulates more (ports, names, a verdict ...) subclasses it with
    typed fields and names the subclass as its second generic parameter
    (``Detection[MyConfig, MyTally]``); most tallies of a busy network never
    reach their threshold, so keep the fields small (tuples, counts).
    """

    count: int = 0
    uids: list[str] = msgspec.field(default_factory=list)
    first_ts: float = float("inf")
    last_ts: float = float("-inf")
    reported: int = 0
    threshold: int = 1
    recounted: bool = False

    def add(self, uid: str, ts: float) -> None:
        self.count += 1
        if uid and len(self.uids) < Evidence.MAX_UIDS:
            self.uids.append(uid)
        if ts < self.first_ts:
            self.first_ts = ts
        if ts > self.last_ts:
            self.last_ts = ts


TallyT = TypeVar("TallyT", bound=Tally, default=Tally)


@dataclasses.dataclass
class CountedOnce:
    """Window state (``self.window(msg, CountedOnce)``): the (key, uid) pairs
    already counted, so that a connection two logs report (ssl.log and
    notice.log, files.log and ssl.log) counts once. Bounded: past
    ``MAX_PAIRS`` pairs a repeat counts again rather than memory growing."""

    MAX_PAIRS: ClassVar[int] = 10000
    pairs: set[tuple[Any, str]] = dataclasses.field(default_factory=set)

    def first(self, key: Any, uid: str) -> bool:
        """Whether (key, uid) is seen for the first time (and remember it)."""
        if (key, uid) in self.pairs:
            return False
        if len(self.pairs) < self.MAX_PAIRS:
            self.pairs.add((key, uid))
        return True


@dataclasses.dataclass(frozen=True)
class Finding:
    """What only the detection knows about the evidence of a tally
    (``report_tally`` returns it). The base fills in the rest: profile, window,
    time (the tally's first), uids, ``count``, the evidence id (the same for
    the first report and its update), and the threat level and confidence
    grown with the count by the kind's ``Growth`` (``EvidenceKind.grown``).

    Several findings returned together are one linked group (e.g. the client
    and the server of one event): give each its own ``profile``/``attacker``
    and ``id_key``.
    """

    victim: Ioc | None
    details: Details
    description: str
    # The evidence kind (default: the detection's only kind).
    kind: EvidenceKind | None = None
    # Who did it (default: the profile, as the source).
    attacker: Ioc | None = None
    # Whose evidence it is (default: the tally's profile).
    profile: str | None = None
    # The key the evidence id is derived from, with the kind, the owner
    # (``profile``; when it is not the tally's profile, that one too) and the
    # window (default: the tally's key).
    id_key: Any = None
    # Starting points before growth (default: the kind's).
    level: ThreatLevel | None = None
    confidence: float | None = None
    # What the kind's growth measures, when not the tally's count: (amount,
    # threshold), e.g. (distinct destinations, 1) or (MB sent, threshold in MB).
    grown_by: tuple[int, int] | None = None
    # This finding's growth, when not its kind's (e.g. a live warm-up's low
    # confidence must not grow with the count: ``Growth(confidence=False)``).
    grows: Growth | None = None
    # How many evidence it weighs as for alerts (default: the kind's Growth).
    occurrences: int | None = None
    ts: float | None = None
    src_port: int | None = None
    dst_port: int | None = None
    proto: str | None = None


class Detection(_Component[CfgT], Generic[CfgT, TallyT]):
    """Base of every detection; see the module docstring."""

    evidence: ClassVar[tuple[EvidenceKind, ...]] = ()
    needs: ClassVar[tuple[type[Learner[Any]], ...]] = ()
    logs: ClassVar[tuple[str, ...] | None] = None
    # True: ``handle`` also gets late records (their window was already
    # settled), for per-record rules that do not depend on the window. A
    # detection that leaves it False never sees them; the driver counts them.
    late_records: ClassVar[bool] = False
    # The tally class: the second generic parameter (``Detection[C, MyTally]``).
    TallyType: ClassVar[type[Tally]] = Tally

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        arguments = _generic_arguments(cls)
        if len(arguments) > 1 and isinstance(arguments[1], type) and issubclass(arguments[1], Tally):
            cls.TallyType = arguments[1]
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
        """One record of a channel the detection reads."""
        raise NotImplementedError

    def on_timer(self, key: Any, payload: Any) -> None:
        """A timer scheduled with ``schedule`` is due (flow time passed it)."""

    def recount(self, profile: str, twid: int) -> None:
        """(profile, twid) is closing: before its tallies' final reports,
        replace what was counted online with an exact recount over the whole
        window (``set_tally``), or drop tallies the whole window shows are not
        findings (``drop_tally``). E.g. bursts recounted in time order, or
        peer-to-peer traffic recognised only from the window as a whole."""

    def on_window_closed(self, profile: str, twid: int) -> None:
        """(profile, twid) ended, after its tallies' final reports; its window
        state is dropped right after."""

    def finish(self) -> None:
        """End of input, after every timer fired and every window closed."""

    def window_close_delay(self) -> float:
        """Seconds of flow time after a window ends during which this
        detection's timers may still report into that window (e.g. the grace
        it waits for other logs). The host closes every window this much later
        (the largest value of the detections it runs), so such decisions are
        counted in their own window's tallies. Default: 0."""
        return 0.0

    def hold_tally(self, key: Any, tally: TallyT) -> bool:
        """True: do not report this tally at its threshold, only when its window
        closes (for a verdict that needs the whole window, or other logs)."""
        return False

    def report_tally(self, profile: str, twid: int, key: Any, tally: TallyT) -> Finding | Sequence[Finding] | None:
        """The evidence of a tally that reached its threshold: a ``Finding``
        (or a linked group of them), or None to report nothing."""
        raise NotImplementedError(f"{type(self).__name__} uses tally() but does not implement report_tally()")

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
            self._emit(evidence)
        return evidence

    def report_linked(self, *evidences: Evidence) -> list[Evidence]:
        """Report evidence built with ``send=False`` as one linked group (rel_id)."""
        linked = link(*evidences)
        for evidence in linked:
            self._emit(evidence)
        return linked

    def _emit(self, evidence: Evidence) -> None:
        """Where every evidence of this detection leaves it, for the host."""
        self.ctx.report(evidence)

    # -- repeated events: one evidence per (profile, window, kind, key) ------------------
    def tally(
        self,
        msg: Message[Any],
        key: Any,
        threshold: int = 1,
        uid: str | None = None,
        update: Callable[[TallyT], None] | None = None,
        ts: float | None = None,
    ) -> TallyT:
        """Count one occurrence of a repeated event under ``key`` in the
        record's window.

        When the count first reaches ``threshold``, ``report_tally`` is called
        (evidence as soon as it is known); when the window closes and the
        count grew since, it is called again and reports the *same* evidence
        id with the final count and every uid (hosts treat it as an update).
        So one (profile, window, key) never gives more than one evidence id.
        ``update(tally)`` runs after counting and before any report (to keep
        the typed fields of the detection's tally class). ``uid`` and ``ts``
        name the occurrence when it is not the record's own flow (e.g. an
        earlier failure that a burst now includes). While ``hold_tally``
        says so, the report at the threshold is held back to the window close.
        A late record (its window already closed) is counted in the summary
        and not reported.
        """
        if msg.late:
            # The window's evidence was settled when it closed: reporting the
            # same id again would replace it with this one record. Counted in
            # the summary (late window use) instead.
            self.ctx.late_window_use(self.id)
            return typing.cast("TallyT", self.TallyType())
        tallies: dict[Any, TallyT] = self._state.window(self.id, msg.profile, msg.twid).setdefault(_TALLIES, {})
        entry = tallies.get(key)
        if entry is None:
            entry = tallies[key] = typing.cast("TallyT", self.TallyType())
            entry.threshold = max(1, threshold)
        entry.add(msg.flow.uid if uid is None else uid, msg.flow.starttime if ts is None else ts)
        if update is not None:
            update(entry)
        if entry.reported == 0 and entry.count >= entry.threshold and not self.hold_tally(key, entry):
            self._report_tally(msg.profile, msg.twid, key, entry)
        return entry

    def tally_id(self, kind: EvidenceKind, profile: str, twid: int, key: Any) -> str:
        """The evidence id of a tally: the same for the first report and its update."""
        return uuid_shaped(kind.name, profile, str(twid), repr(key))

    def tallies(self, profile: str, twid: int) -> dict[Any, TallyT]:
        """The tallies of (profile, twid) by key (empty once the window closed)."""
        window = self._state.peek_window(self.id, profile, twid)
        return (window or {}).get(_TALLIES) or {}

    def set_tally(
        self, profile: str, twid: int, key: Any, *, count: int, uids: Iterable[str], first_ts: float, last_ts: float,
        threshold: int = 1,
    ) -> TallyT | None:
        """Replace the tally of ``key`` with an exact recount (in ``recount``):
        it is reported at the window's close if it reaches its threshold and
        was never reported or changed. None when the window is not open."""
        window = self._state.peek_window(self.id, profile, twid)
        if window is None:
            return None
        tallies: dict[Any, TallyT] = window.setdefault(_TALLIES, {})
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = typing.cast("TallyT", self.TallyType())
            tally.threshold = max(1, threshold)
        uids = sorted(dict.fromkeys(uid for uid in uids if uid))[: Evidence.MAX_UIDS]
        if (tally.count, tally.uids, tally.first_ts, tally.last_ts) != (count, uids, first_ts, last_ts):
            tally.count, tally.uids, tally.first_ts, tally.last_ts = count, uids, first_ts, last_ts
            tally.recounted = True
        return tally

    def drop_tally(self, profile: str, twid: int, key: Any) -> None:
        """Forget the tally of ``key`` (in ``recount``): it is not reported at the close."""
        self.tallies(profile, twid).pop(key, None)

    def settle_tallies(self, profile: str, twid: int) -> None:
        """Called by the driver when a window closes: ``recount``, then the
        final reports of grown, recounted or held tallies that reached their
        threshold."""
        self.recount(profile, twid)
        for key, entry in self.tallies(profile, twid).items():
            if entry.count >= entry.threshold and (entry.count > entry.reported or entry.recounted):
                self._report_tally(profile, twid, key, entry)

    def report_late(self, msg: Message[Any], key: Any, update: Callable[[TallyT], None] | None = None) -> None:
        """Report one late record (its window was already settled) as a
        finding of its own: a tally of that record alone under ``key``, given
        to ``report_tally`` like any other, with an evidence id of its own (the
        window's evidence keeps its id and its count). For detections with
        ``late_records`` whose findings must not be lost to lateness."""
        tally = typing.cast("TallyT", self.TallyType())
        tally.add(msg.flow.uid, msg.flow.starttime)
        if update is not None:
            update(tally)
        self._report_tally(msg.profile, msg.twid, key, tally, late_uid=msg.flow.uid or repr(msg.flow.starttime))

    def _report_tally(self, profile: str, twid: int, key: Any, tally: TallyT, late_uid: str | None = None) -> None:
        tally.uids.sort()
        found = self.report_tally(profile, twid, key, tally)
        tally.reported = tally.count
        tally.recounted = False
        if found is None:
            return
        findings = (found,) if isinstance(found, Finding) else tuple(found)
        evidences = [self._evidence_of(finding, profile, twid, key, tally, late_uid) for finding in findings]
        if len(evidences) == 1:
            self._emit(evidences[0])
        elif evidences:
            self.report_linked(*evidences)

    def _evidence_of(
        self, finding: Finding, profile: str, twid: int, key: Any, tally: Tally, late_uid: str | None = None
    ) -> Evidence:
        kind = finding.kind or self.evidence[0]
        if finding.kind is None and len(self.evidence) > 1:
            raise ValueError(f"{type(self).__name__} declares several kinds: its Finding must name one")
        amount, threshold = finding.grown_by or (tally.count, tally.threshold)
        level, confidence, _ = kind.grown(amount, threshold, finding.level, finding.confidence, finding.grows)
        # The weight for alerts counts the tally's occurrences, whatever the growth measured.
        _, _, occurrences = kind.grown(tally.count, tally.threshold, growth=finding.grows)
        owner = finding.profile or profile
        id_key = key if finding.id_key is None else finding.id_key
        if owner != profile:
            # Another profile's evidence (a linked pair's server side): one per
            # tally, so the tally's own profile is part of its id.
            id_key = (profile, id_key)
        return self.report(
            kind,
            profile=owner,
            twid=twid,
            ts=tally.first_ts if finding.ts is None else finding.ts,
            attacker=finding.attacker or src_ip(owner),
            victim=finding.victim,
            description=finding.description,
            details=finding.details,
            uids=tally.uids,
            threat_level=level,
            confidence=confidence,
            src_port=finding.src_port,
            dst_port=finding.dst_port,
            proto=finding.proto,
            count=tally.count,
            occurrences=occurrences if finding.occurrences is None else finding.occurrences,
            # Unique per owner: a linked group's evidence of another profile has its own id.
            evidence_id=self.tally_id(kind, owner, twid, id_key if late_uid is None else ("late", id_key, late_uid)),
            send=False,
        )


def registered() -> tuple[dict[str, type[Detection[Any, Any]]], dict[str, type[Learner[Any]]]]:
    """The detections and learners registered so far, by id (``flowalerts.catalog``
    imports every one of them)."""
    if not DETECTIONS:
        raise RuntimeError("no detection is registered: call flowalerts.catalog.load_components() first")
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


def format_exception() -> str:
    return traceback.format_exc(limit=20)
