"""Bus message shapes.

Between our own processes a bus message carries a *batch*: a msgpack array of
``Message`` arrays (profile IP, window number, record as an array), which is
the cheapest shape to encode and decode. A Slips-style publisher sends one JSON
object per message (spec 1.3.3): ``{"profileid": "profile_<ip>", "twid":
"timewindow<N>", "flow": {...Slips field names...}, "version": ...}``; the
module accepts both (see ``flowalerts.bus``).
"""

from __future__ import annotations

import sys
from typing import Generic, TypeVar

import msgspec

from flowalerts.core.records import Record

R = TypeVar("R", bound=Record)

# Control channels.
TW_CLOSED = "tw_closed"
EVIDENCE_ADDED = "evidence_added"
# End of input: the module settles pending work and acknowledges on DONE.
INPUT_END = "flowalerts_input_end"
MODULE_DONE = "flowalerts_module_done"


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


ADVANCE = "flowalerts_advance"


def profileid(profile: str) -> str:
    return f"profile_{profile}"


def twid_name(twid: int) -> str:
    return f"timewindow{twid}"


def parse_profileid(text: str) -> str | None:
    if not isinstance(text, str) or not text.startswith("profile_"):
        return None
    return text[len("profile_") :]


def parse_twid(text: str | int) -> int | None:
    """``timewindow<N>`` -> N; negative and zero windows are valid (spec 1.7)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str) or not text.startswith("timewindow"):
        return None
    try:
        return int(text[len("timewindow") :])
    except ValueError:
        return None


def parse_tw_closed_text(text: str) -> TwClosed | None:
    """``profile_<ip>_timewindow<N>`` -> TwClosed, split at the last underscore."""
    if not isinstance(text, str):
        return None
    head, sep, tail = text.rpartition("_")
    if not sep:
        return None
    profile = parse_profileid(head)
    twid = parse_twid(tail)
    if profile is None or twid is None:
        return None
    return TwClosed(profile=profile, twid=twid)
