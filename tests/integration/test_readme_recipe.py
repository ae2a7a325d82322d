"""The README's "Adding a detection" recipe, followed verbatim in a scratch copy
of the repository: its two files, and nothing else, make a detection that the
registry finds, the config and the README table list, and that passes the tests
an added detection can break. (``scripts/check_recipe.py``, run by CI, runs the
whole suite on the same copy.)"""

from __future__ import annotations

import pathlib

import pytest

from tests.recipe_support import recipe_files, run_in_scratch, scratch_tree

pytestmark = pytest.mark.integration

# The tests that look at every detection: config sections, Slips types, the
# README's table, the layers, the golden datasets.
AFFECTED = (
    "tests/unit/core/test_config.py",
    "tests/unit/hosts/slips/test_slips_encode.py",
    "tests/unit/test_layers.py",
    "tests/unit/test_readme.py",
    "tests/integration/test_golden.py",
)


def test_the_recipe_is_one_detection_file_and_its_mirrored_test_file() -> None:
    files = list(recipe_files())
    assert len(files) == 2
    source, test = (pathlib.PurePosixPath(name) for name in files)
    assert source.parts[:3] == ("slips_files", "flowalerts", "detections")
    assert test == pathlib.PurePosixPath("tests", "unit", *source.parts[2:-1], f"test_{source.name}")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, str]]:
    dest = tmp_path_factory.mktemp("recipe")
    return dest, scratch_tree(dest)


def test_the_recipe_passes_its_own_tests_and_those_it_can_break(scratch) -> None:
    dest, files = scratch
    result = run_in_scratch(dest, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files.keys(), *AFFECTED,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_recipe_is_ruff_clean(scratch) -> None:
    dest, files = scratch
    result = run_in_scratch(dest, "-m", "ruff", "check", *files.keys())
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_recipe_detection_is_found_by_declaration(scratch) -> None:
    dest, files = scratch
    source = pathlib.PurePosixPath(next(iter(files)))
    ident = source.stem
    listed = run_in_scratch(dest, "-m", "flowalerts", "config", "--detections")
    assert listed.returncode == 0, listed.stderr
    assert f"| {ident} |" in listed.stdout
    config = run_in_scratch(dest, "-m", "flowalerts", "config")
    assert config.returncode == 0, config.stderr
    assert f"  {ident}:" in config.stdout
