"""Helpers of the reliability suite: Zeek lines (JSON and TSV), garbage that
every reader must reject, hostile files generated in a temporary folder
(sparse or streamed, never kept), and running ``flowalerts`` in-process or as
a child process whose peak memory is measured."""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import random
import subprocess
import sys
import zlib
from typing import Any

from flowalerts.cli.main import main
from flowalerts.core.records import BY_LOG_TYPE
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import ZeekFileReader

T0 = 1_600_000_000.0
CLIENT = "192.168.1.10"
SERVER = "93.184.216.34"
REPO = pathlib.Path(__file__).resolve().parents[2]

# Lines no reader can use, whatever the log type: one counted warning each.
UNIVERSAL_GARBAGE: list[bytes] = [
    b'{"ts": "yesterday", "uid": "C1"}',
    b"\x00\xff\xfe garbage \x80\x81",
    b'{"ts": -5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1e400, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": -0.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1", "duration": 3}',
    b'{"ts": NaN, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b"[1, 2, 3]",
    b'{"uid": "no-ts", "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    # issue 16: one line must never lose the run.
    b'{"ts": 1600000000.5, "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    b'{"ts": 1600000000.5, "x": ' + b"{" * 10_000,
    b'{"ts": 100000000000000000000000, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": "2020-09-13T12:26:40+99:00", "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
]
# Lines rejected by the readers of records that need both addresses.
ADDRESS_GARBAGE: list[bytes] = [
    b'{"ts": 1600000000.5, "id.orig_h": "999.1.1.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1", "id.orig_p": 70000}',
    b'{"ts": 1600000000.5, "id.orig_h": ["10.0.0.1"], "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1\\n\\u001b[31m", "id.resp_h": "1.1.1.1"}',
    b'{"ts": "2020-09-13T12:26:40Z", "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1", "id.orig_p": 1e30}',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.\xff"}',
]
GARBAGE_LINES = UNIVERSAL_GARBAGE + ADDRESS_GARBAGE


def garbage_for(log_type: str) -> list[bytes]:
    """Lines no reader of this log type can use (types whose records may lack
    addresses, like x509 or dhcp, get only the lines without a usable ts)."""
    record_type = BY_LOG_TYPE.get(log_type)
    if record_type is not None and record_type.needs_saddr and record_type.needs_daddr:
        return GARBAGE_LINES
    return UNIVERSAL_GARBAGE


def conn_json(uid: str = "C1", ts: float = T0, **fields: Any) -> bytes:
    record = {
        "ts": ts, "uid": uid, "id.orig_h": CLIENT, "id.orig_p": 50000, "id.resp_h": SERVER, "id.resp_p": 443,
        "proto": "tcp", "service": "ssl", "duration": 2000.0, "orig_bytes": 100, "resp_bytes": 2000,
        "conn_state": "SF", "history": "ShADadFf", "orig_pkts": 5, "resp_pkts": 5,
    }
    record.update(fields)
    return json.dumps(record, separators=(",", ":")).encode()


def dns_json(uid: str = "D1", ts: float = T0, query: str = "example.com", **fields: Any) -> bytes:
    record = {
        "ts": ts, "uid": uid, "id.orig_h": CLIENT, "id.orig_p": 53000, "id.resp_h": "8.8.8.8", "id.resp_p": 53,
        "proto": "udp", "query": query, "qtype_name": "A", "rcode_name": "NOERROR", "answers": [SERVER],
        "TTLs": [300.0],
    }
    record.update(fields)
    return json.dumps(record, separators=(",", ":")).encode()


CONN_TSV_FIELDS = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
    "orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "resp_pkts",
]


def tsv_header(log_type: str, fields: list[str]) -> bytes:
    lines = [b"#separator \\x09", b"#set_separator\t,", b"#empty_field\t(empty)", b"#unset_field\t-",
             f"#path\t{log_type}".encode(), ("#fields\t" + "\t".join(fields)).encode()]
    return b"\n".join(lines) + b"\n"


def conn_tsv(uid: str = "C1", ts: float = T0, proto: bytes = b"tcp", orig_bytes: bytes = b"100") -> bytes:
    values = [repr(ts).encode(), uid.encode(), CLIENT.encode(), b"50000", SERVER.encode(), b"443", proto, b"ssl",
              b"2000.0", orig_bytes, b"2000", b"SF", b"ShADadFf", b"5", b"5"]
    return b"\t".join(values)


