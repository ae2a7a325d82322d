#!/usr/bin/env python3
"""Break every detection in turn and check that a test notices (issue 14).

For each registered detection and each mutation - ``raise`` (its handlers
raise) and ``silent`` (it reports nothing) - run its own test file plus the
golden dataset tests with ``FLOWALERTS_MUTATE=<id>:<mode>`` (applied by
tests/conftest.py). The tests must FAIL; a mutation they do not notice
"survives", and this script exits 1 listing the survivors. A detection
without its test file (the source path mirrored under tests/unit/:
flowalerts/detections/<log>/<file>.py -> tests/unit/detections/<log>/test_<file>.py)
is a failure too.

    python scripts/check_mutations.py [--jobs 2] [detection ids...]

Run by .ci/run after the test suite.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
GOLDEN_TESTS = "tests/integration/test_golden.py"


def detection_tests() -> dict[str, pathlib.Path | None]:
    from flowalerts.catalog import load_components

    detections, _ = load_components()
    found: dict[str, pathlib.Path | None] = {}
    for ident, cls in detections.items():
        *package, stem = cls.__module__.split(".")[1:]  # flowalerts.<package...>.<file>
        test = REPO.joinpath("tests", "unit", *package, f"test_{stem}.py")
        found[ident] = test if test.exists() else None
    return found


def survives(ident: str, mode: str, test: pathlib.Path) -> tuple[bool, float]:
    env = {**os.environ, "FLOWALERTS_MUTATE": f"{ident}:{mode}", "CI": os.environ.get("CI", "")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(test.relative_to(REPO)), GOLDEN_TESTS],
        cwd=REPO, env=env, capture_output=True, text=True,
    )
    return result.returncode == 0, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", help="only these detections")
    parser.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    args = parser.parse_args(argv)
    tests = detection_tests()
    if args.ids:
        tests = {ident: tests[ident] for ident in args.ids}
    problems = [f"{ident}: no test file" for ident, test in sorted(tests.items()) if test is None]
    jobs = [(ident, mode, test) for ident, test in sorted(tests.items()) if test for mode in ("raise", "silent")]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(survives, *job): job for job in jobs}
        for future in concurrent.futures.as_completed(futures):
            ident, mode, _ = futures[future]
            alive, seconds = future.result()
            print(f"{'SURVIVED' if alive else 'caught  '} {ident}:{mode} ({seconds:.1f}s)", flush=True)
            if alive:
                problems.append(f"{ident}:{mode}: no test failed when the detection was broken this way")
    print(f"{len(jobs)} mutations of {len(tests)} detections in {time.monotonic() - started:.0f}s")
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
