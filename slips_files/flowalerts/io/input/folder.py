"""Find the Zeek logs of a folder (or one file) and merge them.

Records from all logs are merged by ``ts``, each file read in its own order
(Zeek's write order, or sorted by ``ts``): a DNS answer is seen before the
connection that uses it whatever file it came from, and records arriving out
of order within the allowed lateness give the same evidence
(``flowalerts.core.clock`` explains the lateness policy). Each file is read lazily; ``heapq.merge`` keeps one
record per file in memory. Ties keep file order (files are sorted by name), so
a replay is deterministic.

Which log a file holds is read from the file first (the ``_path`` of its
first JSON record, the ``#path`` header of a TSV log) and from its name
second: ``conn.log``, ``conn.json``, ``conn.log.labeled``, ``dns.json.gz``,
``json_streaming_conn.log`` (the JSON Streaming Logs package), and Zeek's
rotated and archived names (``conn.00:00:00-01:00:00.log.gz``,
``conn.2024-01-01-00-00-00.log``). A folder is read with its sub-folders
(Zeek's archive, one folder per day): every file in it is one input, merged
in time order. Symbolic links to folders are not followed.
"""

from __future__ import annotations

import gzip
import heapq
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterator

import msgspec

from flowalerts.core.config import InputSection
from flowalerts.core.records import BY_LOG_TYPE, Record
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import DEFAULT_LIMITS, ZeekFileReader, file_is_readable, json_too_deep

# conn.log, conn.json, conn.log.labeled, conn.log.gz, dns.json.gz, json_streaming_conn.log,
# conn.00:00:00-01:00:00.log.gz, conn.2024-01-01-10-00-00.log
_LOG_NAME = re.compile(
    r"^(?:json_streaming_)?(?P<type>[A-Za-z0-9_]+)(?:\.[^/]*)?\.(?:log|json)(?:\.labeled)?(?:\.gz)?$"
)
# The live names Zeek writes to (rotated copies have a time stamp or .gz).
_LIVE_NAME = re.compile(r"^(?:json_streaming_)?(?P<type>[A-Za-z0-9_]+)\.(?:log|json)$")
# The header lines read to find a log's #path, or its first record.
_SNIFF_LINES = 20


class InputError(Exception):
    """The input path cannot be used as given (missing, not a Zeek log): a usage error."""


class InputUnusable(InputError):
    """The input exists but nothing in it can be read (permissions, symlink loop ...)."""


def log_type_of(filename: str) -> str | None:
    """The log type a file name says (``conn`` for ``conn.00:00:00-01:00:00.log.gz``), or None."""
    match = _LOG_NAME.match(filename)
    return match.group("type") if match else None


def live_log_type(filename: str) -> str | None:
    """The log type of a name Zeek writes to live (``conn.log``, ``conn.json``), or None."""
    match = _LIVE_NAME.match(filename)
    return match.group("type") if match else None


class _PathOnly(msgspec.Struct):
    path: str | None = msgspec.field(default=None, name="_path")


