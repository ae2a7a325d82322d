"""Regenerate docs/report.png, the README's picture of a report.

    python scripts/report_screenshot.py            # ctu-normal44-day2 -> docs/report.png

Runs ``flowalerts run --report`` on ``../shared/datasets/real/ctu-normal44-day2``
(offline) and takes the screenshot with the same code as the browser tests
(``tests.integration.browser_support.report_screenshot``: headless Chromium,
1280 x 1100, the first screen of the page). Needs chromium and playwright
(the ``test`` extra).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flowalerts.cli.main import main as flowalerts_main  # noqa: E402
from tests.conftest import SHARED  # noqa: E402
from tests.integration.browser_support import missing_browser, report_screenshot  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=str(SHARED / "datasets" / "real" / "ctu-normal44-day2"))
    parser.add_argument("--png", default=str(REPO / "docs" / "report.png"))
    args = parser.parse_args(argv)
    problem = missing_browser()
    if problem:
        print(f"report_screenshot: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="flowalerts-screenshot-") as scratch:
        out = pathlib.Path(scratch) / "out"
        status = flowalerts_main(["run", "-f", str(args.dataset), "-o", str(out), "--offline", "-q", "--report"])
        if status != 0:
            print(f"report_screenshot: flowalerts run exited {status}", file=sys.stderr)
            return 1
        events = report_screenshot(out / "report.html", pathlib.Path(args.png))
    if events.console_errors or events.requests:
        print(f"report_screenshot: the page logged {events.console_errors} / requested {events.requests}", file=sys.stderr)
        return 1
    print(f"wrote {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
