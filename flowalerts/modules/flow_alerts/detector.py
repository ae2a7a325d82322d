"""The Detector base class and its registry.

A detector is one detection technique. It declares, as class attributes, the
channels it consumes and the evidence types it emits, and reads its thresholds
from the typed config. It gets a typed ``Message`` and the narrow state
interface, and returns evidence; it never touches the bus, files or sockets.

Subclassing registers the detector (pySigma style: found by declaration). The
module imports every file under ``detectors/`` and instantiates each concrete
subclass once.

Hooks, all optional; each returns an iterable of Evidence or None:

* ``handle(msg)``            a record arrived on one of ``channels``;
* ``on_watermark(ts)``       flow time advanced to ``ts`` (settle pending work);
* ``on_tw_closed(profile, twid)``  a window ended (report, then drop state);
* ``finish()``               end of input: settle everything still pending.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from flowalerts.core.evidence import Evidence, EvidenceType, Ioc, ThreatLevel, iso_timestamp

if TYPE_CHECKING:
    from flowalerts.core.config import Config, FlowAlertsConfig
    from flowalerts.core.facts import LearnedFacts
    from flowalerts.core.knowledge import Knowledge
    from flowalerts.core.lookups import Lookups
    from flowalerts.core.messages import Message
    from flowalerts.core.state import State

Result = Iterable[Evidence] | None

REGISTRY: list[type[Detector]] = []


@dataclasses.dataclass
class DetectorContext:
    """Everything a detector may use. Built once by the module."""

    config: Config
    state: State
    facts: LearnedFacts
    knowledge: Knowledge
    lookups: Lookups
    # True only in live mode (--follow): the only place wall time matters.
    live: bool = False
    # Wall clock, injectable for tests; used only when ``live``.
    wall_clock: Callable[[], float] = lambda: 0.0
    # Informational messages for the user ("Detected DNS server ...").
    notify: Callable[[str], None] = lambda text: None


class Detector:
    """Base of every detector; see the module docstring."""

    # Bus channels this detector consumes, e.g. ("new_flow",).
    channels: ClassVar[tuple[str, ...]] = ()
    # Evidence types it can emit (documentation, disabling, the README table).
    evidence_types: ClassVar[tuple[EvidenceType, ...]] = ()
    # Lower runs first on a message. Learners that record facts other
    # detectors read use 10; detectors use the default.
    priority: ClassVar[int] = 100
    # Set on intermediate base classes that must not be instantiated.
    abstract: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False):
            REGISTRY.append(cls)

    def __init__(self, ctx: DetectorContext) -> None:
        self.ctx = ctx
        self.config: FlowAlertsConfig = ctx.config.flow_alerts
        self.state = ctx.state
        self.facts = ctx.facts
        self.knowledge = ctx.knowledge

    def handle(self, msg: Message[Any]) -> Result:  # pragma: no cover - interface
        return None

    def on_watermark(self, watermark: float) -> Result:
        return None

    def on_tw_closed(self, profile: str, twid: int) -> Result:
        return None

    def finish(self) -> Result:
        return None

    @property
    def name(self) -> str:
        return type(self).__name__


def make_evidence(
    evidence_type: EvidenceType,
    *,
    description: str,
    attacker: Ioc,
    threat_level: ThreatLevel,
    confidence: float,
    profile: str,
    twid: int,
    timestamp: float,
    uids: Iterable[str],
    victim: Ioc | None = None,
    src_port: int | None = None,
    dst_port: int | None = None,
) -> Evidence:
    """Build an Evidence from flow facts (epoch ``timestamp`` -> ISO 8601)."""
    return Evidence(
        evidence_type=evidence_type,
        description=description,
        attacker=attacker,
        victim=victim,
        threat_level=threat_level,
        confidence=confidence,
        profile=profile,
        timewindow=twid,
        uids=list(uids),
        timestamp=iso_timestamp(timestamp),
        src_port=src_port,
        dst_port=dst_port,
    )
