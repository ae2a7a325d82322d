"""What goes into the report: typed rows built from a run's output folder.

Sources, tried in this order:

* a ``flowalerts run`` output folder: ``run.json`` (the run, see
  ``flowalerts.io.runinfo``; optional - a folder of an older version or of a
  run still following a live Zeek has none), the evidence file (``alerts.json``:
  one evidence per line, a later line with the same id supersedes an earlier
  one) and ``alerts_summary.json`` (one alert per line);
* Slips's own ``alerts.json`` (IDMEFv2 Events and Incidents, ``slips``).

Everything is bounded by ``Limits`` so a report of a million-record run stays
small: rows left out are counted and the report says where they are
("N more in alerts.json"), never silently. Strings from traffic are kept as
they are here; the template escapes them (autoescaping) and ``visible``
makes control characters visible.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import re
from collections.abc import Iterator
from typing import Any

import msgspec

from flowalerts.io.runinfo import RUN_JSON, RunInfo, RunInfoError, read_run_info

LEVELS = ("info", "low", "medium", "high", "critical")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
SOURCE_FLOWALERTS = "flowalerts"
SOURCE_SLIPS = "slips"


class ReportError(Exception):
    """The folder cannot be reported on (message for the user)."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps on what one report shows (README, "The report": its size)."""

    alerts: int = 500  # rows of the alerts table
    alert_links: int = 30  # evidence links per alert
    profiles: int = 100  # profile sections
    evidence_per_profile: int = 25  # evidence rows per profile section
    uids_per_evidence: int = 3  # uids whose Zeek records are shown
    records_per_log: int = 3  # Zeek records shown per uid and log type
    timeline_rows: int = 60  # profiles on the timeline
    timeline_bins: int = 240  # columns of the timeline
    details_items: int = 20  # items of a list shown in a details field
    text_chars: int = 600  # characters of one shown string


# --- small typed pieces ------------------------------------------------------------------


@dataclasses.dataclass
class Field:
    """A name and its value, rendered as text."""

    name: str
    value: str


@dataclasses.dataclass
class FlowRecord:
    """One Zeek record behind an evidence (``flows`` fills these)."""

    uid: str
    log_type: str
    ts: float
    timestamp: str
    endpoints: str
    fields: list[Field]


@dataclasses.dataclass
class EvidenceRow:
    id: str
    anchor: str
    evidence_type: str
    level: str
    confidence: float
    profile: str
    timewindow: int
    ts: float
    timestamp: str
    description: str
    attacker: str
    victim: str
    count: int
    uids: list[str]  # the first ``uids_per_evidence`` uids
    uids_total: int
    details: list[Field]
    related: list[str] = dataclasses.field(default_factory=list)
    flows: dict[str, list[FlowRecord]] = dataclasses.field(default_factory=dict)
    shown: bool = False  # in a profile section (so links to it work)

    @property
    def level_rank(self) -> int:
        return LEVEL_RANK.get(self.level, 0)

    @property
    def severity(self) -> tuple[int, float, int]:
        return (self.level_rank, self.confidence, self.count)


@dataclasses.dataclass
class EvidenceLink:
    anchor: str
    label: str
    shown: bool


@dataclasses.dataclass
class AlertRow:
    id: str
    profile: str
    timewindow: int
    window: str  # "start - end" in flow time, or "" when unknown
    accumulated_threat: float
    threshold: float
    timestamp: str
    level: str  # the highest threat level of its evidence
    evidence_total: int
    evidence_types: dict[str, int]
    links: list[EvidenceLink]
    links_left_out: int
    version: int = 1

    @property
    def level_rank(self) -> int:
        return LEVEL_RANK.get(self.level, 0)


@dataclasses.dataclass
class TypeSummary:
    """One evidence type of a profile: how many, how often, when."""

    evidence_type: str
    evidence: int
    occurrences: int
    first_seen: str
    last_seen: str
    level: str


@dataclasses.dataclass
class ProfileSection:
    profile: str
    anchor: str
    level: str
    evidence_total: int
    alerts: int
    max_threat: float
    types: list[TypeSummary]
    evidence: list[EvidenceRow]
    left_out: int

    @property
    def level_rank(self) -> int:
        return LEVEL_RANK.get(self.level, 0)


