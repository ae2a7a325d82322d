"""The end-of-run summary printed by ``flowalerts run``."""

from __future__ import annotations

import os
from collections import Counter

from flowalerts.core.runner import RunSummary


def _alert_lines(summary: RunSummary) -> list[str]:
    alerts = summary.alerts
    lines = [f"alerts: {len(alerts)}"]
    for alert in alerts[:20]:
        lines.append(
            f"  profile {alert.profile:<39} timewindow {alert.timewindow:<5} threat {alert.accumulated_threat:>7.2f}"
            f"  evidence {len(alert.evidence_ids)}: {', '.join(alert.evidence_ids[:3])}"
            + (" ..." if len(alert.evidence_ids) > 3 else "")
        )
    if len(alerts) > 20:
        lines.append(f"  ... and {len(alerts) - 20} more (see alerts_summary.json)")
    return lines


def format_summary(summary: RunSummary, outdir: str) -> str:
    """The summary table: alerts first, records, evidence per type, top profiles."""
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
        lines.append(f"input warnings: {summary.warnings} lines skipped (see the warnings above)")
    if summary.module_errors:
        errors = ", ".join(f"{name} x{count}" for name, count in sorted(summary.module_errors.items()))
        lines.append(f"detector errors (isolated, processing continued): {errors}")
    lines.append("")
    lines.append(f"evidence: {sum(summary.evidence.values())}")
    for name, count in sorted(summary.evidence.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {name:<34} {count:>7}")
    profiles: Counter[str] = summary.profiles
    if profiles:
        lines.append("top profiles by evidence:")
        for profile, count in sorted(profiles.items(), key=lambda item: (-item[1], item[0]))[:5]:
            lines.append(f"  {profile:<39} {count:>7}")
    lines.append(f"written to {os.path.join(outdir, 'alerts.json')}, alerts.log and alerts_summary.json")
    if summary.interrupted:
        lines.append("run was interrupted: the outputs cover the records read before the signal")
    return "\n".join(lines)
