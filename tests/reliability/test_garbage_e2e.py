"""Garbage between the lines of real Zeek folders changes nothing but the
warning counts: the same alerts.json byte for byte as the clean run; a big
input with 10% garbage completes with exit 0 and a summary of what was
skipped, without flooding the terminal."""

from __future__ import annotations

import os
import pathlib
import random
import re
import subprocess
import sys
import time

import pytest

from flowalerts.core.records import BY_LOG_TYPE
from tests.reliability.support import GARBAGE_LINES, alerts_json, garbage_for, generate_logs, run_cli

pytestmark = pytest.mark.integration
DATASET_FOLDERS = ["test14-malicious-zeek-dir", "test9-mixed-zeek-dir", "test10-mixed-zeek-dir",
                   "test13-malicious-dhcpscan-zeek-dir"]


def _copy_with_garbage(src: pathlib.Path, dst: pathlib.Path, rnd: random.Random) -> int:
    """A copy of ``src`` with garbage lines between its lines (written to a temp
    folder; the shared dataset itself is only read)."""
    dst.mkdir(parents=True)
    inserted = 0
    for path in sorted(src.iterdir()):
        if path.name.split(".")[0] not in BY_LOG_TYPE:  # unsupported logs are not read at all
            os.symlink(path, dst / path.name)
            continue
        lines = [line.rstrip(b"\n") + b"\n" for line in path.read_bytes().splitlines()]
        out = []
        pool = garbage_for(path.name.split(".")[0])
        for line in lines:
            if not line.lstrip().startswith(b"#") and rnd.random() < 0.3:
                out.append(rnd.choice(pool) + b"\n")
                inserted += 1
            out.append(line)
        # and a truncated copy of a real line at the end, without newline
        if lines and not lines[-1].startswith(b"#"):
            out.append(lines[-1][: len(lines[-1]) // 2].rstrip(b"\n"))
            inserted += 1
        (dst / path.name).write_bytes(b"".join(out))
    return inserted


def _run(path: pathlib.Path, out: pathlib.Path, capsys) -> tuple[bytes, str, str]:
    code = run_cli("-f", str(path), "-o", str(out), "--offline", "-q")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return alerts_json(out), captured.out, captured.err


@pytest.mark.parametrize("folder", DATASET_FOLDERS)
def test_garbage_interleaved_gives_identical_alerts(datasets, tmp_path, capsys, folder):
    clean_json, clean_summary, _ = _run(datasets / folder, tmp_path / "clean", capsys)
    dirty = tmp_path / "dirty-input"
    inserted = _copy_with_garbage(datasets / folder, dirty, random.Random(folder))
    dirty_json, dirty_summary, dirty_err = _run(dirty, tmp_path / "dirty", capsys)
    assert dirty_json == clean_json
    clean_warnings = int(re.search(r"input warnings: (\d+)", clean_summary).group(1)) if "input warnings" in clean_summary else 0
    clean_skipped = sum(int(s) for s in re.findall(r"^\w+\s+\d+\s+\d+\s+(\d+)$", clean_summary, re.M))
    dirty_skipped = sum(int(s) for s in re.findall(r"^\w+\s+\d+\s+\d+\s+(\d+)$", dirty_summary, re.M))
    assert dirty_skipped == clean_skipped + inserted
    assert f"input warnings: {clean_warnings + inserted} " in dirty_summary
    # Only the skipped column differs.
    strip = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)\s+\d+$", re.M)
    assert strip.findall(dirty_summary) == strip.findall(clean_summary)
    assert "Traceback" not in dirty_err


# 200k lines in CI; FLOWALERTS_BIG_LINES=1000000 for the full 1M run.
BIG_LINES = int(os.environ.get("FLOWALERTS_BIG_LINES", "200000"))


@pytest.mark.slow
def test_big_input_with_ten_percent_garbage(tmp_path):
    folder = tmp_path / "big"
    counts = generate_logs(folder, BIG_LINES, hours=2.0, garbage=0.10)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "flowalerts", "run", "-f", str(folder), "-o", str(tmp_path / "out"), "--offline"],
        capture_output=True, text=True, timeout=900,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    output = proc.stdout
    rows = {t: (int(r), int(p), int(s)) for t, r, p, s in re.findall(r"^(conn|dns)\s+(\d+)\s+(\d+)\s+(\d+)$", output, re.M)}
    assert rows["conn"][:2] == (counts["conn"], counts["conn"])
    assert rows["dns"][:2] == (counts["dns"], counts["dns"])
    assert rows["conn"][2] + rows["dns"][2] == counts["bad"]
    assert f"input warnings: {counts['bad']} " in output
    # The terminal is not flooded: a handful of warnings per reason, then counts.
    assert proc.stderr.count("(line skipped)") <= 5 * len(GARBAGE_LINES)
    print(f"{BIG_LINES} lines + {counts['bad']} garbage lines: {elapsed:.1f}s")
