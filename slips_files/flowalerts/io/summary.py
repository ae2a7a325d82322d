"""The end-of-run summary printed by ``flowalerts run``."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter

from flowalerts.core.evidence import escape_text
from flowalerts.core.health import Health
from flowalerts.io.alerts import Alert

# Exit statuses (README, "Exit status").
EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3
EXIT_INPUT_UNUSABLE = 4
EXIT_INTERRUPTED = 130


@dataclasses.dataclass
class RunSummary:
    read: Counter[str]
    processed: Counter[str]
    skipped: Counter[str]
    evidence: Counter[str]
    elapsed: float
    warnings: int
    health: Health
    interrupted: bool = False
    notes: list[str] = dataclasses.field(default_factory=list)
    alerts: list[Alert] = dataclasses.field(default_factory=list)
    profiles: Counter[str] = dataclasses.field(default_factory=Counter)
    late: Counter[str] = dataclasses.field(default_factory=Counter)
    clock_jumps: Counter[str] = dataclasses.field(default_factory=Counter)
    updates: int = 0
    duplicates: int = 0
    exit_zero_when_degraded: bool = False
    # Input that exists but was not (fully) read: unreadable files, a file
    # stopped at an input limit or a read error (one line each).
    unread_input: list[str] = dataclasses.field(default_factory=list)
    # Warnings per kind (bad-line reason, "clock jump" ...), for run.json.
    warnings_by_kind: Counter[str] = dataclasses.field(default_factory=Counter)
    # Flow time covered: T0 (start of the first window) and the newest flow
    # start believed; None when no record was read.
    flow_time: tuple[float, float] | None = None

    @property
    def complete(self) -> bool:
        """Every record read was processed (and nothing in the input was left unread)."""
        return self.all_processed and not self.unread_input

    @property
    def all_processed(self) -> bool:
        return all(self.read[t] == self.processed[t] for t in self.read)

    @property
    def input_unusable(self) -> bool:
        """Lines were there but not one of them could be used."""
        return self.total_read == 0 and sum(self.skipped.values()) > 0

    @property
    def total_read(self) -> int:
        return sum(self.read.values())

    @property
    def exit_status(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.input_unusable:
            return EXIT_INPUT_UNUSABLE
        if not self.complete:
            return EXIT_INCOMPLETE
        if self.health.degraded and not self.exit_zero_when_degraded:
            return EXIT_DEGRADED
        return EXIT_OK


def _alert_lines(summary: RunSummary) -> list[str]:
    alerts = summary.alerts
    lines = [f"alerts: {len(alerts)}"]
    for alert in alerts[:20]:
        lines.append(
            f"  profile {alert.profile:<39} timewindow {alert.timewindow:<5} threat {alert.accumulated_threat:>7.2f}"
            f"  evidence {len(alert.evidence_ids)} ({', '.join(alert.evidence_types)})"
        )
    if len(alerts) > 20:
        lines.append(f"  ... and {len(alerts) - 20} more (see alerts_summary.json)")
    return lines


def health_lines(summary: RunSummary) -> list[str]:
    """What went wrong or was unusual: failing detections, late records, clock jumps."""
    health = summary.health
    lines: list[str] = []
    if health.degraded:
        lines.append("DEGRADED: detections raised errors (isolated; the others went on):")
        for key, count in sorted(health.errors.items()):
            lines.append(f"  {key} x{count}")
        first_key = sorted(health.first_traceback)[0]
        lines.append(f"first traceback ({first_key}):")
        lines.extend("    " + escape_text(line, limit=500) for line in health.first_traceback[first_key].rstrip().splitlines())
    by_reason: dict[str, list[str]] = {}
    for ident, reason in sorted(health.skipped.items()):
        by_reason.setdefault(reason, []).append(ident)
    for reason, idents in sorted(by_reason.items()):
        lines.append(f"not run ({reason}): {', '.join(idents)}")
    if summary.unread_input:
        lines.append("input not fully read:")
        lines.extend(f"  {escape_text(problem)}" for problem in summary.unread_input[:20])
        if len(summary.unread_input) > 20:
            lines.append(f"  ... and {len(summary.unread_input) - 20} more (see the notes above)")
    late = sum(summary.late.values())
    if late:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(summary.late.items()))
        lines.append(f"late records (their time window had already closed): {late} ({parts})")
        if health.late_window_use:
            users = ", ".join(f"{name} {count}" for name, count in sorted(health.late_window_use.items()))
            lines.append(f"  not seen, or not added to their closed window's totals, by: {users}")
    jumps = sum(summary.clock_jumps.values())
    if jumps:
        lines.append(f"clock jumps: {jumps} records far from the rest of the input's flow time (see the warnings)")
    if health.timers_fired_early:
        early = ", ".join(f"{name} {count}" for name, count in sorted(health.timers_fired_early.items()))
        lines.append(f"timers fired early (timer service full): {early}")
    if health.undecided:
        undecided = ", ".join(f"{name} {count}" for name, count in sorted(health.undecided.items()))
        lines.append(f"not decided (a bounded state table was full; no evidence rather than a guess): {undecided}")
    if health.disabled_evidence:
        dropped = ", ".join(f"{name} {count}" for name, count in sorted(health.disabled_evidence.items()))
        lines.append(f"evidence of disabled types dropped: {dropped}")
    return lines


def format_summary(summary: RunSummary, outdir: str) -> str:
    """The summary: alerts first, records, evidence per type, top profiles, health."""
    lines = ["", "Flowalerts summary", "=================="]
    lines.extend(_alert_lines(summary))
    lines.append("")
    lines.append(f"{'log type':<12} {'read':>10} {'processed':>10} {'skipped':>8}")
    for log_type in sorted(set(summary.read) | set(summary.processed)):
        lines.append(
            f"{log_type:<12} {summary.read[log_type]:>10} {summary.processed[log_type]:>10} "
            f"{summary.skipped[log_type]:>8}"
        )
    total = summary.total_read
    rate = total / summary.elapsed if summary.elapsed > 0 else 0.0
    lines.append(f"records: {total} in {summary.elapsed:.2f}s ({rate:,.0f} records/s)")
    if summary.warnings:
        lines.append(f"input warnings: {summary.warnings} (see the warnings above)")
    lines.append("")
    lines.append(f"evidence: {sum(summary.evidence.values())} ({summary.updates} updated at window close)")
    for name, count in sorted(summary.evidence.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {name:<34} {count:>7}")
    if summary.profiles:
        lines.append("top profiles by evidence:")
        for profile, count in sorted(summary.profiles.items(), key=lambda item: (-item[1], item[0]))[:5]:
            lines.append(f"  {profile:<39} {count:>7}")
    extra = health_lines(summary)
    if extra:
        lines.append("")
        lines.extend(extra)
    lines.append(f"written to {os.path.join(outdir, 'alerts.json')}, alerts.log and alerts_summary.json")
    if summary.interrupted:
        lines.append("run was interrupted: the outputs cover the records read before the signal")
    lines.append(f"status: {_status_word(summary)} (exit {summary.exit_status})")
    return "\n".join(lines)


def _status_word(summary: RunSummary) -> str:
    status = summary.exit_status
    return {0: "ok", 1: "incomplete", 3: "degraded", 4: "input unusable", 130: "interrupted"}.get(status, str(status))
