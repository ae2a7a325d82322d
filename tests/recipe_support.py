"""The README's "Adding a detection" recipe, followed verbatim in a scratch
copy of the repository.

The recipe's files are the README's ``python`` code blocks of that section,
each preceded by its path in backquotes and a colon. ``scratch_tree`` copies
the repository (the files git tracks, links kept as links) and writes the
recipe's files into the copy; ``run_in_scratch`` runs a command there with the
copy's package first on the import path, so the copy's tests test the copy.

Used by ``tests/integration/test_readme_recipe.py`` (the recipe's own tests
and the tests an added detection can break) and by ``scripts/check_recipe.py``
(the whole suite on the copy, run by CI).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
SECTION = "## Adding a detection"
_FILE_BLOCK = re.compile(r"^`(?P<path>[\w./-]+\.py)`:\n\n```python\n(?P<code>.*?)^```", re.M | re.S)
_SH_BLOCK = re.compile(r"^```sh\n(?P<lines>.*?)^```", re.M | re.S)


def recipe_section(readme: str | None = None) -> str:
    text = readme if readme is not None else (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def recipe_files(readme: str | None = None) -> dict[str, str]:
    """The recipe's files by path, in the order the README gives them."""
    return {match["path"]: match["code"] for match in _FILE_BLOCK.finditer(recipe_section(readme))}


def recipe_scripts(readme: str | None = None) -> list[list[str]]:
    """The recipe's ``python scripts/...`` steps (its ``pytest`` lines are what the checks run)."""
    steps = []
    for block in _SH_BLOCK.finditer(recipe_section(readme)):
        for line in block["lines"].splitlines():
            words = line.split(" #", 1)[0].split()
            if words[:1] == ["python"] and len(words) > 1 and words[1].startswith("scripts/"):
                steps.append(words[1:])
    return steps


def tracked_files() -> list[str]:
    result = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in result.stdout.decode("utf-8", "surrogateescape").split("\0") if name]


def scratch_tree(dest: pathlib.Path) -> dict[str, str]:
    """Copy the repository into ``dest``, add the recipe's files and run its
    ``python scripts/...`` steps there; returns the files."""
    for name in tracked_files():
        source = REPO / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    files = recipe_files()
    for name, code in files.items():
        target = dest / name
        if target.exists():
            raise FileExistsError(f"the recipe's {name} already exists in the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
    for step in recipe_scripts():
        result = run_in_scratch(dest, *step)
        if result.returncode:
            raise RuntimeError(f"the recipe's step python {' '.join(step)} failed: {result.stdout}{result.stderr}")
    return files


def scratch_env(dest: pathlib.Path) -> dict[str, str]:
    """The environment of a command run in the copy: its package first, the shared folder of this checkout."""
    shared = os.environ.get("FLOWALERTS_SHARED") or str(REPO.parent / "shared")
    path = os.pathsep.join(filter(None, [str(dest / "slips_files"), str(dest), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONPATH": path, "FLOWALERTS_SHARED": shared}


def run_in_scratch(dest: pathlib.Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """``python args...`` in the copy (e.g. ``-m pytest ...``), output captured."""
    return subprocess.run(
        [sys.executable, *args], cwd=dest, env=scratch_env(dest), capture_output=True, text=True, timeout=timeout
    )
