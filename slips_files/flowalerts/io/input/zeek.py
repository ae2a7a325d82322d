"""Zeek log readers: TSV or JSON lines, plain or gzip, into typed records.

A line becomes a typed record exactly once, here (DESIGN rule 1). JSON lines
are decoded by msgspec straight into the record's Zeek-named twin; TSV lines
are split and converted column by column using the ``#fields`` header (which
may change mid-file). Any line that cannot be used - malformed, wrong types,
invalid IPs, absurd ports or numbers, too long, nested too deep, invalid
UTF-8 - becomes a counted warning with its file and line number and the Zeek
field at fault, and reading goes on.

Memory is bounded by the configuration (``input`` section), whatever the
bytes:

* a line is read at most ``max_line_bytes`` at a time: the rest of a longer
  line (a crash-truncated log ends in a gigabyte of NUL bytes without a
  newline) is skipped without being kept;
* a JSON line nested deeper than ``max_json_depth`` is rejected before it is
  decoded (msgspec would recurse into it);
* a ``.gz`` file is decompressed by a bounded stream that stops at
  ``max_decompressed_bytes`` or when the output grows more than
  ``max_decompression_ratio`` times the input it came from (a gzip bomb);
  the records before that point are kept.

Zeek's ISO-8601 timestamps (``redef LogAscii::json_timestamps =
JSON::TS_ISO8601``, e.g. ``"ts":"2024-05-01T10:00:00.123456Z"``) are read
like epoch timestamps, in every time field.

Field names are the file's own: a ``_`` scope separator (``id_orig_h``) is
detected from the ``#fields`` header or the first JSON record, and
``input.field_names`` renames fields (``flowalerts.io.input.fields``); each
file gets a decoder for its names, so the records are the same.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, cast

import msgspec

from flowalerts.core.config import InputSection
from flowalerts.core.records import FilesRecord, NoticeRecord, Record, zeek_json_type
from flowalerts.core.validation import validate
from flowalerts.io.input.fields import (
    file_names,
    has_dotted_names,
    normalise_field_names,
    scope_separator,
    shows_separator,
)
from flowalerts.io.input.warnings import InputWarnings

# Defaults of the ``input`` config section (see flowalerts.core.config.InputSection).
DEFAULT_LIMITS = InputSection()
MAX_LINE_BYTES = DEFAULT_LIMITS.max_line_bytes
# Zeek fields of type ``time`` (written as ISO-8601 strings with
# json_timestamps); intervals such as ``duration`` stay numbers.
TIME_FIELDS = frozenset({"ts", "certificate.not_valid_before", "certificate.not_valid_after"})
# The decompression ratio is only judged once this much was decompressed:
# a small file proves nothing.
RATIO_FLOOR_BYTES = 16 << 20
_GZ_CHUNK = 1 << 18
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class BadLine(ValueError):
    """A line that cannot become a record; the message is the reason."""


class InputLimitExceeded(OSError):
    """A compressed file decompresses beyond the configured bounds."""


# -- bounded decompression ---------------------------------------------------------
class BoundedGzipStream(io.RawIOBase):
    """The decompressed bytes of a gzip file, within the configured bounds.

    Multi-member files and zero padding between members are read like
    ``gzip`` does. A truncated stream raises ``EOFError`` and corrupt data
    ``zlib.error`` after everything before them was returned (so the caller
    keeps those records). More than ``max_bytes`` decompressed, or more than
    ``max_ratio`` times the compressed bytes consumed (judged past
    ``RATIO_FLOOR_BYTES``), raises ``InputLimitExceeded``.
    """

    def __init__(self, raw: io.BufferedIOBase, max_bytes: int, max_ratio: float) -> None:
        super().__init__()
        self._raw = raw
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = b""
        self._read_in = 0
        self.decompressed = 0
        self._done = False

    def readable(self) -> bool:
        return True

    @property
    def compressed(self) -> int:
        """Compressed bytes consumed so far."""
        return self._read_in - len(self._input)

    def readinto(self, buffer: Any) -> int:
        chunk = self._next(len(buffer))
        size = len(chunk)
        buffer[:size] = chunk
        return size

    def _read_raw(self) -> bytes:
        data = self._raw.read(_GZ_CHUNK)
        self._read_in += len(data)
        return data

    def _next(self, size: int) -> bytes:
        while not self._done:
            decompressor = self._decompressor
            if decompressor.eof:
                # End of one member: another may follow (after zero padding).
                rest = decompressor.unused_data.lstrip(b"\x00")
                while not rest:
                    rest = self._read_raw()
                    if not rest:
                        self._done = True
                        return b""
                    rest = rest.lstrip(b"\x00")
                self._decompressor = decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._input = rest
            if not self._input:
                self._input = self._read_raw()
                if not self._input:
                    if self._read_in == 0:  # an empty .gz file: nothing in it (as gzip reads it)
                        self._done = True
                        return b""
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
            out = decompressor.decompress(self._input, max(1, min(size, _GZ_CHUNK)))
            # At the end of a member what follows is in unused_data (read above).
            self._input = b"" if decompressor.eof else decompressor.unconsumed_tail
            if out:
                self.decompressed += len(out)
                self._check_bounds()
                return out
        return b""

    def _check_bounds(self) -> None:
        if self.decompressed > self.max_bytes:
            raise InputLimitExceeded(
                f"decompressed size above input.max_decompressed_bytes ({self.max_bytes:,} bytes)"
            )
        if self.decompressed > RATIO_FLOOR_BYTES and self.decompressed > self.max_ratio * max(1, self.compressed):
            raise InputLimitExceeded(
                f"decompresses more than input.max_decompression_ratio ({self.max_ratio:g}) times its size"
                " (a compression bomb?)"
            )

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def open_binary(path: str, limits: InputSection | None = None) -> io.BufferedReader:
    """A binary reader of a Zeek log; ``.gz`` files are decompressed within ``limits``."""
    limits = limits or DEFAULT_LIMITS
    raw = open(path, "rb")  # noqa: SIM115 - closed with the returned reader
    if not path.endswith(".gz"):
        return raw
    stream = BoundedGzipStream(raw, limits.max_decompressed_bytes, limits.max_decompression_ratio)
    return io.BufferedReader(stream, buffer_size=_GZ_CHUNK)


def bounded_lines(handle: Any, max_line_bytes: int) -> Iterator[bytes | None]:
    """The lines of a binary file, each at most ``max_line_bytes`` long.

    A longer line is yielded as ``None`` (one per line) and its bytes are read
    and dropped in bounded pieces, never kept: memory stays bounded whatever
    the file holds.
    """
    readline = handle.readline
    for raw in iter(functools.partial(readline, max_line_bytes + 1), b""):
        if len(raw) <= max_line_bytes:
            yield raw
            continue
        if raw[-1:] != b"\n":
            for rest in iter(functools.partial(readline, 1 << 20), b""):
                if rest[-1:] == b"\n":
                    break
        yield None


# -- JSON nesting ------------------------------------------------------------------
# A JSON string (an unterminated one runs to the end of the line), so brackets
# inside strings are not counted. Linear: the alternatives cannot overlap.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
# Only brackets are kept, all as "[" and "]" (the kind does not change the depth).
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(line: bytes, max_depth: int) -> bool:
    """True if the JSON text nests arrays/objects deeper than ``max_depth``.

    Cheap for real Zeek lines (a count of brackets); otherwise strings are
    removed and the innermost ``[]`` pairs peeled, exactly one level per pass
    (``bytes.replace``, in C).
    """
    if line.count(b"[") + line.count(b"{") <= max_depth:
        return False
    brackets = _JSON_STRING.sub(b"", line).translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    for _ in range(max_depth):
        peeled = brackets.replace(b"[]", b"")
        if not peeled:
            return False
        if len(peeled) == len(brackets):
            # Unbalanced (malformed): deep if a parser could still go that deep.
            return peeled.count(b"[") > max_depth
        brackets = peeled
    return True


# -- field conversion ----------------------------------------------------------------
def iso_to_epoch(value: dt.datetime) -> float:
    """Epoch seconds of a decoded ISO-8601 time (no offset means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return (value - _EPOCH).total_seconds()


def _to_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return iso_to_epoch(msgspec.convert(text, dt.datetime))


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("t", "true", "1"):
        return True
    if lowered in ("f", "false", "0"):
        return False
    raise ValueError(text)


def _converter(field_type: Any, set_separator: str, zeek_name: str) -> tuple[Callable[[str], Any], str]:
    """How to turn one TSV column into the record field's Python type, and the type's name."""
    text = repr(field_type)
    if zeek_name in TIME_FIELDS:
        return _to_time, "time"
    if field_type is bool or text in ("bool | None", "typing.Optional[bool]"):
        return _to_bool, "boolean (T/F)"
    if field_type is int or text in ("int | None", "typing.Optional[int]"):
        return int, "integer"
    if field_type is float:
        return float, "number"
    if text == "list[str]":
        return (lambda value: value.split(set_separator) if value else []), "list"
    if text == "list[float]":
        return (lambda value: [float(item) for item in value.split(set_separator)] if value else []), "list of numbers"
    return str, "string"


class _TsvLayout:
    """Column positions of one ``#fields`` header for one record type."""

    def __init__(
        self, record_type: type[Record], names: list[str], set_separator: str, field_names: dict[str, str]
    ) -> None:
        field_types = {f.name: f.type for f in msgspec.structs.fields(record_type)}
        in_file = file_names(record_type, scope_separator(names), field_names)
        by_name = {in_file[zeek]: (attr, zeek) for attr, zeek in record_type.zeek.items()}
        self.columns: list[tuple[int, str, Callable[[str], Any], bool, str]] = []
        for index, name in enumerate(names):
            found = by_name.get(name)
            if found is None:
                continue
            attr, zeek = found
            conv, type_name = _converter(field_types[attr], set_separator, zeek)
            is_text = conv is str or repr(field_types[attr]).startswith("list")
            problem = f"{name} is not a valid {type_name}"
            self.columns.append((index, attr, conv, is_text, problem))
        self.width = len(names)


@functools.cache
def decoding_twin(record_type: type[Record], renames: tuple[tuple[str, str], ...] = ()) -> type[msgspec.Struct]:
    """The Zeek-named twin of ``record_type`` whose time fields also accept
    ISO-8601 strings (converted to epoch seconds by the reader).

    ``renames``: (Zeek's name, the name in the file) for the fields a file
    names otherwise (``flowalerts.io.input.fields``).
    """
    twin = zeek_json_type(record_type)
    in_file = dict(renames)
    fields: list[tuple[Any, ...]] = []
    rename: dict[str, str] = {}
    for f in msgspec.structs.fields(twin):
        field_type = float | dt.datetime if f.encode_name in TIME_FIELDS and f.type is float else f.type
        rename[f.name] = in_file.get(f.encode_name, f.encode_name)
        if f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, field_type, msgspec.field(default_factory=f.default_factory)))
        elif f.default is not msgspec.NODEFAULT:
            fields.append((f.name, field_type, f.default))
        else:
            fields.append((f.name, field_type))
    namespace = {
        name: getattr(twin, name) for name in ("log_type", "channel", "zeek", "needs_saddr", "needs_daddr", "record_type")
    }
    namespace["time_attrs"] = tuple(f.name for f in msgspec.structs.fields(twin) if f.encode_name in TIME_FIELDS)
    return msgspec.defstruct(
        "Iso" + twin.__name__, fields, kw_only=True, gc=False, rename=rename, namespace=namespace
    )


