"""The report of an output folder: a Flowalerts run's, or Slips's own alerts.json."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from flowalerts.io.report.model import (
    SOURCE_FLOWALERTS,
    SOURCE_SLIPS,
    Limits,
    Report,
    ReportError,
    lines_of,
    read_flowalerts,
)
from flowalerts.io.report.slips import looks_like_slips, read_slips
from flowalerts.io.runinfo import RUN_JSON, RunInfoError, read_run_info


def detect_source(folder: str) -> tuple[str, str]:
    """(source, evidence file) of ``folder``: a flowalerts run or Slips's alerts.json."""
    run_json = os.path.join(folder, RUN_JSON)
    evidence_name = "alerts.json"
    if os.path.exists(run_json):
        try:
            evidence_name = read_run_info(run_json).files.evidence
        except RunInfoError:
            pass
        return SOURCE_FLOWALERTS, os.path.join(folder, evidence_name)
    path = os.path.join(folder, evidence_name)
    if not os.path.exists(path):
        raise ReportError(f"no run.json or alerts.json in {folder}: not the output folder of a run")
    for raw in lines_of(path):
        return (SOURCE_SLIPS if looks_like_slips(raw) else SOURCE_FLOWALERTS), path
    return SOURCE_FLOWALERTS, path


def build_report(folder: str, limits: Limits | None = None, now: Callable[[], dt.datetime] | None = None) -> Report:
    """The report of an output folder (without the flows: see ``flows.attach_flows``)."""
    limits = limits or Limits()
    if not os.path.isdir(folder):
        raise ReportError(f"not a folder: {folder}")
    source, evidence_path = detect_source(folder)
    generated = (now or (lambda: dt.datetime.now(tz=dt.timezone.utc)))().strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        if source == SOURCE_SLIPS:
            return read_slips(folder, evidence_path, limits, generated)
        return read_flowalerts(folder, evidence_path, limits, generated)
    except OSError as exc:
        raise ReportError(f"cannot read {exc.filename or folder}: {exc.strerror or exc}") from None