@dataclasses.dataclass
class TimelineMark:
    x: float
    width: float
    level: str
    count: int
    title: str


@dataclasses.dataclass
class TimelineRow:
    profile: str
    anchor: str
    evidence: int
    level: str
    types: list[str]
    marks: list[TimelineMark]


@dataclasses.dataclass
class Timeline:
    start: float
    end: float
    width: float  # drawing units of the flow-time axis
    rows: list[TimelineRow]
    ticks: list[tuple[float, str]]
    rows_left_out: int
    bin_seconds: float


@dataclasses.dataclass
class TypeBar:
    evidence_type: str
    count: int
    level: str
    width: float  # drawing units


@dataclasses.dataclass
class RunSection:
    facts: list[Field]
    logs: list[tuple[str, int, int, int]]
    warnings: list[Field]
    notes: list[str]
    problems: list[Field]  # degraded detections, unread input, late records ...
    not_run: list[Field]
    config_changes: list[tuple[str, str, str]]
    missing: list[str]  # what this source cannot show


@dataclasses.dataclass
class Report:
    source: str
    folder: str
    title: str
    generated: str
    run: RunSection
    evidence_file: str
    alerts_file: str
    alerts: list[AlertRow]
    alerts_total: int
    timeline: Timeline | None
    type_bars: list[TypeBar]
    profiles: list[ProfileSection]
    profiles_total: int
    evidence_total: int
    unreadable_lines: int
    flows_note: str = ""
    limits: Limits = dataclasses.field(default_factory=Limits)
    # For the filters (embedded as JSON, see render).
    all_profiles: list[str] = dataclasses.field(default_factory=list)
    all_types: list[str] = dataclasses.field(default_factory=list)
    # Evidence kept for the flows step (shown evidence only).
    shown_evidence: list[EvidenceRow] = dataclasses.field(default_factory=list)

    @property
    def alerts_left_out(self) -> int:
        return self.alerts_total - len(self.alerts)

    @property
    def profiles_left_out(self) -> int:
        return self.profiles_total - len(self.profiles)

    def wanted_uids(self) -> set[str]:
        return {uid for row in self.shown_evidence for uid in row.uids if uid}


# --- text helpers ------------------------------------------------------------------------

_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)


def visible(text: str) -> str:
    """``text`` with control, bidi and zero-width characters (and lone surrogates)
    shown as ``\\xNN`` / ``\\uNNNN``, so a terminal escape or a right-to-left override from traffic is
    shown literally instead of acting (HTML escaping is the template's job)."""
    return _INVISIBLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text)


def iso(ts: float) -> str:
    """Flow time as ``YYYY-MM-DD HH:MM:SS`` UTC."""
    try:
        return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def span_text(start: float, end: float) -> str:
    """``start - end`` in flow time, the date said once when both are on the same day."""
    first, last = iso(start), iso(end)
    if first[:10] == last[:10] and len(first) == len(last) == 19:
        return f"{first} - {last[11:]}"
    return f"{first} - {last}"


def _anchor(prefix: str, value: str) -> str:
    """A link target: readable when ``value`` is plain, always a valid id."""
    if re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", value):
        return f"{prefix}-{value}"
    import hashlib

    return f"{prefix}-x{hashlib.blake2b(value.encode('utf-8', 'surrogatepass'), digest_size=8).hexdigest()}"


def evidence_anchor(evidence_id: str) -> str:
    """The id of an evidence's element: ``report.html#ev-<evidence id>``."""
    return _anchor("ev", evidence_id)


def profile_anchor(profile: str) -> str:
    return _anchor("profile", profile)


def show_value(value: Any, limits: Limits) -> str:
    """A details value as text: lists joined (capped), numbers short, strings cut."""
    if isinstance(value, list):
        items = [show_value(item, limits) for item in value[: limits.details_items]]
        more = len(value) - limits.details_items
        return ", ".join(items) + (f", ... ({more} more)" if more > 0 else "")
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:g}" if math.isfinite(value) else str(value)
    elif value is None:
        text = "-"
    else:
        text = str(value)
    if len(text) > limits.text_chars:
        text = text[: limits.text_chars] + f"... [{len(text) - limits.text_chars} more chars]"
    return text


