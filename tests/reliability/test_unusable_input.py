"""Unusable input is said, and said by the exit status (issue 16, issue 14
"failures are loud"): nothing readable -> exit 4 and one line; a log that is
unreadable or absent -> the detections that need it are not run, with one
note naming the log (shown even with -q), instead of running as if the log
were empty."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from flowalerts.catalog import load_components
from flowalerts.io.input.folder import FolderReader, InputUnusable
from flowalerts.io.input.warnings import InputWarnings
from tests.reliability.support import T0, conn_json, dns_json, run_cli


def needing(log_type: str) -> list[str]:
    """The detections of this build that need ``log_type`` (more join them as they are ported)."""
    detections, _ = load_components()
    return sorted(ident for ident, cls in detections.items() if log_type in cls.required_logs())


def skipped_note(log_type: str, why: str) -> str:
    idents = needing(log_type)
    return (f"note: the input has no {log_type}.log ({why}): {len(idents)} detection(s) that need it not run: "
            f"{', '.join(idents)}")


def notes_about(err: str, log_type: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note:") and f"{log_type}.log" in line]


def make_unreadable(path: pathlib.Path, how: str) -> None:
    if how == "symlink loop":
        path.unlink(missing_ok=True)
        os.symlink(path.name, path)
    elif how == "dangling symlink":
        path.unlink(missing_ok=True)
        os.symlink(path.name + ".gone", path)
    else:  # pragma: no cover - how is one of the above
        raise ValueError(how)


UNREADABLE = ["symlink loop", "dangling symlink"]
WHY = {"symlink loop": "too many levels of symbolic links", "dangling symlink": "no such file or directory"}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("flowalerts: error:")]


@pytest.mark.parametrize("how", UNREADABLE)
def test_the_only_input_file_unreadable_is_exit_4_in_one_line(tmp_path, capsys, how):
    path = tmp_path / "conn.log"
    make_unreadable(path, how)
    assert run_cli("-f", str(path), "-o", str(tmp_path / "out"), "--offline", "-q") == 4
    captured = capsys.readouterr()
    assert captured.err == f"flowalerts: error: input unusable: cannot read {path}: {WHY[how]}\n"
    assert captured.out == ""


@pytest.mark.parametrize("how", UNREADABLE)
def test_a_folder_whose_only_log_is_unreadable_is_exit_4(tmp_path, capsys, how):
    folder = tmp_path / "in"
    folder.mkdir()
    make_unreadable(folder / "conn.log", how)
    assert run_cli("-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q") == 4
    err = capsys.readouterr().err
    assert error_lines(err) == [
        f"flowalerts: error: input unusable: no readable Zeek log in {folder} ({folder}/conn.log: {WHY[how]})"
    ]


def test_permission_denied_as_an_unprivileged_user():
    """chmod 000 only stops a non-root user: run the CLI as one (nobody, with setpriv) when we are root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot test permission denied")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        # The same interpreter with the same packages: a venv whose base Python
        # lives under /root resolves, as nobody, to another Python (seen: the
        # system's 3.11.2 beside the venv's packages for 3.11.7).
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import sys, flowalerts, redis; print(sys.version)"],
            capture_output=True, text=True, cwd="/", timeout=60,
        )
        if probe.returncode != 0 or probe.stdout.strip() != sys.version:
            pytest.skip(f"this Python cannot run as nobody here: {(probe.stderr or probe.stdout).strip()[:200]}")
    top = tempfile.mkdtemp(prefix="flowalerts-perm-")
    try:
        os.chmod(top, 0o777)
        folder = pathlib.Path(top) / "in"
        folder.mkdir()
        os.chmod(folder, 0o755)
        (folder / "conn.log").write_bytes(conn_json() + b"\n")
        (folder / "dns.log").write_bytes(dns_json() + b"\n")
        os.chmod(folder / "conn.log", 0o000)
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "flowalerts", "run", "-f", str(folder), "-o", f"{top}/out", "--offline", "-q"],
            capture_output=True, text=True, timeout=120, cwd=top,
        )
        assert proc.returncode == 1, proc.stderr
        assert notes_about(proc.stderr, "conn") == [
            f"note: cannot read {folder}/conn.log: permission denied; it is left out of this run",
            skipped_note("conn", "unreadable: permission denied"),
        ], proc.stderr
        os.chmod(folder / "dns.log", 0o000)
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "flowalerts", "run", "-f", str(folder / "dns.log"), "-o", f"{top}/out2"],
            capture_output=True, text=True, timeout=120, cwd=top,
        )
        assert proc.returncode == 4
        assert proc.stderr == f"flowalerts: error: input unusable: cannot read {folder}/dns.log: permission denied\n"
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("how", UNREADABLE)
def test_unreadable_conn_log_beside_dns_log(tmp_path, capsys, how):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "dns.log").write_bytes(b"".join(dns_json(f"D{i}", T0 + i, f"q{i}.example.com") + b"\n" for i in range(20)))
    (folder / "conn.log").write_bytes(conn_json() + b"\n")
    make_unreadable(folder / "conn.log", how)
    # -q hides the progress bar only: the notes are still shown.
    assert run_cli("-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q") == 1
    captured = capsys.readouterr()
    assert notes_about(captured.err, "conn") == [
        f"note: cannot read {folder}/conn.log: {WHY[how]}; it is left out of this run",
        skipped_note("conn", f"unreadable: {WHY[how]}"),
    ]
    assert error_lines(captured.err) == ["flowalerts: error: input not fully read (1 problem(s), see the summary)"]
    assert f"  {folder}/conn.log: not read ({WHY[how]})" in captured.out
    assert f"{'dns':<12} {20:>10} {20:>10} {0:>8}" in captured.out
    assert "status: incomplete (exit 1)" in captured.out


