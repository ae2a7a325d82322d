"""``run.json``: what a run was, as data, beside its alerts.

``flowalerts run`` prints a summary for a person; ``run.json`` holds the same
facts for a program (``flowalerts report`` first of all): the input, the flow
time it covered, records read / processed / skipped per log type, warnings,
detections that failed or were not run, the configuration that differs from
the defaults, the evidence counts and the names of the other output files.
Every host that writes an output folder writes it at the end of the run (one
process, ``--redis`` with workers, ``--follow`` when stopped); a ``--follow``
run also rewrites it while it runs (``running: true``).

It stays small whatever the input: every list in it is capped (``MAX_LISTED``)
and says how many were left out. Secrets are never written: a Redis URL is
reduced to whether one was used, and every configuration value goes through
``redact``. Strings from traffic can reach it (warnings, notes name files and
lines): they are stored as data (JSON-escaped), never rendered here.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import msgspec

from flowalerts import __version__
from flowalerts.core.evidence import iso_timestamp
from flowalerts.core.urls import redact

RUN_JSON = "run.json"
# The format of run.json; a reader refuses a major version it does not know.
RUN_FORMAT = "flowalerts-run/1"
# Most entries kept in each list of run.json (notes, unread input, config changes).
MAX_LISTED = 50


class LogCounts(msgspec.Struct, kw_only=True):
    """Records of one log type: read (handed on by the reader), processed, skipped (bad lines)."""

    read: int = 0
    processed: int = 0
    skipped: int = 0


class ConfigChange(msgspec.Struct, kw_only=True):
    """One configuration value that differs from the built-in default (dotted key)."""

    key: str
    value: Any
    default: Any


class FlowTimeSpan(msgspec.Struct, kw_only=True):
    """The flow time (Zeek ``ts``) a run covered: T0, the start of its first
    window, to the newest flow start it believed (clock jumps held back)."""

    first: float
    last: float
    first_iso: str = ""
    last_iso: str = ""


class Files(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Names of the run's other outputs in the same folder."""

    evidence: str = "alerts.json"
    log: str = "alerts.log"
    alerts: str = "alerts_summary.json"
    idmef: str | None = None


class RunInfo(msgspec.Struct, kw_only=True):
    """The content of run.json (README, "Outputs")."""

    format: str = RUN_FORMAT
    version: str = __version__
    input: str
    mode: str = "replay"  # "replay" (read to the end) or "follow" (--follow)
    distributed: bool = False
    workers: int = 0
    # A live run (--follow) still going: run.json is its snapshot (rewritten
    # every 30 s while the input is idle, and at the end).
    running: bool = False
    finished: str = ""  # wall time the run ended (ISO 8601 UTC)
    elapsed_seconds: float = 0.0
    exit_status: int = 0
    interrupted: bool = False
    complete: bool = True
    flow_time: FlowTimeSpan | None = None
    logs: dict[str, LogCounts] = msgspec.field(default_factory=dict)
    warnings: int = 0
    warnings_by_kind: dict[str, int] = msgspec.field(default_factory=dict)
    notes: list[str] = msgspec.field(default_factory=list)
    notes_left_out: int = 0
    unread_input: list[str] = msgspec.field(default_factory=list)
    # Detections that raised ("<detection>:<where>" -> times); the run is degraded.
    degraded: dict[str, int] = msgspec.field(default_factory=dict)
    # Detections not run, and why (e.g. "needs ssh.log").
    not_run: dict[str, str] = msgspec.field(default_factory=dict)
    late_records: dict[str, int] = msgspec.field(default_factory=dict)
    clock_jumps: dict[str, int] = msgspec.field(default_factory=dict)
    undecided: dict[str, int] = msgspec.field(default_factory=dict)
    timers_fired_early: dict[str, int] = msgspec.field(default_factory=dict)
    disabled_evidence: dict[str, int] = msgspec.field(default_factory=dict)
    evidence: dict[str, int] = msgspec.field(default_factory=dict)
    evidence_updates: int = 0
    alerts: int = 0
    alert_threshold: float = 0.0
    time_window_width: float = 0.0
    config_changes: list[ConfigChange] = msgspec.field(default_factory=list)
    config_changes_left_out: int = 0
    files: Files = msgspec.field(default_factory=Files)


class RunInfoError(ValueError):
    """run.json exists but cannot be used (message for the user)."""


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value, key=str):
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], into)
    else:
        into[prefix] = value


