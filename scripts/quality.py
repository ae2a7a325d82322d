"""The quality gate: Flowalerts on captures from other networks and on Slips's test folders.

Runs every capture of ``../shared/datasets/real/`` and every Slips test folder
of ``../shared/datasets/slips/`` (offline, default configuration, the shipped
data) and prints, per capture:

* labelled captures (a conn log with Stratosphere ``label`` columns, scored
  with ``flowalerts score``'s logic): malicious flows covered by any evidence
  and by evidence above info, benign flows hit by evidence above info (and by
  which evidence types);
* every alert, on which profile, with what an analyst would object to: the
  profile only sent labelled benign flows (``benign-only``), it is a
  well-known organisation's address (``org:<name>``, from the organisation
  data of ``flowalerts.knowledge.orgs``), or it never opened a connection in
  the capture, it only answered others (``responder-only``: a scanned
  server, a visited web server);
* evidence per type (distinct evidence, and how many of them are above info).

Usage (from the repository root, with ``../shared`` beside it or
``$FLOWALERTS_SHARED`` set)::

    python scripts/quality.py                  # the table
    python scripts/quality.py --markdown       # the README's table
    python scripts/quality.py --json           # everything measured
    python scripts/quality.py --check          # compare with tests/quality/baseline.json: exit 1 on a regression
    python scripts/quality.py --write-baseline # rewrite the baseline from this run (review its diff)

``--check`` fails (exit 1, one line per problem) when, against the committed
baseline: benign flows hit above info grew or malicious flows covered above
info dropped on a labelled capture; an alert is on a ``benign-only``,
``org:`` or ``responder-only`` profile (on any capture, baseline or not); a
profile is alerted that the baseline does not list (review it, then
``--write-baseline``); or a capture of the baseline is missing.
``tests/integration/test_quality.py`` runs the same check under ``pytest``.

Captures are read as published (``*.log.labeled`` of CTU, ``*.json.gz`` of
JSON Streaming Logs): the readers take those names.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator

from flowalerts.catalog import config_sections
from flowalerts.core.config import parse_config
from flowalerts.core.evidence import Evidence, ThreatLevel
from flowalerts.hosts.standalone import RunOptions, run
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.score import Labels, read_evidence, read_labels, score
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import NullLookups

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("FLOWALERTS_SHARED") or REPO.parent / "shared")
BASELINE = REPO / "tests" / "quality" / "baseline.json"

# What an analyst objects to in an alert's profile.
BENIGN_ONLY = "benign-only"
RESPONDER_ONLY = "responder-only"
ORG_PREFIX = "org:"


# -- which captures ------------------------------------------------------------------------


def captures(shared: pathlib.Path = SHARED) -> list[tuple[str, pathlib.Path]]:
    """(name, folder) of every capture: each folder of ``datasets/real`` and
    each Slips test folder (a folder of ``datasets/slips`` holding logs, or
    its subfolders that do), sorted by name within each group."""
    found: list[tuple[str, pathlib.Path]] = []
    real = shared / "datasets" / "real"
    if real.is_dir():
        found += [(folder.name, folder) for folder in sorted(real.iterdir()) if folder.is_dir()]
    slips = shared / "datasets" / "slips"
    if slips.is_dir():
        for folder in sorted(slips.iterdir()):
            if not folder.is_dir():
                continue
            if any(child.is_file() for child in folder.iterdir()):
                found.append((folder.name, folder))
            else:
                found += [(f"{folder.name}/{sub.name}", sub) for sub in sorted(folder.iterdir()) if sub.is_dir()]
    return found


# -- what one capture gives -------------------------------------------------------------------


@dataclasses.dataclass
class AlertVerdict:
    """One alert and what an analyst would object to in its profile."""

    profile: str
    timewindow: int
    accumulated_threat: float
    evidence_types: dict[str, int]
    objections: list[str]
    # Labelled flows the profile originated: (malicious, benign).
    originated_malicious: int = 0
    originated_benign: int = 0


@dataclasses.dataclass
class LabelledScore:
    malicious_flows: int
    malicious_covered: int
    malicious_covered_above_info: int
    benign_flows: int
    benign_hit_above_info: int
    # Benign flows hit above info, per evidence type (a flow may count under several).
    benign_hit_above_info_by_type: dict[str, int]


@dataclasses.dataclass
class CaptureResult:
    name: str
    records: int
    seconds: float
    # evidence type -> [distinct evidence, of which above info]
    evidence: dict[str, list[int]]
    alerts: list[AlertVerdict]
    labelled: LabelledScore | None
    # Not serialised: the final evidence, for tests that look closer.
    final_evidence: list[Evidence] = dataclasses.field(default_factory=list, repr=False)

    @property
    def bad_alerts(self) -> list[AlertVerdict]:
        return [alert for alert in self.alerts if alert.objections]

    def to_json(self) -> dict[str, object]:
        out = dataclasses.asdict(self)
        del out["final_evidence"]
        del out["seconds"]
        return out


class _ObservedReader(FolderReader):
    """The folder reader, noting who opened connections and who answered."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.originators: set[str] = set()
        self.responders: set[str] = set()
        # conn uid -> who opened it (to judge a profile by its labelled flows)
        self.conn_originator: dict[str, str] = {}

    def __iter__(self) -> Iterator:  # type: ignore[override]
        originators, responders, conn_originator = self.originators, self.responders, self.conn_originator
        for record in super().__iter__():
            if record.saddr and record.daddr and record.uid:
                originators.add(record.saddr)
                responders.add(record.daddr)
                if record.log_type == "conn":
                    conn_originator[record.uid] = record.saddr
            yield record


