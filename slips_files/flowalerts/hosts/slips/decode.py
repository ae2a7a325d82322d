"""Decoding every message Slips publishes into our typed records.

Slips 1.1.21 publishes one JSON object per message (``../shared/slips/traffic/
README.md`` has the observed shapes): ``{"profileid": "profile_<ip>", "twid":
"timewindow<N>", "flow": {...Slips field names...}, "version": "1.1.21"}`` on
the record channels, ``{"text": "profile_<ip>_timewindow<N>", ...}`` on
``tw_closed``. What Slips sends is looser than what Zeek writes:

* ``""`` stands for an empty list, an unknown count or an absent port
  (``cert_chain_fuids``, ``TTLs``, ``size``, ``sport`` ...); absent fields and
  ``null`` mean the same: the field takes its default;
* numbers can arrive as strings (``"53"``, ``"1601998366.786397"``), lists as
  comma-separated strings (``"15.000000,105.000000"``), booleans as ``"T"``;
* ``starttime`` is an epoch number, a numeric string or a date text;
* ``new_software`` has no ``profileid`` (the profile is the flow's ``saddr``).

Placeholders are accepted; *values* are checked: a profile or address that is
not an IP, a window number below 0, a negative or absurd count, a port outside
0..65535, a timestamp outside Zeek's range, a value of the wrong kind, a
message that is not a JSON object, nested too deep or too large. Such a
message is skipped and counted per channel and field; the first example of
each (channel, field) is reported once. Nothing here raises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import types
import typing
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.structs

from flowalerts.core.evidence import escape_text
from flowalerts.core.ips import parse_ip
from flowalerts.core.messages import TW_CLOSED, Message, TwClosed
from flowalerts.core.records import BY_CHANNEL, ArpRecord, DhcpRecord, FilesRecord, NoticeRecord, Record
from flowalerts.core.validation import MAX_TS, validate

# A Slips message is a few hundred bytes; anything above this is not one of
# Slips's (and parsing it would only cost memory).
MAX_MESSAGE_BYTES = 1 << 20
# Counts (bytes, packets, sizes) in Slips's JSON: above this they are not real
# traffic (and not exact as JSON numbers). Times are bounded by
# flowalerts.core.validation.MAX_TS, as in the Zeek readers.
MAX_COUNT = 1 << 53
# Window numbers: Slips numbers them from 1 (0 for a flow slightly older than
# the first one); a billion hours is far beyond any capture.
MAX_TWID = 10**12
PORT_FIELDS = frozenset({"sport", "dport", "scanned_port"})

# Record channels Slips never publishes (it reads no x509.log).
NOT_PUBLISHED_BY_SLIPS = frozenset({"new_x509"})
# Record channels as Slips publishes them.
SLIPS_RECORD_CHANNELS: dict[str, type[Record]] = {
    channel: record_type for channel, record_type in BY_CHANNEL.items() if channel not in NOT_PUBLISHED_BY_SLIPS
}
# Zeek logs whose records reach a Slips module (the others are lost inside Slips).
SLIPS_LOGS = frozenset(record_type.log_type for record_type in SLIPS_RECORD_CHANNELS.values())

# Channels Slips publishes that carry nothing the module uses. Decoding them
# is not needed: they are counted as "not used", never as errors.
# ``new_url`` repeats every ``new_http`` message; reading both would double them.
NOT_USED_CHANNELS = frozenset(
    {
        "new_url",
        "new_letters",
        "new_ip",
        "new_profile",
        "new_MAC",
        "new_zeek_fields_line",
        "evidence_added",
        "new_alert",
        "get_modified_profiles_since",
        "give_threat_intelligence",
        "ip_info_change",
        "core_messages",
        "new_blocking",
        "new_service",
        "new_blame",
        "new_module_flow",
        "control_channel",
        "export_evidence",
        "remove_old_files",
        "check_jarm_hash",
        "p2p_data_request",
        "report_to_peers",
        "p2p_gopy",
        "cpu_profile",
        "memory_profile",
        "fides2network",
        "network2fides",
        "fides2slips",
        "slips2fides",
        "iris_internal",
    }
)

# Our field name -> Slips's, where they differ.
SLIPS_FIELD_NAMES: dict[type[Record], dict[str, str]] = {
    DhcpRecord: {"mac": "smac"},
    ArpRecord: {"orig_hw": "src_hw", "resp_hw": "dst_hw"},
}
# List fields where a bare string is one element, not a comma-separated list.
_WRAP_NOT_SPLIT = frozenset({"answers"})
_PLACEHOLDERS = ("", "-", "(empty)")


class OtherVersion(Exception):
    """A message published by another Slips version than the one we serve."""


class Rejected(Exception):
    """A message that cannot be used: which field, why, and the offending value."""

    def __init__(self, field: str, reason: str, value: Any = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.value = value


# --- values ----------------------------------------------------------------------------


def _is_placeholder(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in _PLACEHOLDERS)


def _number(field: str, value: Any) -> float | int:
    if isinstance(value, bool):
        raise Rejected(field, "a boolean where a number belongs", value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
    raise Rejected(field, "not a number", value)


def _int(field: str, value: Any, low: int, high: int) -> int:
    number = _number(field, value)
    if isinstance(number, float):
        if not math.isfinite(number) or number != int(number):
            raise Rejected(field, "not a whole number", value)
        number = int(number)
    if not low <= number <= high:
        raise Rejected(field, f"out of range {low}..{high}", value)
    return number


def _float(field: str, value: Any, high: float) -> float:
    number = float(_number(field, value))
    if not math.isfinite(number) or not 0.0 <= number <= high:
        raise Rejected(field, f"out of range 0..{high:g}", value)
    return number


_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S.%f%z", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S%z", "%Y/%m/%d %H:%M:%S")


def slips_time_to_epoch(value: Any) -> float | None:
    """Slips's ``starttime`` forms -> epoch seconds: a number, a numeric string,
    ISO 8601 (a trailing ``Z`` too) or ``%Y/%m/%d %H:%M:%S[.%f][%z]``; naive
    times are UTC. None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parsed: dt.datetime | None = None
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _starttime(field: str, value: Any) -> float:
    epoch = slips_time_to_epoch(value)
    if epoch is None:
        raise Rejected(field, "not a time", value)
    if not math.isfinite(epoch) or not 0.0 <= epoch <= MAX_TS:
        raise Rejected(field, "time out of range", value)
    return epoch


