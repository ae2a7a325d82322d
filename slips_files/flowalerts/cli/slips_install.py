"""``flowalerts slips-install PATH_TO_SLIPS``: enable Flowalerts in a Slips tree.

It puts our module folder (``modules/flow_alerts`` of this package) in place
of Slips's ``modules/flow_alerts`` and keeps Slips's own folder in
``PATH_TO_SLIPS/.flowalerts-backup/flow_alerts``: outside Slips's
``modules/``, so Slips never loads it. Nothing else in the tree is touched.
``--uninstall`` puts Slips's folder back and removes the backup.

The ``flowalerts`` package must also be installed in the Python that runs
Slips (``pip install flowalerts`` with Slips's pip): the module folder imports
it. The command says so, with the exact command when it can tell.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys

from flowalerts import __version__
from flowalerts.core.config import Config
from flowalerts.core.evidence import escape_text
from flowalerts.data import DATA_DIR
from flowalerts.io.summary import EXIT_USAGE

BACKUP_DIR = ".flowalerts-backup"
MARKER = ".flowalerts-installed"


class InstallError(Exception):
    """Why the tree was left as it was (one line for the user)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "slips-install",
        help="put the Flowalerts module in place of Slips's flow_alerts (--uninstall restores it)",
        description=(
            "Replace modules/flow_alerts of a Slips checkout with the Flowalerts module (Slips's folder is "
            f"kept in PATH/{BACKUP_DIR}/, outside modules/). Touches nothing else."
        ),
    )
    parser.add_argument("slips_path", metavar="PATH_TO_SLIPS", help="the Slips folder (the one holding slips.py)")
    parser.add_argument("--uninstall", action="store_true", help="put Slips's own flow_alerts back")
    parser.set_defaults(handler=main, config_free=True)


def module_source() -> pathlib.Path:
    """The module folder Slips loads, as shipped in this package: ``flow_alerts.py``
    (the repository's ``modules/flow_alerts/flow_alerts.py``); the installed
    folder gets an empty ``__init__.py`` too, so Slips walks into it."""
    return DATA_DIR / "slips_module"


def check_slips_tree(root: pathlib.Path) -> None:
    if not (root / "slips.py").is_file() or not (root / "modules").is_dir():
        raise InstallError(f"{root} is not a Slips folder (no slips.py and modules/ there)")
    if not (root / "slips_files" / "common" / "abstracts" / "imodule.py").is_file():
        raise InstallError(f"{root} has no slips_files/common/abstracts/imodule.py: not a Slips 1.1 tree")


def _is_ours(folder: pathlib.Path) -> bool:
    return (folder / MARKER).is_file()


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".pyo"))}


def install(root: pathlib.Path, source: pathlib.Path | None = None) -> list[str]:
    """Install; returns the lines to print."""
    check_slips_tree(root)
    source = source or module_source()
    target = root / "modules" / "flow_alerts"
    backup_root = root / BACKUP_DIR
    backup = backup_root / "flow_alerts"
    if target.exists() and not target.is_dir():
        raise InstallError(f"{target} is not a folder")
    replacing_ours = target.is_dir() and _is_ours(target)
    if target.is_dir() and not replacing_ours and backup.exists():
        raise InstallError(
            f"{backup} already holds a saved flow_alerts and {target} is not ours: "
            "move one of them away first (nothing was changed)"
        )
    backup_root.mkdir(exist_ok=True)
    incoming = backup_root / "incoming"
    if incoming.exists():
        shutil.rmtree(incoming)
    shutil.copytree(source, incoming, ignore=_ignore)
    (incoming / "__init__.py").touch()
    (incoming / MARKER).write_text(f"Flowalerts {__version__}\nsource: {source}\n", encoding="utf-8")
    lines = []
    if replacing_ours:
        shutil.rmtree(target)
        lines.append(f"replaced the Flowalerts module already installed in {target}")
    elif target.is_dir():
        os.replace(target, backup)
        lines.append(f"Slips's own flow_alerts saved in {backup} (outside modules/: Slips does not load it)")
    os.replace(incoming, target)
    lines.append(f"installed Flowalerts {__version__} as Slips's flow_alerts module: {target}")
    lines.append(
        "the flowalerts package must be importable by the Python that runs Slips: "
        f"{_slips_pip(root)} install flowalerts (or -e with a checkout of it)"
    )
    lines.append(f"undo: flowalerts slips-install --uninstall {root}")
    return lines


def uninstall(root: pathlib.Path) -> list[str]:
    check_slips_tree(root)
    target = root / "modules" / "flow_alerts"
    backup_root = root / BACKUP_DIR
    backup = backup_root / "flow_alerts"
    if target.is_dir() and not _is_ours(target):
        raise InstallError(f"{target} is not the Flowalerts module (no {MARKER}): nothing was changed")
    if not backup.is_dir():
        raise InstallError(f"no saved flow_alerts in {backup}: nothing to restore (nothing was changed)")
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(backup, target)
    shutil.rmtree(backup_root, ignore_errors=True)
    return [f"restored Slips's own flow_alerts in {target} and removed {backup_root}"]


def _slips_pip(root: pathlib.Path) -> str:
    for venv in ("venv", ".venv", "slips-venv"):
        pip = root / venv / "bin" / "pip"
        if pip.exists():
            return str(pip)
    return "<Slips's python> -m pip"


def main(args: argparse.Namespace, config: Config) -> int:
    root = pathlib.Path(args.slips_path).expanduser().resolve()
    try:
        lines = uninstall(root) if args.uninstall else install(root)
    except (InstallError, OSError) as exc:
        print(f"flowalerts: error: {escape_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    for line in lines:
        print(escape_text(line))
    return 0