def measure(name: str, folder: pathlib.Path, knowledge: Knowledge) -> CaptureResult:
    """Run Flowalerts on one capture (offline, default configuration) and judge its output."""
    config, _ = parse_config({}, sections=config_sections())
    with tempfile.TemporaryDirectory(prefix="flowalerts-quality-") as scratch:
        scratch_path = pathlib.Path(scratch)
        readers: list[_ObservedReader] = []

        def reader_factory(input_path: str, warnings: object) -> _ObservedReader:
            reader = _ObservedReader(input_path, warnings, config.input)
            readers.append(reader)
            return reader

        outdir = scratch_path / "out"
        started = time.perf_counter()
        summary = run(RunOptions(path=str(folder), outdir=str(outdir), config=config, offline=True,
                                 lookups=NullLookups(), knowledge=knowledge, emit=lambda text: None,
                                 reader_factory=reader_factory))
        seconds = time.perf_counter() - started
        if summary.health.degraded or not summary.complete:
            raise RuntimeError(f"{name}: the run was not clean (status {summary.exit_status})")
        evidences = read_evidence(str(outdir / "alerts.json"))
        labels = _labels(folder)
    reader = readers[0]
    originated = _originated_labels(reader.conn_originator, labels) if labels else {}
    evidence: dict[str, list[int]] = {}
    for item in evidences:
        counts = evidence.setdefault(item.evidence_type, [0, 0])
        counts[0] += 1
        counts[1] += item.threat_level is not ThreatLevel.INFO
    alerts = []
    for alert in sorted(summary.alerts, key=lambda a: (a.profile, a.timewindow)):
        objections = []
        malicious, benign = originated.get(alert.profile, (0, 0))
        if labels and benign and not malicious:
            objections.append(BENIGN_ONLY)
        org = knowledge.orgs.org_of_ip(alert.profile)
        if org:
            objections.append(ORG_PREFIX + org)
        if alert.profile in reader.responders and alert.profile not in reader.originators:
            objections.append(RESPONDER_ONLY)
        alerts.append(AlertVerdict(profile=alert.profile, timewindow=alert.timewindow,
                                   accumulated_threat=alert.accumulated_threat,
                                   evidence_types=dict(alert.evidence_types), objections=objections,
                                   originated_malicious=malicious, originated_benign=benign))
    return CaptureResult(name=name, records=summary.total_read, seconds=seconds, evidence=dict(sorted(evidence.items())),
                         alerts=alerts, labelled=_labelled_score(labels, evidences) if labels else None,
                         final_evidence=evidences)