# --- reading a flowalerts folder ----------------------------------------------------------


class _IocLine(msgspec.Struct):
    direction: str = ""
    ioc_type: str = ""
    value: str = ""
    AS: dict[str, Any] | None = None
    SNI: str | None = None
    rDNS: str | None = None
    domains: list[str] | None = None


class _EvidenceLine(msgspec.Struct):
    """An alerts.json line as the report needs it (unknown fields ignored)."""

    evidence_type: str
    id: str
    profile: str
    description: str = ""
    attacker: _IocLine | None = None
    victim: _IocLine | None = None
    threat_level: str = "info"
    confidence: float = 0.0
    timewindow: int = 0
    uids: list[str] = []
    ts: float = 0.0
    count: int = 1
    details: dict[str, Any] | None = None
    rel_id: list[str] | None = None


class _AlertLine(msgspec.Struct):
    id: str
    profile: str
    timewindow: int = 0
    accumulated_threat: float = 0.0
    threshold: float = 0.0
    timestamp: str = ""
    evidence_ids: list[str] = []
    evidence_types: dict[str, int] = {}
    version: int = 1


_evidence_decoder = msgspec.json.Decoder(_EvidenceLine)
_alert_decoder = msgspec.json.Decoder(_AlertLine)


def _ioc_text(ioc: _IocLine | None) -> str:
    if ioc is None:
        return ""
    text = f"{ioc.direction} {ioc.ioc_type} {ioc.value}".strip()
    extras = []
    if ioc.AS:
        extras.append(f"AS{ioc.AS.get('number', '')} {ioc.AS.get('org', '')}".rstrip())
    if ioc.SNI:
        extras.append(f"SNI {ioc.SNI}")
    if ioc.rDNS:
        extras.append(f"rDNS {ioc.rDNS}")
    if ioc.domains:
        extras.append("domains " + ", ".join(ioc.domains[:5]))
    return text + (f" ({'; '.join(extras)})" if extras else "")


