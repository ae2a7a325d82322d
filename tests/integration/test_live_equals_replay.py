"""Replay and live agree (issue 12.4): ``run --follow`` on a folder that a
writer fills in Zeek's write order gives the same evidence as ``run`` on the
finished folder.

The writer appends each dataset's lines file by file in the order Zeek would
write them (conn records when their connection ends), interleaved across
logs by that write time, in small bursts. The live-only warm-up rules (no
DNS_WITHOUT_CONNECTION nor CONNECTION_WITHOUT_DNS in the first 30 minutes of
wall time, and CONNECTION_WITHOUT_DNS with confidence 0.1 for 5 hours) are
set to 0: they are the one place live mode differs on purpose.
"""

from __future__ import annotations

import json
import pathlib
import threading
import time

import pytest

from flowalerts.core.evidence import decode_evidence_lines
from flowalerts.hosts.standalone import RunOptions, run
from flowalerts.io.input.follow import FollowReader
from flowalerts.knowledge.lookups import NullLookups
from tests.harness import final
from tests.integration.support import decided_set, default_config, shipped_knowledge


def zeek_write_order(folder: pathlib.Path) -> tuple[dict[str, bytes], list[tuple[float, str, bytes]]]:
    """The header of each log (TSV) and (write time, log file name, line) for
    every record line of the dataset, in write order."""
    headers: dict[str, bytes] = {}
    lines = []
    for path in sorted(folder.glob("*.log")):
        header, fields = b"", []
        for raw in path.read_bytes().splitlines(keepends=True):
            if raw.startswith(b"#"):
                if raw.startswith(b"#fields"):
                    fields = raw.rstrip(b"\r\n").decode().split("\t")[1:]
                if not lines or lines[-1][1] != path.name:
                    header += raw
                continue
            if raw.startswith(b"{"):
                record = json.loads(raw)
            else:
                record = dict(zip(fields, raw.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")))
            try:
                written = float(record.get("ts", 0)) + float(record.get("duration") or 0)
            except ValueError:
                written = float(record.get("ts", 0) or 0)
            lines.append((written, path.name, raw if raw.endswith(b"\n") else raw + b"\n"))
        headers[path.name] = header
    return headers, sorted(lines, key=lambda item: item[0])


def fill(folder: pathlib.Path, headers: dict[str, bytes], lines: list[tuple[float, str, bytes]],
         done: threading.Event | None = None) -> None:
    for name, header in headers.items():
        (folder / name).write_bytes(header)
    for n, (_, name, raw) in enumerate(lines):
        with open(folder / name, "ab") as handle:
            handle.write(raw)
        if done is not None and n % 50 == 0:
            time.sleep(0.01)
    if done is not None:
        done.set()


def evidence_of(outdir: pathlib.Path):
    return decided_set(final(decode_evidence_lines((outdir / "alerts.json").read_bytes().splitlines())))


@pytest.mark.parametrize("dataset", ["test9-mixed-zeek-dir", "test10-mixed-zeek-dir", "test14-malicious-zeek-dir"])
def test_follow_while_zeek_writes_equals_replay(dataset, datasets, tmp_path):
    config = default_config(flow_alerts={"dns_without_connection": {"live_warmup": 0},
                                         "connection_without_dns": {"live_warmup_minutes": 0,
                                                                    "live_low_confidence_hours": 0}})
    source = datasets / dataset
    replay_out, live_out, live_in = tmp_path / "replay", tmp_path / "live", tmp_path / "zeek"
    live_in.mkdir()
    options = dict(config=config, offline=True, lookups=NullLookups(), knowledge=shipped_knowledge(),
                   emit=lambda text: None)
    headers, lines = zeek_write_order(source)
    finished = tmp_path / "finished"
    finished.mkdir()
    fill(finished, headers, lines)
    replay = run(RunOptions(path=str(finished), outdir=str(replay_out), **options))

    stop, written = threading.Event(), threading.Event()
    writer = threading.Thread(target=fill, args=(live_in, headers, lines, written), daemon=True)

    def reader(path, warnings):
        return FollowReader(path, warnings, stop, poll_interval=0.02, idle_release=0.2, limits=config.input)

    def stopper():
        written.wait(60)
        time.sleep(1.0)  # let the reader catch up, as an operator would before Ctrl-C
        stop.set()

    writer.start()
    threading.Thread(target=stopper, daemon=True).start()
    live = run(RunOptions(path=str(live_in), outdir=str(live_out), live=True, reader_factory=reader,
                          stop_event=stop, **options))
    assert live.read == replay.read
    assert evidence_of(live_out) == evidence_of(replay_out)
    assert evidence_of(replay_out), "the dataset gives evidence"