def _labels(path: pathlib.Path) -> Labels | None:
    try:
        labels = read_labels(str(path))
    except FileNotFoundError:
        return None
    return labels if labels.by_uid else None


def _originated_labels(conn_originator: dict[str, str], labels: Labels) -> dict[str, tuple[int, int]]:
    """profile -> (malicious, benign) labelled conn flows it originated."""
    counts: dict[str, Counter[str]] = {}
    for uid, (label, _) in labels.by_uid.items():
        profile = conn_originator.get(uid)
        if profile is not None:
            counts.setdefault(profile, Counter())[label] += 1
    return {profile: (found["malicious"], found["benign"]) for profile, found in counts.items()}


def _labelled_score(labels: Labels, evidences: list[Evidence]) -> LabelledScore:
    result = score(labels, evidences)
    hit: dict[str, set[str]] = {}
    for item in evidences:
        if item.threat_level is ThreatLevel.INFO:
            continue
        benign = {uid for uid in item.uids if labels.by_uid.get(uid, ("",))[0] == "benign"}
        if benign:
            hit.setdefault(item.evidence_type, set()).update(benign)
    by_type = {name: len(uids) for name, uids in hit.items()}
    return LabelledScore(
        malicious_flows=result.malicious_flows,
        malicious_covered=result.malicious_covered,
        malicious_covered_above_info=result.malicious_covered_above_info,
        benign_flows=result.benign_flows,
        benign_hit_above_info=result.benign_hit_above_info,
        benign_hit_above_info_by_type={name: n for name, n in sorted(by_type.items()) if n},
    )


def measure_all(shared: pathlib.Path = SHARED) -> list[CaptureResult]:
    config, _ = parse_config({}, sections=config_sections())
    knowledge = Knowledge.load(config, notify=lambda text: None)
    return [measure(name, folder, knowledge) for name, folder in captures(shared)]


# -- the gate ----------------------------------------------------------------------------------


def check(results: list[CaptureResult], baseline: dict[str, dict]) -> list[str]:
    """Every regression against the baseline, one line each (empty: pass)."""
    problems: list[str] = []
    measured = {result.name: result for result in results}
    for name in sorted(set(baseline) - set(measured)):
        problems.append(f"{name}: in the baseline but not measured (capture missing?)")
    for result in results:
        for alert in result.bad_alerts:
            problems.append(f"{result.name}: alert on {alert.profile} (window {alert.timewindow}, "
                            f"{', '.join(alert.evidence_types)}): {', '.join(alert.objections)}")
        known = baseline.get(result.name)
        if known is None:
            continue
        before = known.get("labelled")
        if result.labelled and before:
            now = result.labelled
            if now.benign_hit_above_info > before["benign_hit_above_info"]:
                problems.append(f"{result.name}: benign flows hit above info grew from "
                                f"{before['benign_hit_above_info']} to {now.benign_hit_above_info}")
            if now.malicious_covered_above_info < before["malicious_covered_above_info"]:
                problems.append(f"{result.name}: malicious flows covered above info dropped from "
                                f"{before['malicious_covered_above_info']} to {now.malicious_covered_above_info}")
        allowed = {(alert["profile"], alert["timewindow"]) for alert in known.get("alerts", [])}
        for alert in result.alerts:
            if (alert.profile, alert.timewindow) not in allowed and not alert.objections:
                problems.append(f"{result.name}: new alert on {alert.profile} (window {alert.timewindow}, "
                                f"{', '.join(alert.evidence_types)}): review it, then --write-baseline")
    return problems


def baseline_of(results: list[CaptureResult]) -> dict[str, dict]:
    return {result.name: result.to_json() for result in results}


# -- text ----------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.1%})" if whole else f"{part} of 0"


