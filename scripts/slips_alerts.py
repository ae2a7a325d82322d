"""Alerts per profile: Slips's own module vs ours inside Slips (drop-in, attach) vs ours standalone.

    python scripts/slips_alerts.py NAME=BASELINE,DROPIN,ATTACH,STANDALONE ...

Each NAME (a dataset) names four folders: a ``run_slips.sh`` output folder of
Slips with its own flow_alerts (or ``../shared/slips/traffic/<dataset>``),
one with ours dropped in, one with ours attached (their ``slips/alerts/alerts.json``,
or ``alerts.json`` in the traffic folders: IDMEF Incidents) and a
``flowalerts run -o`` folder (``alerts_summary.json``). A folder given as
``-`` is not measured. Prints a Markdown table: one row per profile that any
of them alerted on (``none`` when no alert at all), alerts per column, and
the evidence Slips stored in each Slips run (ours: with weight steps).
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections import Counter


def _lines(path: pathlib.Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.strip()]


def slips_alerts(folder: str) -> tuple[Counter[str], int] | None:
    """Incidents per source IP in a Slips run's alerts.json, and its evidence (Events)."""
    if folder == "-":
        return None
    root = pathlib.Path(folder)
    path = root / "slips" / "alerts" / "alerts.json"
    lines = _lines(path if path.is_file() else root / "alerts.json")
    alerts: Counter[str] = Counter()
    for event in lines:
        if event.get("Status") == "Incident":
            for source in event.get("Source", []):
                alerts[source.get("IP", "?")] += 1
    return alerts, sum(1 for event in lines if event.get("Status") == "Event")


def standalone_alerts(folder: str) -> Counter[str] | None:
    if folder == "-":
        return None
    alerts: Counter[str] = Counter()
    for alert in _lines(pathlib.Path(folder) / "alerts_summary.json"):
        if alert.get("type") == "alert":
            alerts[alert["profile"]] += 1
    return alerts


def main(argv: list[str]) -> int:
    if not argv or any("=" not in arg or arg.count(",") != 3 for arg in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print("| dataset | profile | Slips's own | ours drop-in | ours attached | ours standalone |")
    print("|---|---|---:|---:|---:|---:|")
    for arg in argv:
        name, folders = arg.split("=", 1)
        base, drop, att, alone = folders.split(",")
        slips = [slips_alerts(base), slips_alerts(drop), slips_alerts(att)]
        own = standalone_alerts(alone)
        counters = [s[0] if s else None for s in slips] + [own]
        profiles = sorted({p for c in counters if c for p in c}) or ["none"]
        for profile in profiles:
            cells = []
            for index, counter in enumerate(counters):
                if counter is None:
                    cells.append("-")
                    continue
                cell = str(counter.get(profile, 0))
                measured = slips[index] if index < 3 else None
                if measured is not None and profile == profiles[0]:
                    cell += f" ({measured[1]} evidence)"
                cells.append(cell)
            print(f"| {name} | {profile} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
