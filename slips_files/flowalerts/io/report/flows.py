"""The flows behind the evidence: Zeek records of the evidence's first uids.

A Zeek uid names one connection in every log that saw it (its conn record,
and the dns, ssl, http ... records of the same connection), so the records
of an evidence's uids are the traffic it was decided on. The report reads
them back from the run's input (``run.json`` names it; ``-f`` overrides)
through the ordinary readers (``FolderReader``: every log format and name the
run itself reads), keeping a record when its uid is wanted: one set look-up
per record, at most ``Limits.records_per_log`` records per uid and log type, and only the
first ``Limits.uids_per_evidence`` uids of each evidence shown.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from flowalerts.io.report.model import Field, FlowRecord, Report, iso, show_value

# Fields every record has, shown in the endpoints column instead.
_ENDPOINT_FIELDS = ("starttime", "uid", "saddr", "sport", "daddr", "dport")
# conn first, then the application logs (the order of a uid's records in the report).
_LOG_ORDER = {"conn": 0, "dns": 1, "ssl": 2, "http": 3}


@dataclasses.dataclass
class FlowsResult:
    """What reading the input for the flows did."""

    wanted: int
    found: int  # uids with at least one record
    records_read: int
    seconds: float
    problem: str = ""


def flow_record(record: Any, limits: Any) -> FlowRecord:
    """A typed record as shown: endpoints, then every non-empty field by its name."""
    fields = []
    for name in record.__struct_fields__:
        if name in _ENDPOINT_FIELDS:
            continue
        value = getattr(record, name)
        if value is None or (isinstance(value, (str, list)) and not value):
            continue
        fields.append(Field(name, show_value(value, limits)))
    endpoints = f"{record.saddr}:{record.sport} -> {record.daddr}:{record.dport}"
    return FlowRecord(uid=record.uid, log_type=record.log_type, ts=record.starttime, timestamp=iso(record.starttime),
                      endpoints=endpoints, fields=fields)


def read_flows(path: str, wanted: set[str], limits: Any) -> tuple[dict[str, list[FlowRecord]], FlowsResult]:
    """Records whose uid is in ``wanted``, by uid, read from the Zeek logs at ``path``."""
    from flowalerts.io.input.folder import FolderReader, InputError
    from flowalerts.io.input.warnings import InputWarnings

    started = time.perf_counter()
    found: dict[str, list[FlowRecord]] = {}
    result = FlowsResult(wanted=len(wanted), found=0, records_read=0, seconds=0.0)
    if not wanted:
        return found, result
    warnings = InputWarnings(emit=lambda text: None)
    try:
        reader = FolderReader(path, warnings)
    except InputError as exc:
        result.problem = str(exc)
        return found, result
    per_log = limits.records_per_log
    taken: dict[tuple[str, str], int] = {}
    read = 0
    # File by file: the order does not matter here, and the time-ordered merge
    # of FolderReader's own iterator cost twice the parsing (1M-record run:
    # 30 s merged, 11 s file by file).
    sources = getattr(reader, "readers", None) or [reader]
    try:
        for source in sources:
            for record in source:
                read += 1
                uid = record.uid
                if uid in wanted:
                    key = (uid, record.log_type)
                    if taken.get(key, 0) < per_log:
                        taken[key] = taken.get(key, 0) + 1
                        found.setdefault(uid, []).append(flow_record(record, limits))
    except OSError as exc:
        result.problem = f"reading stopped: {exc.strerror or exc}"
    for records in found.values():
        records.sort(key=lambda r: (_LOG_ORDER.get(r.log_type, 9), r.ts))
    result.found = len(found)
    result.records_read = read
    result.seconds = time.perf_counter() - started
    return found, result


def attach_flows(report: Report, path: str | None, limits: Any = None) -> FlowsResult | None:
    """Read the flows of the evidence shown in ``report`` from ``path`` and attach them.

    Sets ``report.flows_note`` to say what was done (or why not)."""
    limits = limits or report.limits
    if not path:
        report.flows_note = "The flows behind the evidence are not shown: the Zeek logs are unknown (give them with -f)."
        return None
    wanted = report.wanted_uids()
    if not wanted:
        report.flows_note = "No evidence shown names a Zeek uid."
        return None
    found, result = read_flows(path, wanted, limits)
    if result.problem:
        report.flows_note = (f"The flows behind the evidence are not shown: {result.problem} "
                             "(give the Zeek logs with -f).")
        return result
    for row in report.shown_evidence:
        row.flows = {uid: found[uid] for uid in row.uids if uid in found}
    report.flows_note = (
        f"Flows: the Zeek records of the first {limits.uids_per_evidence} uid(s) of each evidence shown "
        f"(at most {limits.records_per_log} per log type), read from {path}: {result.found} of "
        f"{result.wanted} uids found in {result.records_read:,} records."
    )
    return result
