"""What went wrong or was unusual in a run, for the summary and the exit status.

Kept by the module driver (``flowalerts.engine.driver``); a distributed run
adds up its partitions' (``merge``), and a worker's checkpoint carries it
(``to_builtins`` / ``restore``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any


@dataclasses.dataclass
class Health:
    """What went wrong, for the summary and the exit status."""

    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    first_traceback: dict[str, str] = dataclasses.field(default_factory=dict)
    late_records: Counter[str] = dataclasses.field(default_factory=Counter)
    late_window_use: Counter[str] = dataclasses.field(default_factory=Counter)
    timers_fired_early: Counter[str] = dataclasses.field(default_factory=Counter)
    # Decisions a detection could not make because bounded state it needed
    # was full (it abstained rather than report on missing data).
    undecided: Counter[str] = dataclasses.field(default_factory=Counter)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    disabled_evidence: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def degraded(self) -> bool:
        return bool(self.errors)

    def failing_components(self) -> list[str]:
        return sorted({key.split(":", 1)[0] for key in self.errors})

    def to_builtins(self) -> dict[str, Any]:
        """Plain dicts (for a partition's final counters and checkpoints)."""
        return {field.name: dict(getattr(self, field.name)) for field in dataclasses.fields(self)}

    def merge(self, data: dict[str, Any]) -> None:
        """Add another part's health (``to_builtins``) into this one."""
        for field in dataclasses.fields(self):
            value = data.get(field.name)
            if not value:
                continue
            mine = getattr(self, field.name)
            if isinstance(mine, Counter):
                mine.update(value)
            else:
                for key, item in value.items():
                    mine.setdefault(key, item)

    def restore(self, data: dict[str, Any]) -> None:
        """Replace every counter with a checkpoint's (``to_builtins``)."""
        for field in dataclasses.fields(self):
            getattr(self, field.name).clear()
        self.merge(data)
