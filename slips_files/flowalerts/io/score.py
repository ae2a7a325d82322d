"""``flowalerts score``: how good is the evidence on a labelled capture?

Input: a Zeek folder (or conn log) whose conn records carry Stratosphere-style
labels, as in the public CTU datasets: a ``label`` column ("Malicious" /
"Benign", any case; also "Background" or "-" = unlabelled) and optionally a
``detailedlabel`` / ``detailed-label`` column (e.g. "C&C-HeartBeat"), in TSV
or JSON, including the CTU-IoT-23 files where the last three columns
(``tunnel_parents label detailed-label``) are separated by spaces; and the
``alerts.json`` of a run.

Every evidence names the Zeek uids of the flows behind it; a uid is shared by
a connection's conn, dns, http, ssl ... records, so evidence of any log type
hits the labelled conn flow it came from. The report gives, per evidence
type: evidence count, flows hit, malicious and benign flows hit, precision
(malicious / labelled flows hit); and overall: coverage of malicious flows
(hit by any evidence, and by evidence above info), benign flows hit by
evidence above info, and the evidence count an analyst would read.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator

from flowalerts.core.evidence import Evidence, ThreatLevel, decode_evidence

MALICIOUS = "malicious"
BENIGN = "benign"


@dataclasses.dataclass
class Labels:
    """uid -> (label, detailed label) for the labelled conn flows."""

    by_uid: dict[str, tuple[str, str]]
    unlabelled: int = 0
    bad_lines: int = 0

    def count(self, label: str) -> int:
        return sum(1 for value, _ in self.by_uid.values() if value == label)


def _normal_label(text: str) -> str:
    lowered = text.strip().lower()
    if lowered.startswith("malicious") or lowered == "botnet" or lowered.startswith("from-botnet"):
        return MALICIOUS
    if lowered.startswith("benign") or lowered == "normal" or lowered.startswith("from-normal"):
        return BENIGN
    return ""


def _open(path: str):
    return gzip.open(path, "rt", encoding="utf-8", errors="replace") if path.endswith(".gz") else open(
        path, encoding="utf-8", errors="replace"
    )


def conn_files(path: str) -> list[str]:
    """The conn logs under ``path`` (the names the readers take: conn.log,
    conn.json, conn.log.labeled, rotated, .gz)."""
    from flowalerts.io.input.folder import log_type_of

    if os.path.isfile(path):
        return [path]
    found: list[str] = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if log_type_of(name) == "conn":
                found.append(os.path.join(root, name))
    return found


def shares_uid(labels: Labels, evidences: list[Evidence]) -> bool:
    """True if some evidence names a labelled flow (the alerts come from a run on these logs)."""
    return any(uid in labels.by_uid for evidence in evidences for uid in evidence.uids)


def read_labels(path: str) -> Labels:
    labels = Labels(by_uid={})
    files = conn_files(path)
    if not files:
        raise FileNotFoundError(f"no conn log found under {path}")
    for file_path in files:
        for uid, label, detailed in _records(file_path, labels):
            normal = _normal_label(label)
            if not uid:
                continue
            if not normal:
                labels.unlabelled += 1
                continue
            labels.by_uid[uid] = (normal, detailed.strip() if detailed not in ("-", "(empty)") else "")
    return labels


def _records(path: str, labels: Labels) -> Iterator[tuple[str, str, str]]:
    fields: list[str] | None = None
    separator = "\t"
    with _open(path) as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if not line:
                continue
            if line.startswith("#"):
                if line.startswith("#separator"):
                    value = line.split(None, 1)[1] if " " in line else "\\x09"
                    separator = value.encode().decode("unicode_escape") if value.startswith("\\x") else value
                elif line.startswith("#fields"):
                    fields = _split_fields(line, separator)[1:]
                continue
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    labels.bad_lines += 1
                    continue
                if not isinstance(record, dict):
                    labels.bad_lines += 1
                    continue
                yield (
                    str(record.get("uid", "")),
                    str(record.get("label", "")),
                    str(record.get("detailedlabel", record.get("detailed-label", record.get("detailed_label", "")))),
                )
                continue
            if fields is None:
                labels.bad_lines += 1
                continue
            values = _split_fields(line, separator)
            if len(values) != len(fields):
                labels.bad_lines += 1
                continue
            row = dict(zip(fields, values))
            yield (
                row.get("uid", ""),
                row.get("label", ""),
                row.get("detailed-label", row.get("detailedlabel", row.get("detailed_label", ""))),
            )


def _split_fields(line: str, separator: str) -> list[str]:
    parts = line.split(separator)
    # CTU-IoT-23: the last columns are separated by three spaces, not tabs.
    out: list[str] = []
    for part in parts:
        out.extend(part.split("   ") if "   " in part else [part])
    return out


def read_evidence(alerts_json: str) -> list[Evidence]:
    """The final version of every evidence (a later line with the same id wins)."""
    by_id: dict[str, Evidence] = {}
    with open(alerts_json, "rb") as handle:
        for line in handle:
            if line.strip():
                evidence = decode_evidence(line)
                by_id[evidence.id] = evidence
    return list(by_id.values())


@dataclasses.dataclass
class TypeScore:
    evidence_type: str
    evidence: int = 0
    flows_hit: int = 0
    malicious_hit: int = 0
    benign_hit: int = 0

    @property
    def precision(self) -> float | None:
        labelled = self.malicious_hit + self.benign_hit
        return self.malicious_hit / labelled if labelled else None


@dataclasses.dataclass
class Score:
    per_type: list[TypeScore]
    evidence: int
    malicious_flows: int
    benign_flows: int
    malicious_covered: int
    malicious_covered_above_info: int
    benign_hit_above_info: int
    benign_hit_above_info_uids: list[str]
    missed_detailed: Counter[str]

    @property
    def coverage(self) -> float | None:
        return self.malicious_covered / self.malicious_flows if self.malicious_flows else None


def score(labels: Labels, evidences: list[Evidence]) -> Score:
    per_type: dict[str, TypeScore] = {}
    hit_by_type: dict[str, set[str]] = defaultdict(set)
    malicious_covered: set[str] = set()
    malicious_above_info: set[str] = set()
    benign_above_info: set[str] = set()
    for evidence in evidences:
        entry = per_type.setdefault(evidence.evidence_type, TypeScore(evidence.evidence_type))
        entry.evidence += 1
        for uid in evidence.uids:
            known = labels.by_uid.get(uid)
            if known is None:
                continue
            hit_by_type[evidence.evidence_type].add(uid)
            above_info = evidence.threat_level is not ThreatLevel.INFO
            if known[0] == MALICIOUS:
                malicious_covered.add(uid)
                if above_info:
                    malicious_above_info.add(uid)
            elif above_info:
                benign_above_info.add(uid)
    for name, uids in hit_by_type.items():
        entry = per_type[name]
        entry.flows_hit = len(uids)
        entry.malicious_hit = sum(1 for uid in uids if labels.by_uid[uid][0] == MALICIOUS)
        entry.benign_hit = entry.flows_hit - entry.malicious_hit
    missed: Counter[str] = Counter(
        detailed or "(no detailed label)"
        for uid, (label, detailed) in labels.by_uid.items()
        if label == MALICIOUS and uid not in malicious_covered
    )
    return Score(
        per_type=sorted(per_type.values(), key=lambda s: (-s.evidence, s.evidence_type)),
        evidence=len(evidences),
        malicious_flows=labels.count(MALICIOUS),
        benign_flows=labels.count(BENIGN),
        malicious_covered=len(malicious_covered),
        malicious_covered_above_info=len(malicious_above_info),
        benign_hit_above_info=len(benign_above_info),
        benign_hit_above_info_uids=sorted(benign_above_info)[:20],
        missed_detailed=missed,
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_score(result: Score) -> str:
    lines = [
        f"{'evidence type':<34} {'evidence':>8} {'flows hit':>9} {'malicious':>9} {'benign':>7} {'precision':>9}"
    ]
    for entry in result.per_type:
        lines.append(
            f"{entry.evidence_type:<34} {entry.evidence:>8} {entry.flows_hit:>9} {entry.malicious_hit:>9} "
            f"{entry.benign_hit:>7} {_ratio(entry.precision):>9}"
        )
    lines.append("")
    lines.append(f"evidence: {result.evidence}")
    lines.append(
        f"malicious flows covered: {result.malicious_covered} of {result.malicious_flows} ({_ratio(result.coverage)})"
    )
    lines.append(
        f"malicious flows covered above info: {result.malicious_covered_above_info} of {result.malicious_flows}"
    )
    lines.append(f"benign flows hit above info: {result.benign_hit_above_info} of {result.benign_flows}")
    if result.missed_detailed:
        missed = ", ".join(f"{name} {count}" for name, count in result.missed_detailed.most_common(10))
        lines.append(f"malicious flows missed, by detailed label: {missed}")
    return "\n".join(lines)


def score_json(result: Score) -> dict[str, object]:
    return {
        "evidence": result.evidence,
        "malicious_flows": result.malicious_flows,
        "benign_flows": result.benign_flows,
        "malicious_covered": result.malicious_covered,
        "coverage": result.coverage,
        "malicious_covered_above_info": result.malicious_covered_above_info,
        "benign_hit_above_info": result.benign_hit_above_info,
        "benign_hit_above_info_uids": result.benign_hit_above_info_uids,
        "missed_by_detailed_label": dict(result.missed_detailed),
        "per_type": [
            {**dataclasses.asdict(entry), "precision": entry.precision} for entry in result.per_type
        ],
    }
