#!/usr/bin/env python3
"""Rewrite the README's detection table from the detections' declarations
(the same table as ``flowalerts config --detections``); ``--check`` only
says whether it is current (tests/unit/test_readme.py checks it too).

    python scripts/readme_table.py [--check]
"""

from __future__ import annotations

import argparse
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
HEADER = "| Detection (id) |"


def current_table() -> str:
    from flowalerts.catalog import load_components
    from flowalerts.cli.config import detection_table

    return detection_table(load_components()[0])


def with_table(readme: str, table: str) -> str:
    """``readme`` with its detection table (from its header row to the first blank line) replaced."""
    start = readme.index(HEADER)
    end = readme.index("\n\n", start)
    return readme[:start] + table.rstrip("\n") + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's table is not current")
    args = parser.parse_args(argv)
    path = REPO / "README.md"
    readme = path.read_text(encoding="utf-8")
    updated = with_table(readme, current_table())
    if updated == readme:
        print("README.md: the detection table is current")
        return 0
    if args.check:
        print("README.md: the detection table differs from the declarations (run scripts/readme_table.py)")
        return 1
    path.write_text(updated, encoding="utf-8")
    print("README.md: detection table rewritten from the declarations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
