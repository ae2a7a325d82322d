"""Live input: follow a folder Zeek is writing (``flowalerts run --follow``).

Only Zeek's live names at the top of the folder are followed (``conn.log``,
``dns.log``, ``conn.json``, ``json_streaming_conn.log`` ...; which log a file
holds is read from its ``#path`` or ``_path`` first, its name second); rotated copies (other names, dated sub-folders, ``.gz``)
hold data already read and are never read again. Each poll:

* new bytes of every followed file are read, at most ``POLL_BUDGET`` per
  file (a big file is read over several polls, records released in between);
  only complete lines are parsed, a partially written last line waits for its
  newline; a line longer than ``input.max_line_bytes`` is counted once and its
  bytes are skipped as they arrive, never kept;
* rotation is detected per name: if the name now points to another inode (the
  file was renamed or moved away and Zeek started a new one) the old handle is
  read to its end (its unterminated last line included) and closed before the
  new file of that log is read from its start; if the file shrank below our
  offset (copytruncate) reading restarts at 0;
* new log files appearing in the folder are picked up;
* a file Zeek created and renamed in place between two polls (so never seen
  under its live name) is read once under its rotated name: only in a poll
  where a rename rotation of that log type was seen (never after a
  copytruncate, whose copy holds lines already read), and only if it was not
  in the folder when the reader started and its inode was never read.

Records from different files are not globally ordered in live mode, so they
pass through a small reorder buffer: a record is released once the newest
``ts`` seen is ``reorder_seconds`` past it (flow time), or when no new line has
arrived for ``idle_release`` wall seconds. When idle the iterator yields
``None`` so the caller can flush. It ends when ``stop`` is set, after reading
what is there (up to each file's size at that moment), the last line of each
file even without its newline (counted like any other line), and releasing
everything it holds (nothing read is dropped).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator

from flowalerts.core.config import InputSection
from flowalerts.core.records import BY_LOG_TYPE, Record
from flowalerts.io.input.folder import InputError, live_log_type, log_type_of, log_type_of_file
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import DEFAULT_LIMITS, ZeekFileReader

_READ_CHUNK = 1 << 20
# At most this many new bytes of one file are read per poll: a file that is
# already big when it is first seen (or a huge append) is read over several
# polls, with records released in between, so memory stays bounded.
POLL_BUDGET = 8 << 20


class _Tail:
    """One followed file: an open handle, its inode, offset and partial line."""

    def __init__(self, path: str, log_type: str, warnings: InputWarnings, limits: InputSection) -> None:
        self.path = path
        self.log_type = log_type
        self.handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.inode = os.fstat(self.handle.fileno()).st_ino
        self.offset = 0
        self.partial = b""
        # Inside a line longer than max_line_bytes: its bytes are dropped up
        # to the next newline (it was counted once already).
        self.discarding = False
        self.max_line_bytes = limits.max_line_bytes
        self.parser = ZeekFileReader(path, BY_LOG_TYPE[log_type], warnings, limits)
        # Set when a poll stopped at its budget with more bytes waiting.
        self.backlog = False

    def read_lines(self, budget: int | None = None, until: int | None = None) -> list[bytes]:
        """Complete lines in at most ``budget`` new bytes (up to offset ``until``).

        A line longer than ``max_line_bytes`` is returned once, cut to a
        bounded size (the parser counts it as too long), and the rest of it is
        skipped as it arrives.
        """
        budget = POLL_BUDGET if budget is None else budget
        lines: list[bytes] = []
        consumed = 0
        self.backlog = False
        while True:
            want = min(_READ_CHUNK, budget - consumed)
            if until is not None:
                want = min(want, until - self.offset)
            if want <= 0:
                self.backlog = until is None or self.offset < until
                return lines
            chunk = self.handle.read(want)
            if not chunk:
                return lines
            consumed += len(chunk)
            self.offset += len(chunk)
            if self.discarding:
                newline = chunk.find(b"\n")
                if newline < 0:
                    continue
                self.discarding = False
                chunk = chunk[newline + 1 :]
            parts = (self.partial + chunk).split(b"\n")
            self.partial = parts.pop()
            lines.extend(part + b"\n" for part in parts)
            if len(self.partial) > self.max_line_bytes:
                # A runaway line without a newline: hand it on once, drop the rest.
                lines.append(self.partial[: self.max_line_bytes + 1])
                self.partial = b""
                self.discarding = True

    def restart(self) -> None:
        """The file was truncated in place (copytruncate): read from the start."""
        self.handle.seek(0)
        self.offset = 0
        self.partial = b""
        self.discarding = False

    def last_line(self) -> list[bytes]:
        """The unterminated last line, if any (at the end of the file's life or at stop)."""
        line, self.partial = self.partial, b""
        return [line] if line.strip() and not self.discarding else []

    def close(self) -> None:
        self.handle.close()


class FollowReader:
    """Typed records of a live Zeek folder, until ``stop`` is set."""

    def __init__(
        self,
        path: str,
        warnings: InputWarnings | None = None,
        stop: threading.Event | None = None,
        poll_interval: float = 0.5,
        reorder_seconds: float = 5.0,
        idle_release: float = 5.0,
        limits: InputSection | None = None,
    ) -> None:
        if not os.path.isdir(path):
            raise InputError(f"--follow needs an existing folder Zeek writes to: {path}")
        self.path = path
        self.warnings = warnings or InputWarnings()
        self.stop = stop or threading.Event()
        self.poll_interval = poll_interval
        self.reorder_seconds = reorder_seconds
        self.idle_release = idle_release
        self.limits = limits or DEFAULT_LIMITS
        self.tails: dict[str, _Tail] = {}
        # Files renamed away (or rotated files caught up) still being read to their end.
        self.draining: list[_Tail] = []
        self._read: Counter[str] = Counter()
        self._skipped: Counter[str] = Counter()
        self._heap: list[tuple[float, int, Record]] = []
        self._seq = itertools.count()
        self._newest = float("-inf")
        self.rotations = 0
        self.truncations = 0
        # Inodes already read (live files), and the start time (wall clock,
        # live mode only) that tells rotated files written during the run.
        self._seen_inodes: set[tuple[int, int]] = set()
        # Log type by file (path and inode) once its records said it ("" for a log we do not read).
        self._types: dict[tuple[str, int, int], str] = {}
        self._unsupported_noted: set[str] = set()
        self._started_wall = time.time()
        for rotated_path in self._log_files()[1]:
            try:
                status = os.stat(rotated_path)
            except OSError:
                continue
            self._seen_inodes.add((status.st_dev, status.st_ino))

    # -- counts (same interface as FolderReader) ---------------------------------
    @property
    def read_counts(self) -> Counter[str]:
        return Counter(self._read)

    @property
    def skipped_counts(self) -> Counter[str]:
        return Counter(self._skipped)

    # -- files -------------------------------------------------------------------
    def _log_files(self) -> tuple[dict[str, str], dict[str, str]]:
        """(live files, rotated plain files) at the top of the folder, with the log type their name says."""
        live: dict[str, str] = {}
        rotated: dict[str, str] = {}
        try:
            names = os.listdir(self.path)
        except OSError:
            return live, rotated
        for name in names:
            log_type = log_type_of(name)
            if log_type is None:
                continue
            live_type = live_log_type(name)
            if live_type is not None:
                live[os.path.join(self.path, name)] = live_type
            elif not name.endswith(".gz"):
                rotated[os.path.join(self.path, name)] = log_type
        return live, rotated

    def _type_of(self, path: str, name_type: str) -> str | None:
        """The log type of a file (its records first, its name second); None
        for a log we do not read, or an empty file whose name says nothing we read."""
        try:
            status = os.stat(path)
        except OSError:
            return None
        key = (path, status.st_dev, status.st_ino)
        known = self._types.get(key)
        if known is not None:
            return known or None
        said = log_type_of_file(path, None, self.limits)
        if said is not None:
            # The records said it: final for this file.
            self._types[key] = said if said in BY_LOG_TYPE else ""
            if said not in BY_LOG_TYPE and said not in self._unsupported_noted:
                self._unsupported_noted.add(said)
                self.warnings.note(f"skipping {path}: unsupported log type '{said}'")
            return said if said in BY_LOG_TYPE else None
        return name_type if name_type in BY_LOG_TYPE else None

    def _open(self, path: str, log_type: str) -> None:
        try:
            tail = _Tail(path, log_type, self.warnings, self.limits)
        except OSError as exc:
            self.warnings.note(f"{path}: cannot open yet: {exc.strerror or exc}")
            return
        self.tails[path] = tail
        self._seen_inodes.add((os.fstat(tail.handle.fileno()).st_dev, tail.inode))

    def poll(self) -> int:
        """Read what is new in every file (a bounded amount each); returns the number of lines read."""
        lines_read = 0
        renamed: set[str] = set()
        for tail in list(self.draining):
            lines_read += self._parse(tail, tail.read_lines())
            if not tail.backlog:
                lines_read += self._finish(tail)
        for path, tail in list(self.tails.items()):
            lines_read += self._parse(tail, tail.read_lines())
            try:
                status = os.stat(path)
            except FileNotFoundError:
                status = None
            if status is None or status.st_ino != tail.inode:
                # Renamed or moved away (rotation): finish the old file first.
                del self.tails[path]
                self.rotations += 1
                renamed.add(tail.log_type)
                lines_read += self._finish(tail) if not tail.backlog else self._drain_later(tail)
            elif status.st_size < tail.offset:
                tail.restart()
                self.truncations += 1
                lines_read += self._parse(tail, tail.read_lines())
        draining_types = {tail.log_type for tail in self.draining}
        live, rotated = self._log_files()
        for path, name_type in sorted(live.items()):
            if path in self.tails:
                continue
            log_type = self._type_of(path, name_type)
            # A new file of a type whose previous file is still being read
            # waits for it: records keep Zeek's order across a rotation.
            if log_type is not None and log_type not in draining_types:
                self._open(path, log_type)
                tail = self.tails.get(path)
                if tail is not None:
                    lines_read += self._parse(tail, tail.read_lines())
        for path, name_type in sorted(rotated.items()):
            log_type = self._type_of(path, name_type) if renamed else None
            if log_type is not None and log_type in renamed:
                lines_read += self._catch_up(path, log_type)
        return lines_read

    def _finish(self, tail: _Tail) -> int:
        """A file read to its end: its unterminated last line too, then close it."""
        lines = self._parse(tail, tail.last_line())
        tail.close()
        if tail in self.draining:
            self.draining.remove(tail)
        return lines

    def _drain_later(self, tail: _Tail) -> int:
        self.draining.append(tail)
        return 0

    def _catch_up(self, path: str, log_type: str) -> int:
        """Read a rotated file once if it was written during the run but never seen."""
        try:
            status = os.stat(path)
        except OSError:
            return 0
        key = (status.st_dev, status.st_ino)
        if key in self._seen_inodes or status.st_mtime < self._started_wall - 1.0:
            return 0
        self._seen_inodes.add(key)
        try:
            tail = _Tail(path, log_type, self.warnings, self.limits)
        except OSError:
            return 0
        lines = self._parse(tail, tail.read_lines())
        return lines + (self._drain_later(tail) if tail.backlog else self._finish(tail))

    @property
    def backlog(self) -> bool:
        """True when some file has more bytes waiting than the last poll read."""
        return bool(self.draining) or any(tail.backlog for tail in self.tails.values())

    def _parse(self, tail: _Tail, lines: list[bytes]) -> int:
        parser = tail.parser
        for raw in lines:
            parser.line_no += 1
            before = sum(parser.skipped.values())
            record = parser.parse_line(raw)
            if record is None:
                if sum(parser.skipped.values()) > before:
                    self._skipped[tail.log_type] += 1
                continue
            self._read[tail.log_type] += 1
            ts = record.starttime
            if ts > self._newest:
                self._newest = ts
            heapq.heappush(self._heap, (ts, next(self._seq), record))
        return len(lines)

    # -- records -----------------------------------------------------------------
    def _release(self, everything: bool = False) -> Iterator[Record]:
        limit = float("inf") if everything else self._newest - self.reorder_seconds
        heap = self._heap
        while heap and heap[0][0] <= limit:
            yield heapq.heappop(heap)[2]

    def _read_to_stop(self) -> Iterator[Record]:
        """At stop: read what is there now (bounded steps), then every unterminated last line."""
        self.poll()
        ends = {}
        for tail in (*self.draining, *self.tails.values()):
            try:
                ends[id(tail)] = os.fstat(tail.handle.fileno()).st_size
            except OSError:
                ends[id(tail)] = tail.offset
        while True:
            more = False
            for tail in (*self.draining, *self.tails.values()):
                self._parse(tail, tail.read_lines(until=ends[id(tail)]))
                more = more or tail.backlog
            yield from self._release()
            if not more:
                break
        for tail in (*self.draining, *self.tails.values()):
            self._parse(tail, tail.last_line())

    def __iter__(self) -> Iterator[Record | None]:
        last_data = time.monotonic()
        try:
            while not self.stop.is_set():
                if self.poll() or self.backlog:
                    last_data = time.monotonic()
                    yield from self._release()
                    continue
                if self._heap and time.monotonic() - last_data >= self.idle_release:
                    yield from self._release(everything=True)
                yield None
                self.stop.wait(self.poll_interval)
            yield from self._read_to_stop()
            yield from self._release(everything=True)
        finally:
            for tail in (*self.draining, *self.tails.values()):
                tail.close()
            self.tails.clear()
            self.draining.clear()
