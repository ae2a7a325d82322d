"""CPU cost of detections on a Zeek folder, in process (no outputs written).

    python benchmarks/detection_cost.py DIR                       # all detections
    python benchmarks/detection_cost.py DIR --without dga,arpa_scan
    python benchmarks/detection_cost.py DIR --only dns_without_connection
    python benchmarks/detection_cost.py DIR --only -                # learners only

Reads every record first, then runs profiler + driver (all learners, the chosen
detections) three times and prints the best CPU time (process time, so other
load on the machine matters less), records per CPU second, the evidence
lines and the peak number of pending flow-time timers. The difference between
two runs (with and without some detections) is what those detections cost.
"""

from __future__ import annotations

import argparse
import time

from flowalerts.catalog import config_sections, load_components
from flowalerts.core.clock import ClockPolicy
from flowalerts.core.config import load_config
from flowalerts.core.messages import Message, TwClosed
from flowalerts.engine.driver import ModuleDriver
from flowalerts.engine.profiler import Profiler
from flowalerts.io.input.folder import FolderReader


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--without", default="", help="detection ids to leave out (comma separated)")
    parser.add_argument("--only", default="", help="run only these detection ids (comma separated; - for none)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config, _ = load_config(None, sections=config_sections())
    detections, learners = load_components()
    chosen = [] if args.only == "-" else [i for i in args.only.split(",") if i] or list(detections)
    chosen = [i for i in chosen if i not in set(args.without.split(","))]
    records = list(FolderReader(args.folder))
    best = None
    for _ in range(args.repeat):
        driver = ModuleDriver(config, detections=[detections[i] for i in chosen], learners=list(learners.values()))
        t = config.time
        profiler = Profiler(config.parameters.width,
                            ClockPolicy(t.allowed_lateness, t.clock_jump_threshold, t.clock_jump_confirmations),
                            t.t0_lookahead)
        lines = peak = 0
        start = time.process_time()
        for record in records:
            for item in profiler.assign(record):
                if isinstance(item, Message):
                    lines += len(driver.handle(item))
                elif isinstance(item, TwClosed):
                    lines += len(driver.window_closed(item.profile, item.twid))
                else:
                    lines += len(driver.advance(item.watermark))
                    peak = max(peak, len(driver.state.timers))
        for item in profiler.finish():
            if isinstance(item, TwClosed):
                lines += len(driver.window_closed(item.profile, item.twid))
            elif not isinstance(item, Message):
                lines += len(driver.advance(item.watermark))
        lines += len(driver.finish())
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    print(f"{len(records)} records, {len(chosen)} detections: best of {args.repeat} {best:.2f} CPU s "
          f"({len(records) / best:,.0f} records per CPU s), {lines} evidence lines, peak timers {peak}")


if __name__ == "__main__":
    main()