def format_text(results: list[CaptureResult]) -> str:
    lines: list[str] = []
    for result in results:
        lines.append(f"== {result.name}: {result.records} records, {result.seconds:.1f} s")
        if result.labelled:
            scored = result.labelled
            lines.append(f"   malicious flows covered: {_ratio(scored.malicious_covered, scored.malicious_flows)}; "
                         f"above info: {_ratio(scored.malicious_covered_above_info, scored.malicious_flows)}")
            by_type = ", ".join(f"{name} {n}" for name, n in scored.benign_hit_above_info_by_type.items())
            lines.append(f"   benign flows hit above info: {_ratio(scored.benign_hit_above_info, scored.benign_flows)}"
                         + (f" ({by_type})" if by_type else ""))
        else:
            lines.append("   no labels")
        lines.append(f"   alerts: {len(result.alerts)}")
        for alert in result.alerts:
            types = ", ".join(f"{name} x{n}" for name, n in alert.evidence_types.items())
            flagged = f"  <-- {', '.join(alert.objections)}" if alert.objections else ""
            lines.append(f"     {alert.profile} window {alert.timewindow}: {alert.accumulated_threat:g} ({types}){flagged}")
        lines.append("   evidence (distinct / above info):")
        for name, (total, above) in result.evidence.items():
            lines.append(f"     {name:<34} {total:>6} {above:>6}")
    return "\n".join(lines)


def format_markdown(results: list[CaptureResult]) -> str:
    """The README's table: one row per capture."""
    lines = [
        "| capture | records | malicious flows covered (any / above info) | benign flows hit above info | alerts "
        "(profiles) | objectionable alerts | evidence above info, by type |",
        "|---|---:|---|---|---|---|---|",
    ]
    for result in results:
        if result.labelled:
            scored = result.labelled
            covered = (f"{scored.malicious_covered} / {scored.malicious_covered_above_info} "
                       f"of {scored.malicious_flows}")
            benign = _ratio(scored.benign_hit_above_info, scored.benign_flows)
        else:
            covered = benign = "(no labels)"
        profiles = sorted({alert.profile for alert in result.alerts})
        shown = ", ".join(profiles[:6]) + (f" and {len(profiles) - 6} more" if len(profiles) > 6 else "")
        alerts = f"{len(result.alerts)} ({shown})" if result.alerts else "0"
        bad = ", ".join(f"{alert.profile} ({', '.join(alert.objections)})" for alert in result.bad_alerts) or "none"
        above = ", ".join(f"{name} {above}" for name, (_, above) in result.evidence.items() if above) or "none"
        lines.append(f"| {result.name} | {result.records} | {covered} | {benign} | {alerts} | {bad} | {above} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=pathlib.Path, default=SHARED, help="the shared folder (default: ../shared)")
    parser.add_argument("--baseline", type=pathlib.Path, default=BASELINE, help="the committed baseline")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--markdown", action="store_true", help="print the README's table")
    what.add_argument("--json", action="store_true", help="print everything measured as JSON")
    what.add_argument("--check", action="store_true", help="compare with the baseline; exit 1 on a regression")
    what.add_argument("--write-baseline", action="store_true", help="rewrite the baseline from this run")
    args = parser.parse_args(argv)
    if not (args.shared / "datasets").is_dir():
        print(f"quality: no datasets under {args.shared} (set FLOWALERTS_SHARED or --shared)", file=sys.stderr)
        return 2
    results = measure_all(args.shared)
    if args.write_baseline:
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(json.dumps(baseline_of(results), indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.baseline}")
        return 0
    if args.json:
        print(json.dumps(baseline_of(results), indent=1, sort_keys=True))
        return 0
    print(format_markdown(results) if args.markdown else format_text(results))
    if args.check:
        problems = check(results, json.loads(args.baseline.read_text()))
        for problem in problems:
            print(f"FAIL {problem}")
        print(f"quality gate: {'FAILED' if problems else 'passed'} ({len(results)} captures)")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
