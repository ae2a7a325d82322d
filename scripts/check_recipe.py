#!/usr/bin/env python3
"""Follow the README's "Adding a detection" recipe verbatim in a scratch copy
of the repository, then run the whole test suite there (without the real-Slips
runs, which CI runs once on the tree itself). A recipe that breaks any test
fails this check. Run by .ci/run.

    python scripts/check_recipe.py [--keep] [pytest arguments...]
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.recipe_support import run_in_scratch, scratch_tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    args, pytest_args = parser.parse_known_args(argv)
    dest = pathlib.Path(tempfile.mkdtemp(prefix="flowalerts-recipe-"))
    started = time.monotonic()
    try:
        files = scratch_tree(dest)
        print(f"recipe: {', '.join(files)} written into a copy of the repository ({dest})", flush=True)
        lint = run_in_scratch(dest, "-m", "ruff", "check", *files)
        if lint.returncode:
            print(lint.stdout + lint.stderr)
            print("FAIL the recipe's files are not ruff-clean")
            return 1
        # test_readme_recipe adds the recipe to a repository that lacks it; the
        # copy already holds it (and is no git checkout): everything else runs.
        tests = run_in_scratch(dest, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slips",
                               "--ignore=tests/integration/test_readme_recipe.py", *pytest_args)
        print(tests.stdout[-4000:] + tests.stderr[-2000:])
        if tests.returncode:
            print(f"FAIL the suite fails with the recipe's detection added (exit {tests.returncode})")
            return 1
        print(f"ok: the whole suite passes with the recipe's detection added ({time.monotonic() - started:.0f} s)")
        return 0
    finally:
        if args.keep:
            print(f"kept {dest}")
        else:
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
