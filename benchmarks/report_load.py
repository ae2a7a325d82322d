"""How big is a report and how long does a browser take to open it?

    python benchmarks/report_load.py OUT_DIR [-f ZEEK_PATH] [--loads 3]

Writes OUT_DIR/report.html (``flowalerts report``, timed by stage: reading
the outputs, reading the flows back from the Zeek logs, rendering), then
opens it ``--loads`` times in a fresh headless Chromium (the browser tests'
code, ``tests/integration/browser_support.py``) and prints, per load, the
wall time until the page's ``load`` event (the report's script has run by
then), the browser's own navigation timing (DOMContentLoaded, load) and
the renderer's busy time (Chrome DevTools ``Performance.getMetrics``
``TaskDuration``: the page's main-thread task time, with its script, layout
and style parts). A Markdown row goes to stdout: evidence, evidence shown,
size, seconds to read the outputs + the flows + render, CPU seconds, peak
RSS, median load (browser), median renderer busy, load average. OUT_DIR is the output folder of a run, e.g. of
``python benchmarks/run.py --sizes 1000000`` or of ``flowalerts run -f
/tmp/bench-1m -o /tmp/bench-1m-out --offline -q`` on
``python benchmarks/generate.py -n 1000000 --seed 1 -o /tmp/bench-1m``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flowalerts.io.report import build_report  # noqa: E402
from flowalerts.io.report.flows import attach_flows  # noqa: E402
from flowalerts.io.report.render import REPORT_HTML, _recorded_input, render_report  # noqa: E402
from tests.integration.browser_support import missing_browser, open_report  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("-f", "--file", dest="zeek_path", default=None)
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args(argv)
    problem = missing_browser()
    if problem:
        print(f"report_load: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    cpu0 = time.process_time()
    report = build_report(args.outdir)
    built = time.perf_counter()
    flows = attach_flows(report, args.zeek_path or _recorded_input(args.outdir))
    read = time.perf_counter()
    html = render_report(report)
    path = pathlib.Path(args.outdir) / REPORT_HTML
    path.write_text(html, encoding="utf-8")
    done = time.perf_counter()
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = os.path.getsize(path) / 1e6
    print(f"report: {path} {size_mb:.1f} MB; outputs {built - started:.1f} s, flows {read - built:.1f} s "
          f"({flows.records_read if flows else 0:,} records read), render {done - read:.1f} s; "
          f"CPU {cpu:.1f} s, peak RSS {peak_mb:.0f} MB", file=sys.stderr)
    print(f"  {report.alerts_total} alerts, {report.evidence_total} evidence, {report.profiles_total} profiles; "
          f"shown: {len(report.alerts)} alerts, {len(report.shown_evidence)} evidence in {len(report.profiles)} "
          "sections", file=sys.stderr)
    walls, loads, busy = [], [], []
    for attempt in range(args.loads):
        probe: dict[str, object] = {}

        def start_probe(page: object, probe: dict[str, object] = probe) -> None:
            # The renderer's main-thread task time (CDP Performance metrics).
            session = page.context.new_cdp_session(page)  # type: ignore[attr-defined]
            session.send("Performance.enable")
            probe["session"] = session

        with open_report(path, before_load=start_probe) as (page, events):
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domContentLoadedEventEnd, n.loadEventEnd]; }"
            )
            metrics = {m["name"]: m["value"] for m in probe["session"].send("Performance.getMetrics")["metrics"]}
            assert not events.console_errors and not events.requests, (events.console_errors, events.requests)
        walls.append(events.load_seconds)
        loads.append(timing[1] / 1000)
        busy.append(metrics.get("TaskDuration", 0.0))
        print(f"  load {attempt + 1}: {events.load_seconds:.2f} s until load (browser: DOMContentLoaded "
              f"{timing[0] / 1000:.2f} s, load {timing[1] / 1000:.2f} s; renderer busy {busy[-1]:.2f} s: "
              f"script {metrics.get('ScriptDuration', 0.0):.2f}, layout {metrics.get('LayoutDuration', 0.0):.2f}, "
              f"style {metrics.get('RecalcStyleDuration', 0.0):.2f}; {metrics.get('Nodes', 0):.0f} DOM nodes)",
              file=sys.stderr)
    load_avg = os.getloadavg()[0]
    print(f"| {report.evidence_total:,} | {len(report.shown_evidence):,} | {size_mb:.1f} MB | "
          f"{built - started:.1f} + {read - built:.1f} + {done - read:.1f} s | {cpu:.1f} s | {peak_mb:.0f} MB | "
          f"{statistics.median(loads):.2f} s | {statistics.median(busy):.2f} s | {load_avg:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