def reader_for(log_type: str, shown: int = 5, **limits: Any):
    """A ZeekFileReader fed line by line (``parse_line``), and its warnings."""
    from flowalerts.core.config import InputSection

    emitted: list[str] = []
    warnings = InputWarnings(emit=emitted.append, shown_per_reason=shown)
    reader = ZeekFileReader(f"{log_type}.log", BY_LOG_TYPE[log_type], warnings, InputSection(**limits))
    return reader, warnings, emitted


def run_cli(*args: str) -> int:
    return main(["run", *args])


def alerts_json(out: pathlib.Path) -> bytes:
    return (out / "alerts.json").read_bytes()


# -- hostile files, generated in place ------------------------------------------------
def sparse_nul_tail(path: pathlib.Path, head: bytes, size: int) -> None:
    """``head`` then NUL bytes up to ``size`` (a hole: no disk space used)."""
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)


def gzip_bomb(path: pathlib.Path, head: bytes, zeros: int, level: int = 9, tail: bytes = b"", members: int = 1) -> None:
    """A gzip file: ``head``, ``zeros`` NUL bytes (``members`` times, as that
    many gzip members: cheap to make), ``tail`` - streamed, never in memory."""
    block = bytes(1 << 22)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(head, level) if head else b"")
        compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        member = []
        left = zeros
        while left > 0:
            member.append(compressor.compress(block[: min(left, len(block))]))
            left -= len(block)
        member.append(compressor.flush())
        data = b"".join(member)
        for _ in range(members):
            handle.write(data)
        if tail:
            handle.write(gzip.compress(tail, level))


# -- child processes ----------------------------------------------------------------------
# The child reports its own peak RSS: VmHWM of its address space (ru_maxrss
# would include the pytest process it was forked from: Linux keeps it across exec).
_PEAK_RSS = """
import resource, sys
from flowalerts.cli.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print("PEAK_RSS_KB", peak, file=sys.stderr)
sys.exit(code)
"""


def run_measured(*args: str, timeout: float = 300) -> tuple[int, str, str, int]:
    """``flowalerts <args>`` in a child process: (exit status, stdout, stderr, peak RSS in KB)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    peak = 0
    lines = []
    for line in proc.stderr.splitlines():
        if line.startswith("PEAK_RSS_KB "):
            peak = int(line.split()[1])
        else:
            lines.append(line)
    return proc.returncode, proc.stdout, "\n".join(lines), peak


def baseline_rss_kb(tmp: pathlib.Path) -> int:
    """Peak RSS of a child running Flowalerts on one clean line (imports, config, feeds, outputs)."""
    folder = tmp / "baseline"
    folder.mkdir()
    (folder / "conn.log").write_bytes(conn_json() + b"\n")
    code, _, err, peak = run_measured("run", "-f", str(folder), "-o", str(tmp / "baseline-out"), "--offline", "-q")
    assert code == 0 and peak > 0, err
    return peak


def generate_logs(folder: pathlib.Path, n: int, hours: float = 1.0, garbage: float = 0.0, seed: int = 1,
                  hosts: int = 1000) -> dict[str, int]:
    """``n`` conn+dns JSON records (half each) over ``hours`` of flow time, with a
    garbage line after a record with probability ``garbage``. Returns the
    number of good lines per log type and of bad lines."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    span = hours * 3600.0
    counts = {"conn": 0, "dns": 0, "bad": 0}
    with open(folder / "conn.log", "wb") as conn_f, open(folder / "dns.log", "wb") as dns_f:
        for i in range(n):
            ts = round(T0 + span * i / n, 6)
            host = i % hosts
            src = f"10.{host // 62500}.{(host // 250) % 250}.{host % 250 + 1}"
            if i % 2 == 0:
                # Every 194th connection is long (LONG_CONNECTION evidence to compare).
                duration = 2000.0 if i % 194 == 0 else 1.5
                line = conn_json(f"C{i}", ts, **{"id.orig_h": src, "id.orig_p": 40000 + i % 20000,
                                                  "id.resp_h": f"93.184.{i % 200}.{i % 250 + 1}", "duration": duration})
                handle, kind = conn_f, "conn"
            else:
                line = dns_json(f"D{i}", ts, f"host{i % 5000}.example.com", **{"id.orig_h": src,
                                                                               "answers": [f"1.2.{i % 200}.{i % 250 + 1}"]})
                handle, kind = dns_f, "dns"
            handle.write(line + b"\n")
            counts[kind] += 1
            if garbage and rnd.random() < garbage:
                handle.write(rnd.choice(GARBAGE_LINES) + b"\n")
                counts["bad"] += 1
    return counts
