"""The semantic checks every record passes, whichever way it came in.

A Zeek log line (``flowalerts.io.input.zeek``) and a Slips message
(``flowalerts.hosts.slips.decode``) are decoded differently, but once they are
typed records the same rules decide whether they can be used: a valid flow
time, IP addresses where addresses are, ports within 0-65535, counts that are
non-negative and fit Zeek's ``count`` (unsigned 64 bits), finite
non-negative intervals, and a duration that does not run past the end of
time. ``validate`` applies them and also normalises the addresses (an
IPv4-mapped IPv6 address is that IPv4 host; one interned string per address).

A problem names the field as the input names it (Zeek's ``id.orig_h``, or our
own ``saddr`` for Slips messages), so a warning says what to look for.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from typing import Any, NamedTuple

import msgspec

from flowalerts.core.ips import parse_ip
from flowalerts.core.records import ConnRecord, Record

# Flow timestamps must be finite, non-negative, and before year 5000.
MAX_TS = 95_617_584_000.0
# Zeek's count type is an unsigned 64-bit integer: anything larger cannot be
# real (and cannot be encoded for Slips or the bus).
MAX_COUNT = 2**64 - 1

_isfinite = math.isfinite
_intern = sys.intern


class Problem(NamedTuple):
    """Why a record cannot be used: the field (as its input names it) and what is wrong."""

    field: str
    reason: str  # "is negative", "is not an IP address", ...

    def __str__(self) -> str:
        return f"{self.field} {self.reason}"


class RecordChecks:
    """Per record type (and naming): the numeric fields to check.

    The common case (every number fine) is decided in C with ``attrgetter``,
    ``min``/``max`` and ``math.isfinite``; only a failing record walks the
    fields one by one to name the one at fault.
    """

    def __init__(self, record_type: type[Record], zeek_names: bool) -> None:
        def name(attr: str, default: str) -> str:
            return record_type.zeek.get(attr, default) if zeek_names else attr

        self.ts_name = name("starttime", "ts")
        self.saddr_name = name("saddr", "source address")
        self.daddr_name = name("daddr", "destination address")
        self.sport_name = name("sport", "source port")
        self.dport_name = name("dport", "destination port")
        self.numbers: list[tuple[str, str, bool]] = []  # (attr, shown name, is an integer)
        for f in msgspec.structs.fields(record_type):
            if f.name in ("starttime", "sport", "dport"):
                continue
            text = repr(f.type)
            if f.type is int or text in ("int | None", "typing.Optional[int]"):
                self.numbers.append((f.name, name(f.name, f.name), True))
            elif f.type is float:
                self.numbers.append((f.name, name(f.name, f.name), False))
        ints = [attr for attr, _, is_int in self.numbers if is_int]
        floats = [attr for attr, _, is_int in self.numbers if not is_int]
        # attrgetter of one name returns the value, of several a tuple: always ask for two or more.
        self.get_ints = operator.attrgetter(*ints, "sport") if ints else None
        self.get_floats = operator.attrgetter(*floats, "starttime") if floats else None
        self.has_duration = record_type is ConnRecord

    def which(self, record: Any) -> Problem | None:
        """The first numeric field at fault."""
        for attr, name, is_int in self.numbers:
            value = getattr(record, attr)
            if value is None:
                continue
            if is_int:
                if value < 0:
                    return Problem(name, "is negative")
                if value > MAX_COUNT:
                    return Problem(name, "is above 2^64-1")
            elif not _isfinite(value):
                return Problem(name, "is not a finite number")
            elif value < 0:
                return Problem(name, "is negative")
        return None


@functools.cache
def checks_of(record_type: type[Record], zeek_names: bool = True) -> RecordChecks:
    return RecordChecks(record_type, zeek_names)


def validate(record: Any, record_type: type[Record], zeek_names: bool = True) -> Problem | None:
    """None when ``record`` (a ``record_type``, or the Zeek-named twin of one)
    can be used (its addresses normalised), else why not."""
    checks = checks_of(record_type, zeek_names)
    ts = record.starttime
    if not isinstance(ts, (float, int)) or not 0 <= ts <= MAX_TS:  # NaN fails the comparison too
        return Problem(checks.ts_name, "is not a valid time")
    saddr = record.saddr
    if saddr:
        ip = parse_ip(saddr)
        if ip is None:
            return Problem(checks.saddr_name, "is not an IP address")
        # One string object per address, shared by every record and every
        # table keyed by it (contacts, windows, sightings...), instead of one
        # per record kept alive by whichever entry it created.
        record.saddr = _intern(str(ip) if ip.version == 4 and ":" in saddr else saddr)
    elif record_type.needs_saddr:
        return Problem(checks.saddr_name, "is missing")
    daddr = record.daddr
    if daddr:
        ip = parse_ip(daddr)
        if ip is None:
            return Problem(checks.daddr_name, "is not an IP address")
        # An IPv4-mapped IPv6 address (::ffff:10.0.2.15) is that IPv4 host.
        record.daddr = _intern(str(ip) if ip.version == 4 and ":" in daddr else daddr)
    elif record_type.needs_daddr:
        return Problem(checks.daddr_name, "is missing")
    if not 0 <= record.sport <= 65535:
        return Problem(checks.sport_name, "is not a port number (0-65535)")
    if not 0 <= record.dport <= 65535:
        return Problem(checks.dport_name, "is not a port number (0-65535)")
    # Every number fine is the common case: decided in C (see RecordChecks).
    get_ints = checks.get_ints
    if get_ints is not None:
        values = get_ints(record)
        if None in values or min(values) < 0 or max(values) > MAX_COUNT:
            problem = checks.which(record)
            if problem:
                return problem
    get_floats = checks.get_floats
    if get_floats is not None:
        values = get_floats(record)
        if min(values) < 0 or not all(map(_isfinite, values)):
            return checks.which(record)
    if checks.has_duration and ts + record.dur > MAX_TS:
        return Problem("duration", "is too large")
    return None