def config_changes(config: Any, defaults: Any) -> list[ConfigChange]:
    """The values of ``config`` that differ from ``defaults`` (two ``Config``), by dotted key.

    ``base_dir`` (where the config file was) is not a setting. Values are
    passed through ``redact`` (a Redis URL with a password in it)."""
    mine: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    _flatten("", msgspec.to_builtins(config), mine)
    _flatten("", msgspec.to_builtins(defaults), theirs)
    changes = []
    for key in sorted(set(mine) | set(theirs)):
        if key == "base_dir" or mine.get(key) == theirs.get(key):
            continue
        changes.append(ConfigChange(key=key, value=_redacted(mine.get(key)), default=_redacted(theirs.get(key))))
    return changes


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _capped(items: list[str]) -> tuple[list[str], int]:
    return items[:MAX_LISTED], max(0, len(items) - MAX_LISTED)


def build_run_info(summary: Any, options: Any, defaults: Any, running: bool = False) -> RunInfo:
    """run.json of a run (``summary``: a ``RunSummary``, ``options``: its ``RunOptions``,
    ``defaults``: the default ``Config`` its config is compared with); ``running``: a
    live run's snapshot, rewritten until it stops."""
    config = options.config
    changes = config_changes(config, defaults)
    notes, notes_left_out = _capped([str(note) for note in summary.notes])
    unread, _ = _capped([str(problem) for problem in summary.unread_input])
    health = summary.health
    logs = {
        log_type: LogCounts(
            read=summary.read[log_type], processed=summary.processed[log_type], skipped=summary.skipped[log_type]
        )
        for log_type in sorted(set(summary.read) | set(summary.processed) | set(summary.skipped))
    }
    span = None
    if summary.flow_time is not None:
        first, last = summary.flow_time
        span = FlowTimeSpan(first=first, last=last, first_iso=iso_timestamp(first), last_iso=iso_timestamp(last))
    output = config.output
    return RunInfo(
        input=os.path.abspath(options.path),
        mode="follow" if options.live else "replay",
        distributed=bool(options.redis_url),
        workers=options.workers if options.redis_url else 0,
        running=running,
        finished="" if running else dt.datetime.now(tz=dt.timezone.utc).isoformat(timespec="seconds"),
        elapsed_seconds=round(summary.elapsed, 3),
        exit_status=summary.exit_status,
        interrupted=summary.interrupted,
        complete=summary.complete,
        flow_time=span,
        logs=logs,
        warnings=summary.warnings,
        warnings_by_kind=dict(sorted(summary.warnings_by_kind.items())),
        notes=notes,
        notes_left_out=notes_left_out,
        unread_input=unread,
        degraded=dict(sorted(health.errors.items())),
        not_run=dict(sorted(health.skipped.items())),
        late_records=dict(sorted(summary.late.items())),
        clock_jumps=dict(sorted(summary.clock_jumps.items())),
        undecided=dict(sorted(health.undecided.items())),
        timers_fired_early=dict(sorted(health.timers_fired_early.items())),
        disabled_evidence=dict(sorted(health.disabled_evidence.items())),
        evidence=dict(sorted(summary.evidence.items())),
        evidence_updates=summary.updates,
        alerts=len(summary.alerts),
        alert_threshold=config.alert_threshold,
        time_window_width=config.parameters.width,
        config_changes=changes[:MAX_LISTED],
        config_changes_left_out=max(0, len(changes) - MAX_LISTED),
        files=Files(
            evidence=output.alerts_json,
            log=output.alerts_log,
            idmef="alerts.idmef.json" if output.idmef else None,
        ),
    )


_encoder = msgspec.json.Encoder()


def write_run_info(outdir: str, info: RunInfo) -> str:
    """Write ``outdir/run.json`` (replaced whole: a reader never sees half of it)."""
    path = os.path.join(outdir, RUN_JSON)
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(msgspec.json.format(_encoder.encode(info), indent=2) + b"\n")
    os.replace(tmp, path)
    return path


def read_run_info(path: str) -> RunInfo:
    """A run.json back as ``RunInfo``; ``RunInfoError`` if it is not one we can read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 22)
    except OSError as exc:
        raise RunInfoError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise RunInfoError(f"{path} is not JSON: {exc}") from None
    fmt = raw.get("format", "") if isinstance(raw, dict) else ""
    if not isinstance(fmt, str) or fmt.split("/")[0] != RUN_FORMAT.split("/")[0]:
        raise RunInfoError(f"{path} is not a Flowalerts run.json (format {fmt!r})")
    if fmt != RUN_FORMAT:
        raise RunInfoError(f"{path} has format {fmt!r}; this version reads {RUN_FORMAT!r}")
    try:
        return msgspec.convert(raw, RunInfo)
    except msgspec.ValidationError as exc:
        raise RunInfoError(f"{path}: {exc}") from None