def sniff_log_type(path: str, limits: InputSection | None = None) -> str | None:
    """The log a file says it holds: its ``#path`` header (TSV) or the
    ``_path`` of its first JSON record; None if it does not say (bounded reads)."""
    limits = limits or DEFAULT_LIMITS
    try:
        # Small reads (not the reader's 256 KiB chunks): every file of a
        # year of archives is sniffed; readline's limit bounds a gzip bomb.
        with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as handle:
            for _ in range(_SNIFF_LINES):
                raw = handle.readline(limits.max_line_bytes + 1)
                if not raw or len(raw) > limits.max_line_bytes:
                    return None
                line = raw.strip()
                if not line:
                    continue
                if line.startswith(b"#"):
                    if line.startswith(b"#path"):
                        parts = line.split()
                        return parts[1].decode("utf-8", errors="replace") if len(parts) > 1 else None
                    continue
                if not line.startswith(b"{") or json_too_deep(line, limits.max_json_depth):
                    return None
                return msgspec.json.decode(line, type=_PathOnly).path or None
    except (OSError, EOFError, zlib.error, msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return None


def log_type_of_file(path: str, name_type: str | None, limits: InputSection | None = None) -> str | None:
    """The log type of a file: what its records say if we read that log, else its name's."""
    said = sniff_log_type(path, limits)
    if said in BY_LOG_TYPE or name_type not in BY_LOG_TYPE:
        return said or name_type
    return name_type


def discover(path: str, warnings: InputWarnings) -> list[tuple[str, str]]:
    """(log type, file path) for every known Zeek log under ``path``, sorted."""
    if not os.path.exists(path):
        if os.path.lexists(path):
            raise InputUnusable(f"cannot read {path}: {file_is_readable(path) or 'broken symbolic link'}")
        raise InputError(f"input path does not exist: {path}")
    if os.path.isfile(path):
        problem = file_is_readable(path)
        if problem:
            raise InputUnusable(f"cannot read {path}: {problem}")
        said = sniff_log_type(path)
        if said is not None and said not in BY_LOG_TYPE:
            raise InputError(f"{path} is a Zeek {said} log, which Flowalerts does not read")
        log_type = said or log_type_of(os.path.basename(path))
        if log_type not in BY_LOG_TYPE:
            raise InputError(
                f"cannot tell which Zeek log {path} is (no #path header or _path field, and not a name like conn.log)"
            )
        return [(log_type, path)]
    if not os.path.isdir(path):
        raise InputError(f"input path is neither a file nor a folder: {path}")
    found: list[tuple[str, str]] = []
    unknown: Counter[str] = Counter()

    def unlistable(exc: OSError) -> None:
        warnings.note(f"cannot list folder {exc.filename or path}: {(exc.strerror or str(exc)).lower()}")

    for root, dirs, files in os.walk(path, onerror=unlistable):
        dirs.sort()
        for name in sorted(files):
            name_type = log_type_of(name)
            if name_type is None:
                continue
            log_type = log_type_of_file(os.path.join(root, name), name_type) or name_type
            if log_type not in BY_LOG_TYPE:
                unknown[log_type] += 1
                continue
            found.append((log_type, os.path.join(root, name)))
    for log_type in sorted(unknown):
        warnings.note(f"skipping {unknown[log_type]} file(s) of unsupported log type '{log_type}'")
    if not found:
        if not os.access(path, os.R_OK | os.X_OK):
            raise InputUnusable(f"cannot read folder {path}: permission denied")
        raise InputError(f"no Zeek logs found in {path}")
    return found


class FolderReader:
    """Merged, typed records of every log under a path.

    Files that cannot be opened are left out with a note (``unreadable``);
    if none can, ``InputUnusable`` is raised. ``available_logs`` are the log
    types with at least one readable file: detections that need another log
    are not run (``missing_reason`` says why a log type is missing).
    """

    def __init__(self, path: str, warnings: InputWarnings | None = None, limits: InputSection | None = None) -> None:
        self.warnings = warnings or InputWarnings()
        self.path = path
        found = discover(path, self.warnings)
        self.unreadable: dict[str, str] = {}
        self.files: list[tuple[str, str]] = []
        self._unreadable_types: dict[str, str] = {}
        for log_type, file_path in found:
            problem = file_is_readable(file_path)
            if problem is None:
                self.files.append((log_type, file_path))
                continue
            self.unreadable[file_path] = problem
            self._unreadable_types.setdefault(log_type, problem)
            self.warnings.note(f"cannot read {file_path}: {problem}; it is left out of this run")
        if not self.files:
            names = ", ".join(sorted(self.unreadable))
            raise InputUnusable(f"no readable Zeek log in {path} ({names}: {next(iter(self.unreadable.values()))})")
        self.readers = [
            ZeekFileReader(file_path, BY_LOG_TYPE[log_type], self.warnings, limits) for log_type, file_path in self.files
        ]
        self._handed_on: Counter[str] = Counter({log_type: 0 for log_type, _ in self.files})
        self.where = ""

    def __iter__(self) -> Iterator[Record]:
        # Count a record as read when it is handed on, not when a file reader
        # parsed it: heapq.merge holds one parsed record per file ahead, and a
        # run stopped by a signal never sees those.
        counts = self._handed_on
        for record, path, line_no in heapq.merge(*(_located(reader) for reader in self.readers), key=_start):
            counts[record.log_type] += 1
            self.where = f"{path}:{line_no}"
            yield record

    @property
    def available_logs(self) -> set[str]:
        """Log types with at least one file that could be opened."""
        return {log_type for log_type, _ in self.files}

    def missing_reason(self, log_type: str) -> str:
        """Why the input has no ``log_type`` records: "absent" or "unreadable: <why>"."""
        if log_type in self.available_logs:
            return ""
        problem = self._unreadable_types.get(log_type)
        return f"unreadable: {problem}" if problem else "absent"

    @property
    def incomplete(self) -> list[str]:
        """Input that exists but was not (fully) read, one line each."""
        problems = [f"{path}: not read ({problem})" for path, problem in sorted(self.unreadable.items())]
        problems += [
            f"{reader.path}: stopped in line {reader.current_line} ({reader.stopped})"
            for reader in self.readers
            if reader.stopped
        ]
        return problems

    @property
    def read_counts(self) -> Counter[str]:
        """Records handed on to the caller, per log type."""
        return Counter(self._handed_on)

    @property
    def skipped_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for reader in self.readers:
            counts[reader.record_type.log_type] += sum(reader.skipped.values())
        return counts


def _located(reader: ZeekFileReader) -> Iterator[tuple[Record, str, int]]:
    for record in reader:
        yield record, reader.path, reader.line_no


def _start(item: tuple[Record, str, int]) -> float:
    return item[0].starttime
