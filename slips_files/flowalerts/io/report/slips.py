"""Slips's own ``alerts.json`` (IDMEFv2) as a report.

Slips 1.1.21 writes one IDMEFv2 object per line: an ``Event`` for each
evidence it accepted and an ``Incident`` for each alert. What the report can
take from them:

* evidence: id, severity (threat level), confidence, flow time (``StartTime``),
  description, source and target addresses (and ports), and from its ``Note``
  the uids, the time window and Slips's threat level;
* alerts: the profile (the source), time window and its span, accumulated
  threat level and the ids of the evidence behind it (``CorrelID``).

What it cannot: Slips's file has no evidence **type** (only a description
written for people; the report does not guess the type from it), no typed
details and no count, and nothing about the run (records read, warnings,
configuration). The profile of an evidence is taken to be its first source
IP (Slips's profile is the IP whose window holds the evidence). The flows
behind the evidence are shown when the Zeek logs are given with ``-f``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import msgspec

from flowalerts.io.report.model import (
    LEVEL_RANK,
    SOURCE_SLIPS,
    AlertRow,
    EvidenceRow,
    Field,
    Limits,
    Report,
    RunSection,
    assemble,
    evidence_anchor,
    iso,
    show_value,
    span_text,
)

# The evidence type shown for Slips's evidence (its alerts.json has none).
SLIPS_UNTYPED = "(Slips: no type in alerts.json)"

CANNOT_SHOW = [
    "This is Slips's own alerts.json (IDMEFv2): it has no evidence type, no typed details, no count, and "
    "nothing about the run (input, records read, warnings, configuration), so those are not shown.",
    "Each evidence is placed in the profile of its first Source IP; alerts (Incidents) show their time window, "
    "accumulated threat level and the evidence they list (CorrelID).",
]


def looks_like_slips(line: bytes) -> bool:
    """An IDMEFv2 object as Slips writes it (not a Flowalerts evidence line)."""
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return isinstance(data, dict) and "Status" in data and "Analyzer" in data and "evidence_type" not in data


def _epoch(text: Any) -> float:
    if not isinstance(text, str) or not text:
        return 0.0
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _note(data: dict[str, Any]) -> dict[str, Any]:
    note = data.get("Note")
    if isinstance(note, str):
        try:
            note = json.loads(note)
        except ValueError:
            return {}
    return note if isinstance(note, dict) else {}


def _endpoint(items: Any) -> tuple[str, str]:
    """(first IP, text of all endpoints) of a Source or Target list."""
    if not isinstance(items, list):
        return "", ""
    texts = []
    first = ""
    for item in items[:5]:
        if not isinstance(item, dict):
            continue
        ip = str(item.get("IP", "") or item.get("Hostname", "") or "")
        port = item.get("Port")
        if isinstance(port, list):
            port = ", ".join(str(p) for p in port[:5])
        first = first or ip
        texts.append(f"{ip}" + (f" port {port}" if port not in (None, "", []) else ""))
    return first, "; ".join(texts)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def read_slips(folder: str, path: str, limits: Limits, generated: str) -> Report:
    evidence: dict[str, EvidenceRow] = {}
    incidents: list[dict[str, Any]] = []
    bad = 0
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                data = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                bad += 1
                continue
            if not isinstance(data, dict) or not isinstance(data.get("ID"), str):
                bad += 1
                continue
            status = data.get("Status")
            if status == "Incident":
                incidents.append(data)
            elif status == "Event":
                row = _event(data, limits)
                evidence[row.id] = row
            else:
                bad += 1
    alerts = []
    alert_evidence: dict[str, list[str]] = {}
    for data in incidents:
        note = _note(data)
        profile, _ = _endpoint(data.get("Source"))
        start = str(data.get("StartTime", ""))
        end = str(note.get("EndTime", ""))
        ids = [str(eid) for eid in data.get("CorrelID", []) if isinstance(eid, str)] if isinstance(
            data.get("CorrelID"), list) else []
        alert_evidence[data["ID"]] = ids
        types: dict[str, int] = {}
        for eid in ids:
            if eid in evidence:
                types[evidence[eid].evidence_type] = types.get(evidence[eid].evidence_type, 0) + 1
        alerts.append(
            AlertRow(
                id=data["ID"],
                profile=profile,
                timewindow=_int(note.get("timewindow")),
                window=span_text(_epoch(start), _epoch(end)) if start and end else "",
                accumulated_threat=round(_float(note.get("accumulated_threat_level")), 4),
                threshold=0.0,
                timestamp=start,
                level="info",
                evidence_total=len(ids),
                evidence_types=types,
                links=[],
                links_left_out=0,
            )
        )
    span = None
    if evidence:
        times = [row.ts for row in evidence.values()]
        span = (min(times), max(times))
    facts = [
        Field("source", "Slips alerts.json (IDMEFv2)"),
        Field("events (evidence)", str(len(evidence))),
        Field("incidents (alerts)", str(len(incidents))),
        Field("flow time", f"{iso(span[0])} - {iso(span[1])} UTC" if span else "no evidence"),
        Field("output folder", folder),
    ]
    versions = set()
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                analyzer = json.loads(raw).get("Analyzer", {})
            except (ValueError, AttributeError):
                continue
            if isinstance(analyzer, dict):
                versions.add(f"{analyzer.get('Name', '')} {analyzer.get('Model', '')}".strip())
            break
    if versions:
        facts.append(Field("version", ", ".join(sorted(versions))))
    run = RunSection(facts=facts, logs=[], warnings=[], notes=[], problems=[], not_run=[], config_changes=[],
                     missing=list(CANNOT_SHOW))
    report = assemble(
        source=SOURCE_SLIPS,
        folder=folder,
        generated=generated,
        run=run,
        evidence_file=os.path.basename(path),
        alerts_file=os.path.basename(path),
        evidence=evidence,
        alerts=alerts,
        alert_evidence=alert_evidence,
        limits=limits,
        unreadable_lines=bad,
        span=span,
    )
    report.title = f"Slips alerts report: {os.path.basename(os.path.abspath(folder))}"
    return report


def _event(data: dict[str, Any], limits: Limits) -> EvidenceRow:
    note = _note(data)
    profile, source = _endpoint(data.get("Source"))
    _, target = _endpoint(data.get("Target"))
    level = str(note.get("threat_level") or data.get("Severity") or "info").lower()
    if level not in LEVEL_RANK:
        level = "info"
    uids = [str(uid) for uid in note.get("uids", []) if isinstance(uid, str)] if isinstance(note.get("uids"), list) else []
    ts = _epoch(data.get("StartTime"))
    details = [Field("severity", show_value(data.get("Severity"), limits)),
               Field("confidence (Slips)", show_value(note.get("confidence"), limits)),
               Field("accumulated threat level then", show_value(note.get("accumulated_threat_level"), limits))]
    return EvidenceRow(
        id=data["ID"],
        anchor=evidence_anchor(data["ID"]),
        evidence_type=SLIPS_UNTYPED,
        level=level,
        confidence=_float(data.get("Confidence")),
        profile=profile,
        timewindow=_int(note.get("timewindow")),
        ts=ts,
        timestamp=iso(ts),
        description=show_value(data.get("Description", ""), limits),
        attacker=f"SRC {source}" if source else "",
        victim=f"DST {target}" if target else "",
        count=1,
        uids=uids[: limits.uids_per_evidence],
        uids_total=len(uids),
        details=details,
        related=[str(r) for r in data.get("RelID", [])][:10] if isinstance(data.get("RelID"), list) else [],
    )
