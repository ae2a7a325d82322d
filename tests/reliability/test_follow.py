"""Live mode (--follow) with a hostile or careless writer: partial lines,
rotation (moved away, renamed in place, copytruncate, a file created and
renamed between two polls), a last line without its newline (read at stop
and counted), a runaway line without newline (one warning, never in memory),
a big file read over several polls, and signals."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest

from flowalerts.core.config import Config
from flowalerts.hosts.standalone import RunOptions, run
from flowalerts.io.input import follow as follow_module
from flowalerts.io.input.follow import FollowReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.knowledge import Knowledge
from tests.reliability.support import conn_json

T0 = 1_600_000_000.0
CLIENT = "192.168.1.10"


def conn_line(uid: str, ts: float, dur: float = 2000.0) -> str:
    return conn_json(uid, ts, duration=dur).decode() + "\n"


def tunnel_line(uid: str, ts: float, action: str) -> str:
    return json.dumps({
        "ts": ts, "uid": uid, "id.orig_h": CLIENT, "id.orig_p": 0, "id.resp_h": "115.112.11.30",
        "id.resp_p": 0, "tunnel_type": "Tunnel::GRE", "action": action,
    }) + "\n"


def append(path: pathlib.Path, text: str | bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def evidence_uids(out: pathlib.Path, evidence_type: str) -> list[str]:
    path = out / "alerts.json"
    if not path.exists():
        return []
    uids = []
    for line in path.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            if item["evidence_type"] == evidence_type:
                uids.extend(item["uids"])
    return uids


def uids_of(reader) -> list[str]:
    return [record.uid for record in reader if record is not None]


def writer(folder: pathlib.Path, out: pathlib.Path, stop: threading.Event, errors: list[str]) -> None:
    try:
        conn, tunnel = folder / "conn.log", folder / "tunnel.log"
        append(conn, conn_line("L1", T0) + conn_line("L2", T0 + 10))
        append(tunnel, tunnel_line("G1", T0 + 1, "Tunnel::DISCOVER"))
        # A partially written line: the reader must wait for its newline.
        line = conn_line("L3", T0 + 20)
        append(conn, line[:25])
        time.sleep(0.2)
        append(conn, line[25:])
        assert wait_for(lambda: sorted(evidence_uids(out, "LONG_CONNECTION")) == ["L1", "L2", "L3"]), "phase 1"
        # Rotation by moving the file into a dated folder; Zeek starts a new one.
        dated = folder / "2020-09-13"
        dated.mkdir()
        append(conn, conn_line("L4", T0 + 30))
        os.rename(conn, dated / "conn.12:00:00-13:00:00.log")
        append(conn, conn_line("L5", T0 + 40))
        assert wait_for(lambda: "L5" in evidence_uids(out, "LONG_CONNECTION")), "after the move"
        # copytruncate of tunnel.log.
        shutil.copy(tunnel, folder / "tunnel.2020-09-13-12-00-00.log")
        with open(tunnel, "r+") as handle:
            handle.truncate(0)
        append(tunnel, tunnel_line("G2", T0 + 45, "Tunnel::CLOSE"))
        # Rotation by rename in place.
        append(conn, conn_line("L6", T0 + 50))
        os.rename(conn, folder / "conn.2020-09-13-12-00-01.log")
        append(conn, conn_line("L7", T0 + 60, dur=3.0) + conn_line("L8", T0 + 70))
        assert wait_for(lambda: "L8" in evidence_uids(out, "LONG_CONNECTION")), "phase 2"
        # A half-written line at stop time: read at stop and counted (here, as a bad line).
        append(conn, conn_line("L9", T0 + 80)[:30])
    except Exception as exc:  # reported by the test
        errors.append(repr(exc))
    finally:
        stop.set()


def test_follow_survives_rotation_and_partial_lines(tmp_path):
    folder, out = tmp_path / "zeek", tmp_path / "out"
    folder.mkdir()
    stop = threading.Event()
    errors: list[str] = []
    config = Config()
    emitted: list[str] = []
    options = RunOptions(
        path=str(folder), outdir=str(out), config=config, offline=True,
        knowledge=Knowledge.load(config, notify=lambda text: None), emit=emitted.append, live=True,
        reader_factory=lambda path, warnings: FollowReader(path, warnings, stop, poll_interval=0.02, reorder_seconds=5.0,
                                                           idle_release=0.1),
        stop_event=stop,
    )
    thread = threading.Thread(target=writer, args=(folder, out, stop, errors), daemon=True)
    thread.start()
    started = time.monotonic()
    summary = run(options)
    thread.join(5)
    assert errors == []
    assert time.monotonic() - started < 25
    assert sorted(evidence_uids(out, "LONG_CONNECTION")) == ["L1", "L2", "L3", "L4", "L5", "L6", "L8"]
    assert summary.read["conn"] == 8 and summary.read["tunnel"] == 2
    assert summary.skipped["conn"] == 1  # the half line, read at stop
    assert [text for text in emitted if "(line skipped)" in text] == [
        f"warning: {folder}/conn.log:3: malformed JSON (line skipped)"
    ]
    assert summary.complete
    assert summary.interrupted


def test_last_line_without_newline_is_read_at_stop_and_counted(tmp_path):
    (tmp_path / "conn.log").write_text(conn_line("A", T0) + conn_line("B", T0 + 1).rstrip("\n"))
    stop = threading.Event()
    reader = FollowReader(str(tmp_path), InputWarnings(emit=lambda text: None), stop, poll_interval=0.01,
                          reorder_seconds=0.0, idle_release=0.01)
    assert reader.poll() == 1  # B waits for its newline while following
    stop.set()
    assert uids_of(reader) == ["A", "B"]
    assert reader.read_counts == {"conn": 2} and reader.skipped_counts == {}


def test_file_created_and_rotated_between_polls_is_read_once(tmp_path):
    (tmp_path / "conn.2020-01-01-00-00-00.log").write_text(conn_line("Old", T0 - 100))  # before the run: history
    stop = threading.Event()
    reader = FollowReader(str(tmp_path), InputWarnings(), stop, poll_interval=0.01, reorder_seconds=0.0, idle_release=0.01)
    (tmp_path / "conn.log").write_text(conn_line("A", T0))
    assert reader.poll() == 1
    # Zeek rotates, writes a new file and rotates again before the next poll.
    os.rename(tmp_path / "conn.log", tmp_path / "conn.2020-09-13-12-00-00.log")
    (tmp_path / "conn.log").write_text(conn_line("B", T0 + 1))
    os.rename(tmp_path / "conn.log", tmp_path / "conn.2020-09-13-13-00-00.log")
    (tmp_path / "conn.log").write_text(conn_line("C", T0 + 2))
    reader.poll()
    reader.poll()
    stop.set()
    assert uids_of(reader) == ["A", "B", "C"]
    assert reader.read_counts == {"conn": 3}


def test_reader_reorders_within_buffer_and_releases_when_idle(tmp_path):
    (tmp_path / "conn.log").write_text(conn_line("B", T0 + 3) + conn_line("A", T0 + 1))
    (tmp_path / "tunnel.log").write_text(tunnel_line("C", T0 + 2, "Tunnel::DISCOVER"))
    stop = threading.Event()
    reader = FollowReader(str(tmp_path), InputWarnings(), stop, poll_interval=0.01, reorder_seconds=100.0, idle_release=0.05)
    got = []
    for record in reader:
        if record is None:
            if got:
                stop.set()
            continue
        got.append(record.uid)
    assert got == ["A", "C", "B"]
    assert reader.read_counts == {"conn": 2, "tunnel": 1}


def test_runaway_line_is_one_warning_and_never_held(tmp_path):
    path = tmp_path / "conn.log"
    path.write_text(conn_line("A", T0))
    emitted: list[str] = []
    stop = threading.Event()
    reader = FollowReader(str(tmp_path), InputWarnings(emit=emitted.append), stop, reorder_seconds=0.0)
    assert reader.poll() == 1
    tracemalloc.start()
    try:
        with open(path, "ab") as handle:  # 64 MB of NUL bytes without a newline, as they arrive
            for _ in range(64):
                handle.write(bytes(1 << 20))
                handle.flush()
                reader.poll()
        while reader.backlog:
            reader.poll()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    append(path, b"\n" + conn_line("B", T0 + 1).encode())
    reader.poll()
    stop.set()
    assert uids_of(reader) == ["A", "B"]
    assert emitted == [f"warning: {path}:2: line longer than 1,048,576 bytes (input.max_line_bytes) (line skipped)"]
    assert reader.skipped_counts == {"conn": 1}
    assert peak < 12 << 20, f"{peak >> 20} MB"


def test_big_file_is_read_over_several_polls_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(follow_module, "POLL_BUDGET", 4096)
    lines = [conn_line(f"C{i}", T0 + i) for i in range(300)]
    (tmp_path / "conn.log").write_text("".join(lines))
    stop = threading.Event()
    reader = FollowReader(str(tmp_path), InputWarnings(), stop, reorder_seconds=0.0)
    polls = 0
    while True:
        polls += 1
        reader.poll()
        if not reader.backlog:
            break
    assert polls > 10
    stop.set()
    assert uids_of(reader) == [f"C{i}" for i in range(300)]
    assert reader.read_counts == {"conn": 300}


def test_rename_with_unread_bytes_keeps_zeek_order(tmp_path, monkeypatch):
    monkeypatch.setattr(follow_module, "POLL_BUDGET", 2048)
    stop = threading.Event()
    (tmp_path / "conn.log").write_text(conn_line("A0", T0))
    reader = FollowReader(str(tmp_path), InputWarnings(), stop, reorder_seconds=0.0)
    assert reader.poll() == 1
    append(tmp_path / "conn.log", "".join(conn_line(f"A{i}", T0 + i) for i in range(1, 60)))
    os.rename(tmp_path / "conn.log", tmp_path / "conn.2020-09-13-12-00-00.log")
    (tmp_path / "conn.log").write_text("".join(conn_line(f"B{i}", T0 + 100 + i) for i in range(5)))
    got: list[str] = []
    for _ in range(200):
        reader.poll()
        got.extend(record.uid for record in reader._release(everything=True))
        if not reader.backlog and "B4" in got:
            break
    assert got == [f"A{i}" for i in range(60)] + [f"B{i}" for i in range(5)]
    assert reader.rotations == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_follow_stops_on_signal_and_flushes(tmp_path, sig):
    folder, out = tmp_path / "zeek", tmp_path / "out"
    folder.mkdir()
    (folder / "conn.log").write_text(conn_line("L1", T0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowalerts", "run", "-f", str(folder), "-o", str(out), "--offline", "--follow",
         "--poll-interval", "0.05", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert wait_for(lambda: (out / "alerts.json").exists(), 90)
        append(folder / "conn.log", conn_line("L2", T0 + 10).rstrip("\n"))  # no newline: read at stop
        time.sleep(0.5)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert sorted(evidence_uids(out, "LONG_CONNECTION")) == ["L1", "L2"]
    assert "Flowalerts summary" in stdout
    assert "Traceback" not in stderr