def lines_of(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield line


def _evidence_row(line: _EvidenceLine, limits: Limits) -> EvidenceRow:
    details = line.details or {}
    fields = [Field(name, show_value(value, limits)) for name, value in details.items() if name != "kind"]
    level = line.threat_level if line.threat_level in LEVEL_RANK else "info"
    return EvidenceRow(
        id=line.id,
        anchor=evidence_anchor(line.id),
        evidence_type=line.evidence_type,
        level=level,
        confidence=line.confidence,
        profile=line.profile,
        timewindow=line.timewindow,
        ts=line.ts,
        timestamp=iso(line.ts),
        description=show_value(line.description, limits),
        attacker=_ioc_text(line.attacker),
        victim=_ioc_text(line.victim),
        count=line.count,
        uids=line.uids[: limits.uids_per_evidence],
        uids_total=len(line.uids),
        details=fields,
        related=list(line.rel_id or [])[:10],
    )


def read_flowalerts_evidence(path: str, limits: Limits) -> tuple[dict[str, EvidenceRow], int]:
    """Evidence by id (a later line with the same id wins) and the count of unreadable lines."""
    evidence: dict[str, EvidenceRow] = {}
    bad = 0
    for raw in lines_of(path):
        try:
            line = _evidence_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            bad += 1
            continue
        evidence[line.id] = _evidence_row(line, limits)
    return evidence, bad


def read_flowalerts_alerts(path: str) -> tuple[list[_AlertLine], int]:
    alerts: dict[str, _AlertLine] = {}
    bad = 0
    if not os.path.exists(path):
        return [], 0
    for raw in lines_of(path):
        try:
            alert = _alert_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            bad += 1
            continue
        alerts[alert.id] = alert
    return list(alerts.values()), bad


# --- the report --------------------------------------------------------------------------


def read_flowalerts(folder: str, evidence_path: str, limits: Limits, generated: str) -> Report:
    """The report of a Flowalerts run folder (its evidence file ``evidence_path``)."""
    run_json = os.path.join(folder, RUN_JSON)
    info: RunInfo | None = None
    run_problem = ""
    if os.path.exists(run_json):
        try:
            info = read_run_info(run_json)
        except RunInfoError as exc:
            run_problem = str(exc)
    else:
        run_problem = f"no {RUN_JSON} in this folder (a run of an older version, or one still running)"
    if not os.path.exists(evidence_path):
        raise ReportError(f"no {os.path.basename(evidence_path)} in {folder}")
    evidence, bad = read_flowalerts_evidence(evidence_path, limits)
    if info is None and not evidence and not bad:
        # Nothing tells a Flowalerts run from Slips's output here.
        run_problem = (f"{os.path.basename(evidence_path)} is empty and this folder has no {RUN_JSON}: "
                       "no evidence, and nothing about the run, to show")
    alerts_name = info.files.alerts if info else "alerts_summary.json"
    alert_lines, bad_alerts = read_flowalerts_alerts(os.path.join(folder, alerts_name))
    t0 = info.flow_time.first if info and info.flow_time else None
    width = info.time_window_width if info else 0.0

    def window_of(timewindow: int) -> str:
        if t0 is None or not width or width >= 1e9:
            return ""
        start = t0 + (timewindow - 1) * width
        return span_text(start, start + width)

    alerts = [
        AlertRow(
            id=line.id,
            profile=line.profile,
            timewindow=line.timewindow,
            window=window_of(line.timewindow),
            accumulated_threat=line.accumulated_threat,
            threshold=line.threshold,
            timestamp=line.timestamp,
            level="info",
            evidence_total=len(line.evidence_ids),
            evidence_types=dict(line.evidence_types),
            links=[],
            links_left_out=0,
            version=line.version,
        )
        for line in alert_lines
    ]
    alert_ids = {line.id: line.evidence_ids for line in alert_lines}
    run = _run_section(info, run_problem, folder)
    span = (info.flow_time.first, info.flow_time.last) if info and info.flow_time else None
    report = assemble(
        source=SOURCE_FLOWALERTS,
        folder=folder,
        generated=generated,
        run=run,
        evidence_file=os.path.basename(evidence_path),
        alerts_file=alerts_name,
        evidence=evidence,
        alerts=alerts,
        alert_evidence=alert_ids,
        limits=limits,
        unreadable_lines=bad + bad_alerts,
        span=span,
    )
    if info is not None:
        report.title = f"Flowalerts report: {os.path.basename(info.input.rstrip(os.sep)) or info.input}"
    return report


def _run_section(info: RunInfo | None, problem: str, folder: str) -> RunSection:
    if info is None:
        return RunSection(
            facts=[Field("output folder", folder)], logs=[], warnings=[], notes=[], problems=[], not_run=[],
            config_changes=[], missing=[problem] if problem else [],
        )
    facts = [
        Field("input", info.input),
        Field("flow time", f"{iso(info.flow_time.first)} - {iso(info.flow_time.last)} UTC" if info.flow_time else "no records"),
        Field("mode", info.mode + (f", distributed over {info.workers} local worker(s)" if info.distributed else "")),
        Field("status", "running (a snapshot of a live run)" if info.running else f"exit {info.exit_status}"
              + (" (interrupted)" if info.interrupted else "")
              + ("" if info.complete else " (input not fully read)")
              + (" (degraded: a detection raised, see Problems)" if info.degraded else "")),
        Field("input warnings", str(info.warnings)),
        Field("evidence", f"{sum(info.evidence.values())} ({info.evidence_updates} updated at window close)"),
        Field("alerts", f"{info.alerts} (threshold {info.alert_threshold:g} per profile and time window)"),
        Field("time window", f"{info.time_window_width:g} s"),
        Field("version", f"flowalerts {info.version}"),
        Field("finished", f"{info.finished} (wall clock), {info.elapsed_seconds:.1f} s" if info.finished
              else f"not yet ({info.elapsed_seconds:.1f} s so far)"),
        Field("output folder", folder),
    ]
    logs = [(name, counts.read, counts.processed, counts.skipped) for name, counts in info.logs.items()]
    warnings = [Field(kind, str(count)) for kind, count in info.warnings_by_kind.items()]
    problems = [Field(f"detection failed: {key}", f"{count} time(s)") for key, count in info.degraded.items()]
    problems += [Field("input not fully read", text) for text in info.unread_input]
    for label, table in (
        ("late records", info.late_records),
        ("clock jumps", info.clock_jumps),
        ("undecided (bounded state full)", info.undecided),
        ("timers fired early", info.timers_fired_early),
        ("evidence of disabled types dropped", info.disabled_evidence),
    ):
        if table:
            problems.append(Field(label, ", ".join(f"{name} {count}" for name, count in table.items())))
    notes = list(info.notes)
    if info.notes_left_out:
        notes.append(f"... {info.notes_left_out} more notes (see the run's terminal output)")
    changes = [(c.key, show_value(c.value, Limits()), show_value(c.default, Limits())) for c in info.config_changes]
    if info.config_changes_left_out:
        changes.append(("...", f"{info.config_changes_left_out} more", ""))
    return RunSection(
        facts=facts, logs=logs, warnings=warnings, notes=notes, problems=problems,
        not_run=[Field(name, reason) for name, reason in info.not_run.items()], config_changes=changes, missing=[],
    )


def assemble(
    *,
    source: str,
    folder: str,
    generated: str,
    run: RunSection,
    evidence_file: str,
    alerts_file: str,
    evidence: dict[str, EvidenceRow],
    alerts: list[AlertRow],
    alert_evidence: dict[str, list[str]],
    limits: Limits,
    unreadable_lines: int,
    span: tuple[float, float] | None,
) -> Report:
    """Rank, cap and cross-link evidence and alerts (shared by both sources)."""
    by_profile: dict[str, list[EvidenceRow]] = {}
    for row in evidence.values():
        by_profile.setdefault(row.profile, []).append(row)
    alerts_of: dict[str, list[AlertRow]] = {}
    for alert in alerts:
        alerts_of.setdefault(alert.profile, []).append(alert)
        levels = [evidence[eid].level_rank for eid in alert_evidence.get(alert.id, []) if eid in evidence]
        alert.level = LEVELS[max(levels)] if levels else "info"

    def profile_rank(profile: str) -> tuple[float, int, float, int]:
        rows = by_profile.get(profile, [])
        threat = max((a.accumulated_threat for a in alerts_of.get(profile, [])), default=0.0)
        top = max((row.level_rank for row in rows), default=0)
        weight = sum(row.count for row in rows if row.level_rank > 0)
        return (-threat, -top, -weight, -len(rows))

    profiles_sorted = sorted(set(by_profile) | set(alerts_of), key=lambda p: (profile_rank(p), p))
    sections: list[ProfileSection] = []
    shown: list[EvidenceRow] = []
    for profile in profiles_sorted[: limits.profiles]:
        rows = sorted(by_profile.get(profile, []), key=lambda r: (-r.level_rank, -r.confidence, -r.count, r.ts, r.id))
        kept = rows[: limits.evidence_per_profile]
        for row in kept:
            row.shown = True
        shown.extend(kept)
        profile_alerts = alerts_of.get(profile, [])
        sections.append(
            ProfileSection(
                profile=profile,
                anchor=profile_anchor(profile),
                level=LEVELS[max((r.level_rank for r in rows), default=0)],
                evidence_total=len(rows),
                alerts=len(profile_alerts),
                max_threat=max((a.accumulated_threat for a in profile_alerts), default=0.0),
                types=_type_summaries(rows),
                evidence=kept,
                left_out=len(rows) - len(kept),
            )
        )
    alerts_sorted = sorted(alerts, key=lambda a: (-a.accumulated_threat, -a.level_rank, a.timestamp, a.profile, a.id))
    for alert in alerts_sorted[: limits.alerts]:
        ids = alert_evidence.get(alert.id, [])
        linked = [evidence[eid] for eid in ids if eid in evidence]
        linked.sort(key=lambda r: (-r.level_rank, -r.confidence, r.ts, r.id))
        alert.links = [
            EvidenceLink(anchor=row.anchor, label=f"{row.evidence_type} ({row.level}, {row.timestamp[11:]})",
                         shown=row.shown)
            for row in linked[: limits.alert_links]
        ]
        alert.links_left_out = len(ids) - len(alert.links)
    all_rows = list(evidence.values())
    if span is None and all_rows:
        span = (min(r.ts for r in all_rows), max(r.ts for r in all_rows))
    timeline = _timeline(profiles_sorted, by_profile, span, limits) if all_rows and span else None
    type_counts: dict[str, list[int]] = {}
    for row in all_rows:
        entry = type_counts.setdefault(row.evidence_type, [0, 0])
        entry[0] += 1
        entry[1] = max(entry[1], row.level_rank)
    most = max((count for count, _ in type_counts.values()), default=1)
    type_bars = [
        TypeBar(evidence_type=name, count=count, level=LEVELS[rank], width=round(400.0 * count / most, 1))
        for name, (count, rank) in sorted(type_counts.items(), key=lambda item: (-item[1][0], item[0]))
    ]
    return Report(
        source=source,
        folder=folder,
        title=f"Flowalerts report: {os.path.basename(os.path.abspath(folder))}",
        generated=generated,
        run=run,
        evidence_file=evidence_file,
        alerts_file=alerts_file,
        alerts=alerts_sorted[: limits.alerts],
        alerts_total=len(alerts),
        timeline=timeline,
        type_bars=type_bars,
        profiles=sections,
        profiles_total=len(profiles_sorted),
        evidence_total=len(evidence),
        unreadable_lines=unreadable_lines,
        limits=limits,
        all_profiles=[section.profile for section in sections],
        all_types=sorted(type_counts),
        shown_evidence=shown,
    )


def _type_summaries(rows: list[EvidenceRow]) -> list[TypeSummary]:
    grouped: dict[str, list[EvidenceRow]] = {}
    for row in rows:
        grouped.setdefault(row.evidence_type, []).append(row)
    summaries = []
    for name, group in grouped.items():
        first = min(row.ts for row in group)
        last = max(row.ts for row in group)
        summaries.append(
            TypeSummary(
                evidence_type=name,
                evidence=len(group),
                occurrences=sum(max(1, row.count) for row in group),
                first_seen=iso(first),
                last_seen=iso(last),
                level=LEVELS[max(row.level_rank for row in group)],
            )
        )
    summaries.sort(key=lambda s: (-LEVEL_RANK[s.level], -s.occurrences, s.evidence_type))
    return summaries


TIMELINE_WIDTH = 960.0


def _timeline(
    profiles: list[str], by_profile: dict[str, list[EvidenceRow]], span: tuple[float, float], limits: Limits
) -> Timeline:
    """Evidence per profile over flow time: one mark per (bin, threat level) with evidence."""
    start, end = span
    rows_with_evidence = [p for p in profiles if by_profile.get(p)]
    shown = rows_with_evidence[: limits.timeline_rows]
    # Evidence outside the run's span (a late record's window) widens it.
    for profile in shown:
        for row in by_profile[profile]:
            start, end = min(start, row.ts), max(end, row.ts)
    duration = max(end - start, 1.0)
    bins = limits.timeline_bins
    bin_seconds = duration / bins
    bin_width = TIMELINE_WIDTH / bins
    rows = []
    for profile in shown:
        cells: dict[tuple[int, int], list[EvidenceRow]] = {}
        for row in by_profile[profile]:
            index = min(bins - 1, int((row.ts - start) / bin_seconds))
            cells.setdefault((index, row.level_rank), []).append(row)
        marks = []
        for (index, rank), group in sorted(cells.items()):
            types = sorted({row.evidence_type for row in group})
            title = f"{iso(start + index * bin_seconds)} UTC: {len(group)} {LEVELS[rank]} evidence ({', '.join(types[:4])}{', ...' if len(types) > 4 else ''})"
            marks.append(TimelineMark(x=round(index * bin_width, 2), width=round(max(bin_width, 1.0), 2),
                                      level=LEVELS[rank], count=len(group), title=title))
        evidence_rows = by_profile[profile]
        rows.append(
            TimelineRow(
                profile=profile,
                anchor=profile_anchor(profile),
                evidence=len(evidence_rows),
                level=LEVELS[max(row.level_rank for row in evidence_rows)],
                types=sorted({row.evidence_type for row in evidence_rows}),
                marks=marks,
            )
        )
    ticks = [(round(TIMELINE_WIDTH * i / 4, 1), iso(start + duration * i / 4)) for i in range(5)]
    return Timeline(start=start, end=end, width=TIMELINE_WIDTH, rows=rows, ticks=ticks,
                    rows_left_out=len(rows_with_evidence) - len(shown), bin_seconds=bin_seconds)
