"""Facts: what learners draw from the traffic, for the detections that need it.

A learner turns records into typed ``Fact`` updates. Each fact type is kept
by one ``FactStore``, declared beside it in the learner's file
(``flowalerts/learners/``): the store keeps its facts in flow-time tables of
the state (so they expire with flow time and memory stays bounded on long
runs) and answers the questions detections ask. A learner declares the stores
it writes (``Learner.provides``); a detection reads a store only through
``facts_of(Store)``, and only the stores of the learners it ``needs``: in
production as in the unit harness, a detection sees exactly the facts it
declared. Nothing here names a concrete fact.

Facts come in two scopes:

* **global** facts (resolutions, servers, the MAC table, the local network,
  certificates ...) concern every profile. With several workers they are
  computed once, by the producer, and replicated into every partition in
  stream order, so every worker sees the same facts at the same point of the
  stream as a single process would;
* **partition** facts (a conn record by uid, the contacts of a profile)
  concern the profile that owns the record, which always lives in the same
  partition.

Where the order of records matters (several answers for one IP, several
contacts), the stores keep the earliest and latest times, so the answer does
not depend on arrival order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec

if TYPE_CHECKING:
    from flowalerts.core.evidence import Ioc
    from flowalerts.core.state import State


class Fact(msgspec.Struct, array_like=True, tag=True, gc=False):
    """Base of every fact update. ``scope``: replicated to every partition
    ("global") or kept by the partition of the record ("partition"). Its tag
    names it on the wire between the producer and the workers."""

    scope: ClassVar[str] = "global"


# Each fact type -> the store that keeps it (filled by FactStore declarations).
STORE_OF: dict[type[Fact], type[FactStore]] = {}


class FactStore:
    """Keeps the facts of the types in ``keeps`` (fact type -> the name of
    the method that applies one) and answers questions about them. Made once
    per state, on first use (``Facts.store``)."""

    keeps: ClassVar[dict[type[Fact], str]] = {}

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.state = facts.state

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for fact_type, method in cls.keeps.items():
            known = STORE_OF.get(fact_type)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"{fact_type.__name__} is kept by {known.__name__} already")
            if not callable(getattr(cls, method, None)):
                raise TypeError(f"{cls.__name__}: no method {method} for {fact_type.__name__}")
            STORE_OF[fact_type] = cls

    def enrich(self, ioc: Ioc) -> None:
        """Add what this store knows about an evidence side (an IP): its SNI,
        rDNS, the names it was resolved from. Default: nothing."""


S = TypeVar("S", bound=FactStore)


def global_facts() -> tuple[type[Fact], ...]:
    """Every declared global fact type (what the producer replicates), by tag."""
    found = [fact_type for fact_type in STORE_OF if fact_type.scope == "global"]
    return tuple(sorted(found, key=lambda fact_type: str(fact_type.__struct_config__.tag)))


class Facts:
    """The stores of one state, and ``apply`` for the learners' updates."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._stores: dict[type[FactStore], FactStore] = {}
        self._appliers: dict[type[Fact], Callable[[Any], None]] = {}

    def store(self, cls: type[S]) -> S:
        """The state's instance of the store ``cls``."""
        found = self._stores.get(cls)
        if found is None:
            found = self._stores[cls] = cls(self)
        return found  # type: ignore[return-value]

    def apply(self, fact: Fact) -> None:
        applier = self._appliers.get(type(fact))
        if applier is None:
            store_cls = STORE_OF.get(type(fact))
            if store_cls is None:
                return
            applier = self._appliers[type(fact)] = getattr(self.store(store_cls), store_cls.keeps[type(fact)])
        applier(fact)

    def enrich(self, ioc: Ioc) -> None:
        """What every store of this state knows about an evidence side (see ``FactStore.enrich``)."""
        for store in self._stores.values():
            store.enrich(ioc)
