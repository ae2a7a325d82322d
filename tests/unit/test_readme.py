"""What the README tells a user to type, and what it says the detections are,
hold for the code as it is.

* every ``flowalerts ...`` command line of the README's shell blocks is
  accepted by the command's parser (its subcommand and options exist and fit
  together; ``[...]`` is read as optional parts, ``N``/``P`` as numbers);
* the README's detection table is the one the declarations generate
  (``flowalerts config --detections``).

The "Adding a detection" recipe is followed in ``tests/integration/test_readme_recipe.py``.
"""

from __future__ import annotations

import re
import shlex

import pytest

from flowalerts.catalog import load_components
from flowalerts.cli.config import detection_table
from flowalerts.cli.main import build_parser
from tests.recipe_support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def shell_commands() -> list[str]:
    """Every ``flowalerts`` command line in the README's sh code blocks (comments cut)."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", README, re.M | re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("flowalerts ") or line == "flowalerts":
                commands.append(line)
    return commands


def concrete(command: str) -> list[str]:
    """The command's arguments with its optional parts taken and placeholders filled."""
    text = re.sub(r"\[([^\]]*)\]", r"\1", command)  # [-o out/] -> -o out/
    words = shlex.split(text)[1:]
    return ["2" if word in ("N", "P") else word for word in words]


def test_the_readme_shows_commands() -> None:
    assert len(shell_commands()) >= 10


@pytest.mark.parametrize("command", shell_commands())
def test_readme_command_is_accepted(command: str) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(concrete(command))
    except SystemExit as exc:
        # --version prints and exits 0; anything else is a rejected command line.
        assert exc.code == 0 and "--version" in command, f"the parser rejects: {command}"
        return
    assert getattr(args, "handler", None) is not None, f"no subcommand runs for: {command}"


def test_detection_table_is_the_declarations() -> None:
    table = detection_table(load_components()[0])
    assert table in README, "README's detection table differs from `flowalerts config --detections`"
