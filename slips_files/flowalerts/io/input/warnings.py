"""Counted input warnings: the first few are shown with file and line, the
rest are counted, so a file full of garbage never floods the terminal."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

from flowalerts.core.evidence import escape_text

SHOWN_PER_REASON = 5


class InputWarnings:
    def __init__(self, emit: Callable[[str], None] | None = None, shown_per_reason: int = SHOWN_PER_REASON) -> None:
        self.emit = emit or (lambda text: print(text, file=sys.stderr))
        self.shown_per_reason = shown_per_reason
        self.by_reason: Counter[str] = Counter()
        self.by_file: Counter[str] = Counter()
        self.notes: list[str] = []

    def bad_line(self, path: str, line_no: int, reason: str) -> None:
        """A line that could not be used; ``reason`` is short and fixed."""
        self.by_reason[reason] += 1
        self.by_file[path] += 1
        if self.by_reason[reason] <= self.shown_per_reason:
            self.emit(f"warning: {escape_text(path)}:{line_no}: {escape_text(reason)} (line skipped)")
            if self.by_reason[reason] == self.shown_per_reason:
                self.emit(f"warning: further '{escape_text(reason)}' warnings are counted, not shown")

    def warn(self, kind: str, text: str) -> None:
        """A counted warning of ``kind`` (e.g. "clock jump") that is not a bad line."""
        self.by_reason[kind] += 1
        if self.by_reason[kind] <= self.shown_per_reason:
            self.emit(f"warning: {escape_text(text)}")
            if self.by_reason[kind] == self.shown_per_reason:
                self.emit(f"warning: further '{escape_text(kind)}' warnings are counted, not shown")

    def note(self, text: str) -> None:
        """Something worth telling once (unknown log type, truncated file)."""
        self.notes.append(text)
        self.emit(f"note: {escape_text(text)}")

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())
