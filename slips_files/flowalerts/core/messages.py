"""The items a host feeds the engine, in stream order, and the one
``Dispatcher`` that tells them apart.

* ``Message``: one typed record, with the profile (source IP) and time window
  it belongs to, and whether it arrived after that window was settled
  (``late``);
* ``TwClosed``: a (profile, window) ended in flow time;
* ``Advance``: the watermark moved (flow time up to which everything arrived);
* ``End``: the input ended.

Every host (standalone, producer/worker, Slips in-process and attached, the
unit-test harness) turns its input into these and hands them to the module
driver (``ModuleDriver.feed``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import msgspec

from flowalerts.core.records import Record

R = TypeVar("R", bound=Record)

# Slips's channels that are not records.
TW_CLOSED = "tw_closed"
EVIDENCE_ADDED = "evidence_added"


class Message(msgspec.Struct, Generic[R], array_like=True, gc=False):
    """One record as a detection receives it: who owns it, when, what.

    ``late`` is set by the host when the record's time window was already
    closed when it arrived (see ``flowalerts.core.clock``).
    """

    profile: str
    twid: int
    flow: R
    late: bool = False

    def share_strings(self) -> Message[R]:
        """Make the profile and addresses the one shared string of each
        (``sys.intern``), as the log reader does: a decoded message has its
        own copies, and the state's tables keyed by them would keep them."""
        self.profile = sys.intern(self.profile)
        flow = self.flow
        flow.saddr = sys.intern(flow.saddr)
        flow.daddr = sys.intern(flow.daddr)
        return self


class TwClosed(msgspec.Struct, array_like=True, gc=False):
    """A (profile, window) whose window ended in flow time."""

    profile: str
    twid: int


class Advance(msgspec.Struct, array_like=True, gc=False):
    """The watermark moved to ``watermark`` (flow time; +inf at end of input)."""

    watermark: float


class End(msgspec.Struct, array_like=True, gc=False):
    """End of input: every timer fires, every window closes, every detection settles."""


class Dispatcher:
    """The one place that tells the kinds of items apart.

    A host's stream is a sequence of items: ``Message`` (a record),
    ``TwClosed``, ``Advance``, ``End`` and, in a distributed run, facts
    replicated from the producer (``other``). Wire formats decode into
    subclasses of these, so the handler of a class is looked up once (by
    ``isinstance``) and cached: one dict look-up per item afterwards.
    """

    def __init__(
        self,
        *,
        message: Callable[[Any], object],
        window_closed: Callable[[Any], object],
        advance: Callable[[Any], object],
        end: Callable[[Any], object] | None = None,
        other: Callable[[Any], object] | None = None,
    ) -> None:
        self._handlers: tuple[tuple[type, Callable[[Any], object] | None], ...] = (
            (Message, message),
            (TwClosed, window_closed),
            (Advance, advance),
            (End, end),
        )
        self._other = other
        self._by_class: dict[type, Callable[[Any], object]] = {}

    def __call__(self, items: Iterable[Any]) -> None:
        by_class = self._by_class
        for item in items:
            handler = by_class.get(item.__class__)
            if handler is None:
                handler = self._handler_of(item.__class__)
            handler(item)

    def _handler_of(self, cls: type) -> Callable[[Any], object]:
        handler = next((handler for base, handler in self._handlers if issubclass(cls, base)), self._other)
        if handler is None:
            raise TypeError(f"no handler for {cls.__name__} items")
        self._by_class[cls] = handler
        return handler