_VALIDATION_PATH = re.compile(r" - at `\$\.?(.*)`$")
_INDEX = re.compile(r"\[\d+\]")


def _describe_validation(exc: msgspec.ValidationError) -> str:
    """"orig_bytes: expected int, got str" from msgspec's message (indices folded)."""
    text = str(exc)
    match = _VALIDATION_PATH.search(text)
    what = text[: match.start()] if match else text
    what = what.replace("`", "").replace("Expected", "expected")
    if match and match.group(1):
        return f"{_INDEX.sub('[]', match.group(1))}: {what}"[:120]
    return what[:120]


class ZeekFileReader:
    """Iterates the usable records of one Zeek log file."""

    def __init__(
        self,
        path: str,
        record_type: type[Record],
        warnings: InputWarnings,
        limits: InputSection | None = None,
    ) -> None:
        self.path = path
        self.record_type = record_type
        self.warnings = warnings
        self.limits = limits or DEFAULT_LIMITS
        self.field_names = normalise_field_names(self.limits.field_names)
        # The twin and decoder for this file's field names: decided by the
        # first JSON record that shows the scope separator (None until then).
        self.twin: type[msgspec.Struct] = decoding_twin(record_type)
        self.decoder: msgspec.json.Decoder[Any] | None = None
        self._separator_matters = has_dotted_names(record_type)
        self._decoders: dict[str, tuple[type[msgspec.Struct], msgspec.json.Decoder[Any]]] = {}
        self.max_line_bytes = self.limits.max_line_bytes
        self.max_json_depth = self.limits.max_json_depth
        self.too_long = f"line longer than {self.max_line_bytes:,} bytes (input.max_line_bytes)"
        self.too_deep = f"JSON nested deeper than {self.max_json_depth} levels (input.max_json_depth)"
        self.read = 0
        self.skipped: Counter[str] = Counter()
        # TSV header state.
        self.separator = "\t"
        self.set_separator = ","
        self.unset = "-"
        self.empty = "(empty)"
        self.layout: _TsvLayout | None = None
        self.line_no = 0
        # Why this file was not read to its end (None: it was, or not yet).
        self.stopped: str | None = None
        self._inside_line = False

    def __iter__(self) -> Iterator[Record]:
        try:
            with open_binary(self.path, self.limits) as handle:
                yield from self._lines(handle)
        except InputLimitExceeded as exc:
            self.stopped = str(exc)
            self.warnings.note(
                f"{self.path}: reading stopped in line {self.current_line}: {exc}; "
                f"the {self.read} records before it are kept"
            )
        except (EOFError, zlib.error) as exc:
            # A crash-truncated .gz: what was there has been read; not an error of the run.
            self.warnings.note(
                f"{self.path}: truncated or corrupt compressed data after line {self.line_no} "
                f"({_exc_text(exc)}); the {self.read} records before it are kept"
            )
        except OSError as exc:
            self.stopped = f"read error: {exc.strerror or exc}"
            self.warnings.note(f"{self.path}: read error in line {self.current_line}: {exc.strerror or exc}")

    @property
    def current_line(self) -> int:
        """The line being read (when reading stops in the middle of the file)."""
        return self.line_no if self._inside_line else self.line_no + 1

    def _lines(self, handle: Any) -> Iterator[Record]:
        # bounded_lines, inlined: this loop runs once per line of every file.
        limit = self.max_line_bytes
        readline = handle.readline
        parse_line = self.parse_line
        for raw in iter(functools.partial(readline, limit + 1), b""):
            self.line_no += 1
            if len(raw) > limit:
                if raw[-1:] != b"\n":
                    self._inside_line = True
                    for rest in iter(functools.partial(readline, 1 << 20), b""):
                        if rest[-1:] == b"\n":
                            break
                    self._inside_line = False
                self._bad(self.too_long)
                continue
            record = parse_line(raw)
            if record is not None:
                self.read += 1
                yield record

    # -- one line -----------------------------------------------------------------
    def parse_line(self, raw: bytes) -> Record | None:
        """The record on this line, or None (header, blank or bad line)."""
        if len(raw) > self.max_line_bytes:
            return self._bad(self.too_long)
        line = raw.rstrip(b"\r\n")
        # A JSON record is the common line: tested first, without the copies
        # strip() and lstrip() make.
        is_json = line[:1] == b"{"
        if not is_json and not line.strip():
            return None
        try:
            if not is_json and (line[:1] == b"#" or line.lstrip()[:1] == b"#"):
                self._header(line.lstrip())
                return None
            if is_json:
                depth = self.max_json_depth
                if line.count(b"[") + line.count(b"{") > depth and json_too_deep(line, depth):
                    return self._bad(self.too_deep)
                decoder = self.decoder
                if decoder is None:
                    decoder = self._json_decoder(line)
                record = decoder.decode(line)
            else:
                record = self._tsv(line)
            problem = _check(record)
        except BadLine as exc:
            return self._bad(str(exc))
        except msgspec.ValidationError as exc:
            return self._bad(_describe_validation(exc))
        except msgspec.DecodeError as exc:
            if "UTF-8" in str(exc):
                return self._bad("invalid UTF-8")
            return self._bad("malformed JSON")
        except RecursionError:
            return self._bad(self.too_deep)
        except (ValueError, TypeError, OverflowError):
            return self._bad("malformed value")
        if problem:
            return self._bad(problem)
        # The twin has Zeek's field names; everything downstream gets the record class.
        return msgspec.convert(record, self.record_type, from_attributes=True)

    def _json_decoder(self, line: bytes) -> msgspec.json.Decoder[Any]:
        """The decoder for this file's field names, judged from this record's keys.

        Kept for the whole file once a record shows the scope separator (a
        record without any dotted field, e.g. a weird without ``id``, does not).
        """
        keys: list[str] = []
        if self._separator_matters:
            try:
                # Only the keys: values stay raw (a bad value is the record decoder's to report).
                keys = list(msgspec.json.decode(line, type=dict[str, msgspec.Raw]))
            except (msgspec.DecodeError, msgspec.ValidationError):
                keys = []
        separator = scope_separator(keys)
        found = self._decoders.get(separator)
        if found is None:
            in_file = file_names(self.record_type, separator, self.field_names)
            renames = tuple(sorted((zeek, name) for zeek, name in in_file.items() if zeek != name))
            twin = decoding_twin(self.record_type, renames)
            found = self._decoders[separator] = (twin, msgspec.json.Decoder(twin, strict=False))
        if not self._separator_matters or shows_separator(keys):
            self.twin, self.decoder = found
        return found[1]

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
            names = value.split(self.separator)
            self.layout = _TsvLayout(self.record_type, names, self.set_separator, self.field_names)

    def _tsv(self, line: bytes) -> Record:
        layout = self.layout
        if layout is None:
            raise BadLine("TSV line before its #fields header")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            # Zeek escapes non-UTF-8 bytes (\xNN) in TSV: raw ones are not Zeek's.
            raise BadLine("invalid UTF-8") from None
        values = text.split(self.separator)
        if len(values) != layout.width:
            raise BadLine("wrong number of TSV columns")
        kwargs: dict[str, Any] = {}
        unset, empty = self.unset, self.empty
        for index, attr, conv, is_text, problem in layout.columns:
            value = values[index]
            if value == unset:
                continue
            if value == empty:
                value = ""
                if not is_text:
                    continue
            try:
                kwargs[attr] = conv(value)
            except (ValueError, TypeError, OverflowError, msgspec.ValidationError):
                raise BadLine(problem) from None
        if "starttime" not in kwargs:
            raise BadLine("ts is missing")
        # The twin has the record's fields and class facts: it stands for the record.
        return cast("Record", self.twin(**kwargs))


def _exc_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# -- semantic checks -------------------------------------------------------------------
def _check(record: Any) -> str | None:
    """Zeek's time fields as epoch, Zeek's files/notice layouts as ours, then
    the checks every record passes (``flowalerts.core.validation``); the
    reason names the Zeek field (``orig_bytes is negative``)."""
    if record.starttime.__class__ is not float or len(record.time_attrs) > 1:
        for attr in record.time_attrs:
            value = getattr(record, attr)
            if isinstance(value, dt.datetime):
                setattr(record, attr, iso_to_epoch(value))
    record_type = record.record_type
    if record_type is FilesRecord:
        _normalise_files(record)
    elif record_type is NoticeRecord:
        _normalise_notice(record)
    problem = validate(record, record_type)
    return None if problem is None else str(problem)


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


def file_is_readable(path: str) -> str | None:
    """None if ``path`` can be opened for reading, else why not (for the user)."""
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()

