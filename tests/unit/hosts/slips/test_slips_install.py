"""``flowalerts slips-install``: our module folder in place of Slips's, a backup
outside modules/, nothing else touched, and --uninstall restores exactly."""

from __future__ import annotations

import hashlib
import pathlib

import pytest

from flowalerts.cli.main import main
from flowalerts.cli.slips_install import BACKUP_DIR, MARKER, module_source


def fake_slips(root: pathlib.Path) -> pathlib.Path:
    files = {
        "slips.py": "# Slips\n",
        "slips_files/common/abstracts/imodule.py": "class IModule: ...\n",
        "modules/__init__.py": "",
        "modules/flow_alerts/__init__.py": "",
        "modules/flow_alerts/flow_alerts.py": "# Slips's own flow_alerts\n",
        "modules/flow_alerts/conn.py": "# Slips's conn analyzer\n",
        "modules/arp/arp.py": "# another module\n",
        "config/slips.yaml": "modules:\n  disable: []\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def tree(root: pathlib.Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def ours(root: pathlib.Path) -> dict[str, str]:
    """The shipped module files, plus the empty __init__.py that makes Slips walk into the folder."""
    source = module_source()
    files = {
        f"modules/flow_alerts/{p.relative_to(source)}": hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(source.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }
    assert "modules/flow_alerts/flow_alerts.py" in files
    return {**files, "modules/flow_alerts/__init__.py": hashlib.sha256(b"").hexdigest()}


def test_install_replaces_only_modules_flow_alerts_and_uninstall_restores(tmp_path, capsys):
    root = fake_slips(tmp_path / "slips")
    before = tree(root)
    assert main(["slips-install", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"undo: flowalerts slips-install --uninstall {root}" in out
    assert "pip" in out and "install flowalerts" in out
    after = tree(root)
    outside = {k: v for k, v in before.items() if not k.startswith("modules/flow_alerts/")}
    # Everything else is untouched; Slips's folder is saved outside modules/.
    assert {k: v for k, v in after.items() if k in outside} == outside
    saved = {k.replace(f"{BACKUP_DIR}/", "modules/"): v for k, v in after.items() if k.startswith(BACKUP_DIR)}
    assert saved == {k: v for k, v in before.items() if k.startswith("modules/flow_alerts/")}
    installed = {k: v for k, v in after.items() if k.startswith("modules/flow_alerts/")}
    assert installed.pop(f"modules/flow_alerts/{MARKER}")
    assert installed == ours(root)
    backup = {k.replace("modules/", f"{BACKUP_DIR}/", 1) for k in before if k.startswith("modules/flow_alerts/")}
    assert set(after) == set(outside) | backup | set(installed) | {f"modules/flow_alerts/{MARKER}"}
    # Installing again replaces ours and keeps Slips's backup.
    assert main(["slips-install", str(root)]) == 0
    assert tree(root) == after
    assert main(["slips-install", "--uninstall", str(root)]) == 0
    assert tree(root) == before
    assert not (root / BACKUP_DIR).exists()


def test_refuses_what_is_not_a_slips_tree(tmp_path, capsys):
    (tmp_path / "modules").mkdir()
    assert main(["slips-install", str(tmp_path)]) == 2
    assert "not a Slips folder" in capsys.readouterr().err
    assert main(["slips-install", str(tmp_path / "missing")]) == 2


def test_uninstall_without_a_backup_or_over_foreign_code_changes_nothing(tmp_path, capsys):
    root = fake_slips(tmp_path / "slips")
    before = tree(root)
    assert main(["slips-install", "--uninstall", str(root)]) == 2
    assert "not the Flowalerts module" in capsys.readouterr().err
    assert tree(root) == before


def test_a_backup_and_a_foreign_flow_alerts_is_a_conflict(tmp_path, capsys):
    root = fake_slips(tmp_path / "slips")
    (root / BACKUP_DIR / "flow_alerts").mkdir(parents=True)
    before = tree(root)
    assert main(["slips-install", str(root)]) == 2
    assert "already holds" in capsys.readouterr().err
    assert tree(root) == before


@pytest.mark.parametrize("with_venv", [True, False])
def test_names_the_pip_of_slips(tmp_path, capsys, with_venv):
    root = fake_slips(tmp_path / "slips")
    if with_venv:
        (root / "venv" / "bin").mkdir(parents=True)
        (root / "venv" / "bin" / "pip").write_text("")
    assert main(["slips-install", str(root)]) == 0
    out = capsys.readouterr().out
    assert (str(root / "venv" / "bin" / "pip") in out) is with_venv


def test_runs_from_a_folder_whose_slips_yaml_is_not_ours(tmp_path, capsys, monkeypatch):
    root = fake_slips(tmp_path / "slips")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "slips.yaml").write_text("redis:\n  no_such_key: 1\n")
    monkeypatch.chdir(elsewhere)
    assert main(["slips-install", str(root)]) == 0
    assert main(["slips-install", "--uninstall", str(root)]) == 0
    assert "restored Slips's own flow_alerts" in capsys.readouterr().out
