"""The end-of-run summary printed by ``flowalerts run``."""

from __future__ import annotations

import os

from flowalerts.core.runner import RunSummary


def format_summary(summary: RunSummary, outdir: str) -> str:
    lines = ["", "Flowalerts summary", "=================="]
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
        lines.append(f"input warnings: {summary.warnings} lines skipped (see the warnings above)")
    if summary.module_errors:
        errors = ", ".join(f"{name} x{count}" for name, count in sorted(summary.module_errors.items()))
        lines.append(f"detector errors (isolated, processing continued): {errors}")
    lines.append("")
    lines.append(f"evidence: {sum(summary.evidence.values())}")
    for name, count in sorted(summary.evidence.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {name:<34} {count:>7}")
    lines.append(f"written to {os.path.join(outdir, 'alerts.json')} and alerts.log")
    if summary.interrupted:
        lines.append("run was interrupted: the outputs cover the records read before the signal")
    return "\n".join(lines)
