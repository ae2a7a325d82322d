"""A/B of the worker's state write-behind (see BENCHMARKS.md): same code, same
data, in CPU seconds of this process.

    python benchmarks/ab_state_flush.py <log folder> new|old

``old`` restores the previous behaviour: the state mirror written after every
bus message, into the in-process fakeredis too.
"""

from __future__ import annotations

import contextlib
import io
import resource
import sys
import time

from flowalerts import worker
from flowalerts.cli import main as flowalerts_main


def main(argv: list[str]) -> int:
    folder, mode = argv
    if mode == "old":
        worker.FLUSH_EVERY_RECORDS = 1
        worker._in_process = lambda client: False
    started = time.process_time()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        flowalerts_main(["run", "-f", folder, "-o", f"/tmp/flowalerts-ab-{mode}", "--offline", "-q"])
    cpu = time.process_time() - started
    summary = [line for line in output.getvalue().splitlines() if line.startswith(("records:", "evidence:"))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(mode, f"cpu={cpu:.1f}s", *summary, f"maxrss={peak:.0f}MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
