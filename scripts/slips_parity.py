"""Parity table: evidence per type from Slips's own flow_alerts, from ours
inside Slips, and from ours standalone, for every shared dataset.

usage: python scripts/slips_parity.py RUNS_DIR [--attach DIR] [--traffic DIR] [--datasets DIR] [--out DIR]

* Slips's own: ``../shared/slips/traffic/<dataset>/slips_evidence.json``
  (evidence stored in Slips's DB by its own flow_alerts, the baseline runs);
* ours inside Slips: the run folders of ``run_many.sh dropin RUNS_DIR``
  (``RUNS_DIR/<dataset with / as ->/slips_db.json``), evidence stored in Slips's DB;
* ours standalone: ``flowalerts run`` on the dataset (run here, into --out),
  one per evidence id (an update of an aggregated evidence is not counted twice);
* with ``--attach DIR`` (``run_many.sh attach DIR``): ours attached, stored in Slips's DB.

Prints a Markdown table (dataset, Slips type, the three counts); the
"difference" column is left for a human to explain.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _shared() -> pathlib.Path:
    for parent in ROOT.parents:
        if (parent / "shared" / "slips").is_dir():
            return parent / "shared"
    return ROOT.parent / "shared"


def stored(slips_db: pathlib.Path) -> Counter[str]:
    if not slips_db.exists():
        return Counter()
    dump = json.loads(slips_db.read_text())
    return Counter(e["evidence_type"] for h in dump.get("evidence", {}).values() for e in h.values())


def standalone(dataset: pathlib.Path, out: pathlib.Path) -> Counter[str]:
    subprocess.run([sys.executable, "-m", "flowalerts", "run", "-f", str(dataset), "-o", str(out), "--offline", "-q"],
                   check=False, capture_output=True, cwd=str(ROOT))
    from flowalerts.hosts.slips.encode import slips_type

    by_id = {}
    path = out / "alerts.json"
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.strip():
            evidence = json.loads(line)
            by_id[evidence["id"]] = evidence["evidence_type"]
    return Counter(slips_type(t) or f"{t} (not sent to Slips)" for t in by_id.values())


def main() -> int:
    shared = _shared()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=pathlib.Path)
    parser.add_argument("--traffic", type=pathlib.Path, default=shared / "slips" / "traffic")
    parser.add_argument("--datasets", type=pathlib.Path, default=shared / "datasets" / "slips")
    parser.add_argument("--out", type=pathlib.Path, default=None)
    parser.add_argument("--attach", type=pathlib.Path, default=None, help="run_many.sh attach folder (extra column)")
    args = parser.parse_args()
    out_root = args.out or pathlib.Path(tempfile.mkdtemp(prefix="slips-parity-"))
    names = sorted(str(p.parent.relative_to(args.traffic)) for p in args.traffic.rglob("slips_evidence.json"))
    extra = " ours attached |" if args.attach else ""
    print(f"| dataset | evidence type (Slips) | Slips's own | ours inside Slips |{extra} ours standalone |")
    print("|---|---|---:|---:|" + ("---:|" if args.attach else "") + "---:|")
    for name in names:
        flat = name.replace("/", "-")
        own = stored(args.traffic / name / "slips_evidence.json")
        inside = stored(args.runs / flat / "slips_db.json")
        attached = stored(args.attach / flat / "slips_db.json") if args.attach else Counter()
        alone = standalone(args.datasets / name, out_root / flat)
        types = sorted(set(own) | set(inside) | set(attached) | set(alone))
        if not types:
            print(f"| {name} | (none) | 0 | 0 |" + (" 0 |" if args.attach else "") + " 0 |")
        for evidence_type in types:
            middle = f" {attached[evidence_type]} |" if args.attach else ""
            print(f"| {name} | {evidence_type} | {own[evidence_type]} | {inside[evidence_type]} |{middle} {alone[evidence_type]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
