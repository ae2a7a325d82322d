"""CPU seconds of the in-process pipeline by stage, startup excluded.

    python benchmarks/stages.py <log folder>

Three passes over the folder: read only; read + profiler; read + profiler +
driver (learners and every registered detection, no sink). The differences
are what each stage costs per line.
"""

from __future__ import annotations

import sys
import time

from flowalerts.core.config import load_config
from flowalerts.engine.detection import config_sections
from flowalerts.engine.driver import ModuleDriver
from flowalerts.engine.profiler import Profiler
from flowalerts.hosts.standalone import Pipeline
from flowalerts.io.input.folder import FolderReader


def main(path: str) -> int:
    config, _ = load_config(None, sections=config_sections())
    started = time.process_time()
    lines = sum(1 for _ in FolderReader(path))
    read = time.process_time() - started

    profiler = Profiler.from_config(config)
    started = time.process_time()
    for record in FolderReader(path):
        profiler.assign(record)
    profiler.finish()
    profiled = time.process_time() - started

    pipeline = Pipeline(config, ModuleDriver(config), None, warn=lambda kind, text: None)
    started = time.process_time()
    for record in FolderReader(path):
        pipeline.feed(record)
    pipeline.finish()
    full = time.process_time() - started
    print(
        f"{lines} lines: read {read:.2f}s ({read / lines * 1e6:.1f} us/line), "
        f"profiler +{profiled - read:.2f}s ({(profiled - read) / lines * 1e6:.1f} us/line), "
        f"driver +{full - profiled:.2f}s ({(full - profiled) / lines * 1e6:.1f} us/line), "
        f"total {full:.2f}s = {lines / full:,.0f} lines/CPU-s; evidence (with updates) {len(pipeline.evidence)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
