"""Zeek log readers: TSV or JSON lines, plain or gzip, into typed records.

A line becomes a typed record exactly once, here (DESIGN rule 1). JSON lines
are decoded by msgspec straight into the record's Zeek-named twin; TSV lines
are split and converted column by column using the ``#fields`` header (which
may change mid-file). Any line that cannot be used - malformed, wrong types,
invalid IPs, absurd ports or numbers, too long - becomes a counted warning
with its file and line number, and reading goes on.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from flowalerts.input.warnings import InputWarnings
from flowalerts.knowledge.ips import parse_ip
from flowalerts.records import RECORD_TYPES, FilesRecord, NoticeRecord, Record, zeek_json_type

# A line longer than this is skipped: no legitimate Zeek line is that long,
# and a hostile 10 MB field must not slow everything down.
MAX_LINE_BYTES = 1 << 20
# Flow timestamps must be finite, non-negative, and before year 5000.
MAX_TS = 95_617_584_000.0


class BadLine(ValueError):
    """A line that cannot become a record; the message is the reason."""


def open_binary(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("t", "true", "1"):
        return True
    if lowered in ("f", "false", "0"):
        return False
    raise BadLine("invalid boolean")


def _converter(field_type: Any, set_separator: str) -> Callable[[str], Any]:
    """How to turn one TSV column into the record field's Python type."""
    text = repr(field_type)
    if field_type is bool or text in ("bool | None", "typing.Optional[bool]"):
        return _to_bool
    if field_type is int or text in ("int | None", "typing.Optional[int]"):
        return int
    if field_type is float:
        return float
    if text == "list[str]":
        return lambda value: value.split(set_separator) if value else []
    if text == "list[float]":
        return lambda value: [float(item) for item in value.split(set_separator)] if value else []
    return str


class _TsvLayout:
    """Column positions of one ``#fields`` header for one record type."""

    def __init__(self, record_type: type[Record], names: list[str], set_separator: str) -> None:
        field_types = {f.name: f.type for f in msgspec.structs.fields(record_type)}
        by_zeek = {zeek: attr for attr, zeek in record_type.zeek.items()}
        self.columns: list[tuple[int, str, Callable[[str], Any], bool]] = []
        for index, name in enumerate(names):
            attr = by_zeek.get(name)
            if attr is None:
                continue
            conv = _converter(field_types[attr], set_separator)
            is_text = conv is str or repr(field_types[attr]).startswith("list")
            self.columns.append((index, attr, conv, is_text))
        self.width = len(names)


