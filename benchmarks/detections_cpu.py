"""CPU cost of detections, in process (no reader, no sink), measured in process time
so that other load on the machine matters less than wall time would.

    python benchmarks/detections_cpu.py pipeline /tmp/bench-100k none|lead|all|<id,id...> [reps]
    python benchmarks/detections_cpu.py handle /tmp/bench-100k <id,id...>

``pipeline``: profiler + driver + every learner + the chosen detections over
every record of the folder (best of ``reps``). ``handle``: each detection's
``handle`` alone over the folder's first 50,000 conn records, caches warm.
"""

from __future__ import annotations

import sys
import time

from flowalerts.catalog import config_sections, load_components
from flowalerts.core.config import parse_config
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.driver import ModuleDriver
from flowalerts.hosts.standalone import Pipeline
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import NullLookups


def main() -> None:
    mode, folder, which = sys.argv[1], sys.argv[2], sys.argv[3]
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    config, _ = parse_config({}, sections=config_sections())
    knowledge = Knowledge.load(config, notify=lambda text: None)
    detections, learners = load_components()
    records = list(FolderReader(folder, InputWarnings(emit=lambda text: None)))
    if mode == "pipeline":
        if which == "none":
            chosen = []
        elif which == "lead":
            chosen = [detections["long_connection"], detections["reconnection_attempts"]]
        elif which == "all":
            chosen = list(detections.values())
        else:
            chosen = [detections[name] for name in which.split(",")]
        best = None
        for _ in range(reps):
            driver = ModuleDriver(config, knowledge, NullLookups(), detections=chosen, learners=list(learners.values()))
            pipeline = Pipeline(config, driver, sink=None, warn=lambda kind, text: None)
            started = time.process_time()
            for record in records:
                pipeline.feed(record)
            pipeline.finish()
            spent = time.process_time() - started
            best = spent if best is None else min(best, spent)
        print(f"{which}: {len(records)} records, {best:.2f} s CPU, {len(records) / best:,.0f} records/s, "
              f"evidence {len(pipeline.evidence)}")
        return
    conns = [record for record in records if isinstance(record, ConnRecord)][:50000]
    messages = [Message(profile=record.saddr, twid=1, flow=record) for record in conns]
    for name in which.split(","):
        spent = 0.0
        for _ in range(2):  # the first pass warms the caches
            driver = ModuleDriver(config, knowledge, NullLookups(), detections=[detections[name]], learners=[])
            detection = driver.detections[0]
            driver.advance(conns[0].starttime - 10)
            started = time.process_time()
            for message in messages:
                detection.handle(message)
            spent = time.process_time() - started
        print(f"{name:24s} {spent / len(messages) * 1e6:6.2f} us per conn record (handle only)")


if __name__ == "__main__":
    main()
