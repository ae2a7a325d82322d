"""What the detector state holds at the end of a run (see BENCHMARKS.md, Memory).

    python benchmarks/state_sizes.py <log folder>

Runs ``flowalerts run`` in-process and, just before the sink closes, prints
``State.size()`` (entries per window/table) and the most common object types.
"""

from __future__ import annotations

import collections
import gc
import sys

from flowalerts.cli.main import main as flowalerts_main
from flowalerts.core.state import State
from flowalerts.hosts import standalone as runner


def main(argv: list[str]) -> int:
    original_close = runner.EvidenceSink.close

    def close(sink: runner.EvidenceSink) -> None:
        for obj in gc.get_objects():
            if isinstance(obj, State):
                print("state sizes:", obj.size(), "open windows:", len(obj.open_windows()), file=sys.stderr)
        counts = collections.Counter(type(obj).__name__ for obj in gc.get_objects())
        print("top gc types:", counts.most_common(12), file=sys.stderr)
        original_close(sink)

    runner.EvidenceSink.close = close
    return flowalerts_main(["run", "-f", argv[0], "-o", "/tmp/flowalerts-state-sizes", "--offline", "-q"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