class ZeekFileReader:
    """Iterates the usable records of one Zeek log file."""

    def __init__(
        self,
        path: str,
        record_type: type[Record],
        warnings: InputWarnings,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = path
        self.record_type = record_type
        self.twin = zeek_json_type(record_type)
        self.decoder = msgspec.json.Decoder(self.twin, strict=False)
        self.warnings = warnings
        self.max_line_bytes = max_line_bytes
        self.read = 0
        self.skipped: Counter[str] = Counter()
        # TSV header state.
        self.separator = "\t"
        self.set_separator = ","
        self.unset = "-"
        self.empty = "(empty)"
        self.layout: _TsvLayout | None = None
        self.line_no = 0
        # False once opening the file failed (permissions, a symlink loop ...).
        self.opened = os.access(path, os.R_OK)

    def __iter__(self) -> Iterator[Record]:
        try:
            with open_binary(self.path) as handle:
                yield from self._lines(handle)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            self.warnings.note(
                f"{self.path}: truncated or corrupt compressed data after line {self.line_no} "
                f"({type(exc).__name__}); the {self.read} records before it are kept"
            )
        except OSError as exc:
            self.warnings.note(f"{self.path}: read error after line {self.line_no}: {exc}")

    def _lines(self, handle) -> Iterator[Record]:
        for raw in handle:
            self.line_no += 1
            record = self.parse_line(raw)
            if record is not None:
                self.read += 1
                yield record

    # -- one line -----------------------------------------------------------------
    def parse_line(self, raw: bytes) -> Record | None:
        """The record on this line, or None (header, blank or bad line)."""
        if len(raw) > self.max_line_bytes:
            return self._bad("line too long")
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            return None
        try:
            if line[:1] == b"#" or line.lstrip()[:1] == b"#":
                self._header(line.lstrip())
                return None
            if line[:1] == b"{":
                record = self.decoder.decode(line)
            else:
                record = self._tsv(line)
            problem = _check(record)
        except BadLine as exc:
            return self._bad(str(exc))
        except msgspec.ValidationError as exc:
            return self._bad("wrong field type: " + str(exc).split(" - ")[0])
        except msgspec.DecodeError:
            return self._bad("malformed JSON")
        except (ValueError, TypeError, OverflowError):
            return self._bad("malformed value")
        if problem:
            return self._bad(problem)
        # The twin has Zeek's field names; everything downstream gets the record class.
        return msgspec.convert(record, self.record_type, from_attributes=True)

    def _bad(self, reason: str) -> None:
        self.skipped[reason] += 1
        self.warnings.bad_line(self.path, self.line_no, reason)
        return None

    def _header(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")
        if text.startswith("#separator"):
            value = text[len("#separator") :].strip()
            self.separator = value.encode().decode("unicode_escape") if value.startswith("\\x") else (value or "\t")
            return
        key, _, value = text.partition(self.separator)
        if key == "#set_separator":
            self.set_separator = value or ","
        elif key == "#unset_field":
            self.unset = value or "-"
        elif key == "#empty_field":
            self.empty = value or "(empty)"
        elif key == "#fields":
            self.layout = _TsvLayout(self.record_type, value.split(self.separator), self.set_separator)

    def _tsv(self, line: bytes) -> Record:
        layout = self.layout
        if layout is None:
            raise BadLine("TSV line before its #fields header")
        values = line.decode("utf-8", errors="replace").split(self.separator)
        if len(values) != layout.width:
            raise BadLine("wrong number of TSV columns")
        kwargs: dict[str, Any] = {}
        unset, empty = self.unset, self.empty
        for index, attr, conv, is_text in layout.columns:
            value = values[index]
            if value == unset:
                continue
            if value == empty:
                value = ""
                if not is_text:
                    continue
            kwargs[attr] = conv(value)
        if "starttime" not in kwargs:
            raise BadLine("missing ts")
        return self.twin(**kwargs)


def _check(record: Any) -> str | None:
    """Semantic checks every record must pass; also normalises a few fields."""
    ts = record.starttime
    if not (isinstance(ts, (float, int))) or not math.isfinite(ts) or ts < 0 or ts > MAX_TS:
        return "invalid timestamp"
    record_type = _record_type_of(record)
    if record_type is FilesRecord:
        _normalise_files(record)
    elif record_type is NoticeRecord:
        _normalise_notice(record)
    if (record.saddr and parse_ip(record.saddr) is None) or (record_type.needs_saddr and not record.saddr):
        return "invalid source address"
    if (record.daddr and parse_ip(record.daddr) is None) or (record_type.needs_daddr and not record.daddr):
        return "invalid destination address"
    if not 0 <= record.sport <= 65535 or not 0 <= record.dport <= 65535:
        return "invalid port"
    for name in _NUMERIC_FIELDS.get(record_type, ()):
        value = getattr(record, name)
        if value is not None and (value < 0 or not math.isfinite(value)):
            return f"invalid {name}"
    return None


def _record_type_of(record: Any) -> type[Record]:
    return type(record).record_type


_NUMERIC_FIELDS: dict[type[Record], tuple[str, ...]] = {
    record_type: tuple(
        f.name
        for f in msgspec.structs.fields(record_type)
        if f.type in (int, float) and f.name not in ("starttime", "sport", "dport")
    )
    for record_type in RECORD_TYPES
}


def _normalise_files(record: Any) -> None:
    """Make saddr the sender of the file and daddr its receiver."""
    if record.tx_hosts:
        record.saddr = record.tx_hosts[0]
        record.daddr = record.rx_hosts[0] if record.rx_hosts else ""
    elif record.saddr and not record.is_orig:
        # Newer Zeek: id.* is the connection; the responder sent the file.
        record.saddr, record.daddr = record.daddr, record.saddr
        record.sport, record.dport = record.dport, record.sport


def _normalise_notice(record: Any) -> None:
    if not record.saddr:
        record.saddr = record.scanning_ip
    if not record.daddr:
        record.daddr = record.dst or record.saddr
    if not record.dport:
        record.dport = record.scanned_port