def test_absent_conn_log_skips_what_needs_it_with_one_note(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "dns.log").write_bytes(dns_json() + b"\n")
    assert run_cli("-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q") == 0
    captured = capsys.readouterr()
    assert notes_about(captured.err, "conn") == [skipped_note("conn", "absent")]
    assert "long_connection" in needing("conn")
    assert re.search(r"^not run \(needs conn\.log\): .*\blong_connection\b", captured.out, re.M)
    assert (tmp_path / "out" / "alerts.json").read_bytes() == b""


def test_real_zeek_folder_without_conn_log(datasets, tmp_path, capsys):
    """A real folder with its conn.log taken away (links to the shared files, no copies)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted((datasets / "test9-mixed-zeek-dir").iterdir()):
        if path.name != "conn.log":
            os.symlink(path, folder / path.name)
    assert run_cli("-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q") == 0
    err = capsys.readouterr().err
    assert notes_about(err, "conn") == [skipped_note("conn", "absent")]
    produced = (tmp_path / "out" / "alerts.json").read_bytes()
    assert b"LONG_CONNECTION" not in produced and b"PASTEBIN" not in produced


def test_available_logs_and_missing_reason(tmp_path):
    (tmp_path / "dns.log").write_bytes(dns_json() + b"\n")
    (tmp_path / "ssl.log").write_bytes(b"")
    make_unreadable(tmp_path / "conn.log", "symlink loop")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "conn.2024-01-01.log").write_bytes(conn_json() + b"\n")
    make_unreadable(tmp_path / "http.log", "dangling symlink")
    reader = FolderReader(str(tmp_path), InputWarnings(emit=lambda text: None))
    assert reader.available_logs == {"conn", "dns", "ssl"}  # one conn file is readable
    assert (reader.missing_reason("conn"), reader.missing_reason("http"), reader.missing_reason("smtp")) == (
        "", "unreadable: no such file or directory", "absent")
    assert reader.incomplete == [
        f"{tmp_path}/conn.log: not read (too many levels of symbolic links)",
        f"{tmp_path}/http.log: not read (no such file or directory)",
    ]


@pytest.mark.parametrize(
    "lines",
    [
        [b"garbage"] * 5,
        [b'{"ts": "2024-05-01 10:00:00 yesterday"}'] * 3,
        [b'{"ts":' + b"[" * 100_000] * 2,
    ],
)
def test_every_line_rejected_is_exit_4(tmp_path, capsys, lines):
    path = tmp_path / "conn.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert run_cli("-f", str(path), "-o", str(tmp_path / "out"), "--offline", "-q") == 4
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        f"flowalerts: error: input unusable: none of the {len(lines)} lines read is a usable Zeek record (see the warnings)"
    ]
    assert "status: input unusable (exit 4)" in captured.out


def test_empty_logs_are_a_quiet_sensor_not_an_error(tmp_path, capsys):
    (tmp_path / "conn.log").write_bytes(b"#separator \\x09\n#fields\tts\tuid\n")
    assert run_cli("-f", str(tmp_path), "-o", str(tmp_path / "out"), "--offline", "-q") == 0
    assert error_lines(capsys.readouterr().err) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing", "input path does not exist: {p}"),
        (lambda tmp: tmp, "no Zeek logs found in {p}"),
    ],
)
def test_wrong_paths_are_usage_errors(tmp_path, capsys, make, message):
    path = make(tmp_path / "x")
    (tmp_path / "x").mkdir()
    assert run_cli("-f", str(path), "-o", str(tmp_path / "out"), "--offline", "-q") == 2
    assert capsys.readouterr().err == f"flowalerts: error: {message.format(p=path)}\n"


def test_folder_reader_raises_when_nothing_is_readable(tmp_path):
    make_unreadable(tmp_path / "conn.log", "symlink loop")
    with pytest.raises(InputUnusable, match="no readable Zeek log"):
        FolderReader(str(tmp_path), InputWarnings(emit=lambda text: None))