def _str(field: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is False:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise Rejected(field, "not a text", value)


def _bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("t", "true", "1"):
            return True
        if text in ("f", "false", "0"):
            return False
    raise Rejected(field, "not a boolean", value)


def _items(field: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        if field in _WRAP_NOT_SPLIT:
            return [value]
        return [part for part in value.split(",")]
    raise Rejected(field, "not a list", value)


def _str_list(field: str, value: Any) -> list[str]:
    out = []
    for item in _items(field, value):
        if _is_placeholder(item):
            continue
        out.append(_str(field, item))
    return out


def _float_list(field: str, value: Any) -> list[float]:
    out = []
    for item in _items(field, value):
        if _is_placeholder(item):
            continue
        out.append(_float(field, item, MAX_COUNT))
    return out


# --- per record type -----------------------------------------------------------------------

Converter = Callable[[str, Any], Any]


def _converter(name: str, annotation: Any) -> tuple[Converter, bool]:
    """(converter, optional) for one record field; ``optional`` fields keep None."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(args) == 1
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if name == "starttime":
        return _starttime, optional
    if annotation is float:
        return (lambda f, v: _float(f, v, MAX_TS)), optional
    if annotation is int:
        high = 65535 if name in PORT_FIELDS else MAX_COUNT
        return (lambda f, v: _int(f, v, 0, high)), optional
    if annotation is bool:
        return _bool, optional
    if annotation is str:
        return _str, optional
    if origin is list and typing.get_args(annotation) == (str,):
        return _str_list, optional
    if origin is list and typing.get_args(annotation) == (float,):
        return _float_list, optional
    raise TypeError(f"no Slips decoder for field {name}: {annotation!r}")  # pragma: no cover - declaration error


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str  # ours
    key: str  # Slips's
    convert: Converter
    optional: bool
    text: bool  # "" is a value, not a placeholder


def _fields(record_type: type[Record]) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(record_type)
    renames = SLIPS_FIELD_NAMES.get(record_type, {})
    out = []
    for field in msgspec.structs.fields(record_type):
        convert, optional = _converter(field.name, hints[field.name])
        out.append(_Field(field.name, renames.get(field.name, field.name), convert, optional, hints[field.name] is str))
    return tuple(out)


_SPECS: dict[str, tuple[type[Record], tuple[_Field, ...]]] = {
    channel: (record_type, _fields(record_type)) for channel, record_type in SLIPS_RECORD_CHANNELS.items()
}


def _record(record_type: type[Record], fields: tuple[_Field, ...], flow: dict[str, Any]) -> Record:
    values: dict[str, Any] = {}
    # Slips's TSV path leaves every value as text (starttime too) and puts a
    # Zeek set into one comma-joined element (["a.com,1.2.3.4"]); Zeek escapes
    # commas inside TSV values, so splitting there is exact.
    from_tsv = isinstance(flow.get("starttime"), str)
    for spec in fields:
        raw = flow.get(spec.key)
        if raw is None or (not spec.text and _is_placeholder(raw)):
            if spec.name == "starttime":
                raise Rejected("starttime", "missing", raw)
            continue  # the field's default (None for optional ones)
        value = spec.convert(spec.name, raw)
        if from_tsv and spec.convert is _str_list:
            value = [part for item in value for part in item.split(",") if part]
        values[spec.name] = value
    record = record_type(**values)
    if isinstance(record, NoticeRecord):
        # Port-scan notices name the scanner and port in their own fields.
        record.saddr = record.saddr or record.scanning_ip
        record.daddr = record.daddr or record.dst or record.saddr
        record.dport = record.dport or record.scanned_port
    elif isinstance(record, FilesRecord):
        record.saddr = record.saddr or (record.tx_hosts[0] if record.tx_hosts else "")
        record.daddr = record.daddr or (record.rx_hosts[0] if record.rx_hosts else "")
    problem = validate(record, record_type, zeek_names=False)
    if problem is not None:
        raise Rejected(problem.field, problem.reason.removeprefix("is "), getattr(record, problem.field, None))
    return record


def parse_profile(value: Any) -> str:
    """``profile_<ip>`` -> ``<ip>`` (as Slips wrote it), or Rejected."""
    if not isinstance(value, str) or not value.startswith("profile_"):
        raise Rejected("profileid", "not profile_<ip>", value)
    ip = value[len("profile_") :]
    if parse_ip(ip) is None:
        raise Rejected("profileid", "not an IP address", value)
    return ip


def parse_window(value: Any) -> int:
    """``timewindow<N>`` -> N (0 <= N <= MAX_TWID), or Rejected."""
    if isinstance(value, str) and value.startswith("timewindow"):
        digits = value[len("timewindow") :]
        if digits.isascii() and digits.isdigit() and len(digits) <= 13:
            number = int(digits)
            if number <= MAX_TWID:
                return number
    raise Rejected("twid", "not timewindow<N> with 0 <= N", value)


def parse_tw_closed(text: Any) -> TwClosed | None:
    """``profile_<ip>_timewindow<N>`` (split at the last underscore) -> TwClosed;
    None for Slips's profile-less window (``profile__timewindow<N>``, the window
    of records without a source address)."""
    if isinstance(text, str) and text.startswith('"'):
        try:
            text = msgspec.json.decode(text)  # the doubly-encoded form
        except (msgspec.DecodeError, RecursionError):
            raise Rejected("text", "not profile_<ip>_timewindow<N>", text) from None
    if not isinstance(text, str):
        raise Rejected("text", "not profile_<ip>_timewindow<N>", text)
    head, sep, tail = text.rpartition("_")
    if not sep:
        raise Rejected("text", "not profile_<ip>_timewindow<N>", text)
    try:
        twid = parse_window(tail)
        if head == "profile_":
            return None
        return TwClosed(profile=parse_profile(head), twid=twid)
    except Rejected as exc:
        raise Rejected("text", exc.reason, text) from None


# --- the decoder ----------------------------------------------------------------------------


@dataclasses.dataclass
class DecodeStats:
    """Every message counted once: decoded, not used, or rejected (per field)."""

    received: Counter[str] = dataclasses.field(default_factory=Counter)
    decoded: Counter[str] = dataclasses.field(default_factory=Counter)
    not_used: Counter[str] = dataclasses.field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    first_example: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    versions: Counter[str] = dataclasses.field(default_factory=Counter)
    # Records Slips could attribute to no profile (a weird.log line without
    # addresses comes as "profile_"), and the tw_closed of that empty profile:
    # valid, but no detection can use them.
    no_profile: Counter[str] = dataclasses.field(default_factory=Counter)
    # Skipped because another Slips version published them (as Slips's modules do).
    other_version: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def rejected_by_channel(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (channel, _), count in self.rejected.items():
            out[channel] += count
        return out


_json = msgspec.json.Decoder()
_MAX_VERSIONS = 16


class SlipsDecoder:
    """Slips messages -> ``Message`` / ``TwClosed`` (or None, counted).

    ``channels`` are the record channels the module uses; messages on other
    record channels, and on the channels of ``NOT_USED_CHANNELS``, are counted
    as not used. ``warn`` receives one line per (channel, field) the first
    time a message is rejected for it. With ``version``, messages whose
    ``version`` differs are skipped and counted (what Slips's modules do).
    """

    def __init__(
        self,
        channels: set[str] | frozenset[str] | None = None,
        warn: Callable[[str], None] | None = None,
        version: str | None = None,
    ) -> None:
        self.channels = frozenset(SLIPS_RECORD_CHANNELS if channels is None else channels)
        self.warn = warn or (lambda text: None)
        self.version = version
        self.stats = DecodeStats()

    def decode(self, channel: str, data: bytes | str) -> Message[Any] | TwClosed | None:
        stats = self.stats
        stats.received[channel] += 1
        try:
            payload = self._payload(data)
            if channel == TW_CLOSED:
                item: Message[Any] | TwClosed | None = parse_tw_closed(payload.get("text"))
                if item is None:
                    stats.no_profile[channel] += 1
                    return None
            elif channel in self.channels and channel in _SPECS:
                item = self._message(channel, payload)
                if item is None:
                    stats.no_profile[channel] += 1
                    return None
            else:
                item = None
        except Rejected as exc:
            self._reject(channel, exc)
            return None
        except OtherVersion:
            stats.other_version[channel] += 1
            return None
        except Exception as exc:  # never let one message stop the module
            self._reject(channel, Rejected("message", f"unexpected {type(exc).__name__}", str(exc)))
            return None
        if item is None:
            stats.not_used[channel] += 1
        else:
            stats.decoded[channel] += 1
        return item

    def _payload(self, data: bytes | str) -> dict[str, Any]:
        if not isinstance(data, (bytes, str)):
            raise Rejected("message", "not a text", type(data).__name__)
        if len(data) > MAX_MESSAGE_BYTES:
            raise Rejected("message", f"larger than {MAX_MESSAGE_BYTES} bytes", f"{len(data)} bytes")
        try:
            payload = _json.decode(data)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError):
            raise Rejected("message", "not JSON (or nested too deep)", data[:80]) from None
        if not isinstance(payload, dict):
            raise Rejected("message", "not a JSON object", data[:80])
        version = payload.get("version")
        if version is not None:
            if not isinstance(version, str) or len(version) > 32:
                raise Rejected("version", "not a short text", version)
            if version in self.stats.versions or len(self.stats.versions) < _MAX_VERSIONS:
                self.stats.versions[version] += 1
        if self.version is not None and version != self.version:
            raise OtherVersion(version)
        return payload

    def _message(self, channel: str, payload: dict[str, Any]) -> Message[Any] | None:
        record_type, fields = _SPECS[channel]
        flow = payload.get("flow")
        if not isinstance(flow, dict):
            raise Rejected("flow", "not a JSON object", flow)
        twid = parse_window(payload.get("twid"))
        record = _record(record_type, fields, flow)
        profileid = payload.get("profileid")
        if profileid is None:
            # new_software carries no profileid: the profile is the host.
            if not record.saddr:
                raise Rejected("profileid", "missing (and the flow has no saddr)", None)
            profile = record.saddr
        elif profileid == "profile_" and not record.saddr and not record_type.needs_saddr:
            return None
        else:
            profile = parse_profile(profileid)
        return Message(profile=profile, twid=twid, flow=record).share_strings()

    def _reject(self, channel: str, exc: Rejected) -> None:
        key = (channel, exc.field)
        self.stats.rejected[key] += 1
        if key not in self.stats.first_example:
            example = escape_text(repr(exc.value), limit=120)
            self.stats.first_example[key] = example
            self.warn(
                f"Slips message skipped: channel {escape_text(channel, limit=64)}, field {exc.field}: "
                f"{exc.reason} (first example: {example}; further ones are counted)"
            )
