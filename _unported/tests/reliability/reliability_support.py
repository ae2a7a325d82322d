"""Helpers for the reliability tests: synthetic Zeek JSON logs, garbage lines,
and a private redis-server that a test may kill and restart at will (never the
machine's shared Redis)."""

from __future__ import annotations

import json
import os
import pathlib
import random
import shutil
import socket
import subprocess
import sys
import time

import redis

T0 = 1_600_000_000.0

# Lines that must each become one counted warning and nothing else.
GARBAGE_LINES: list[bytes] = [
    b'{"ts": "yesterday", "uid": "C1"}',
    b"\x00\xff\xfe garbage \x80\x81",
    b'{"ts": 1600000000.5, "id.orig_h": "999.1.1.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1", "id.orig_p": 70000}',
    b'{"ts": -5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1e400, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": -0.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1", "duration": 3}',
    b'{"ts": NaN, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1600000000.5, "id.orig_h": ["10.0.0.1"], "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"',
    b"[1, 2, 3]",
    b'{"uid": "no-ts", "id.orig_h": "10.0.0.1", "id.resp_h": "1.1.1.1"}',
    b'{"ts": 1600000000.5, "id.orig_h": "10.0.0.1\\n\\u001b[31m", "id.resp_h": "1.1.1.1"}',
]


# Unusable for every log type, even those without addresses (x509): no valid ts.
UNIVERSAL_GARBAGE: list[bytes] = [line for line in GARBAGE_LINES if b"1600000000.5" not in line]


def garbage_for(log_type: str) -> list[bytes]:
    """Lines no reader of this log type can use (types whose records may lack
    addresses, like x509 or dhcp, get only the lines without a usable ts)."""
    from flowalerts.records import BY_LOG_TYPE

    record_type = BY_LOG_TYPE.get(log_type)
    if record_type is not None and record_type.needs_saddr and record_type.needs_daddr:
        return GARBAGE_LINES
    return UNIVERSAL_GARBAGE


def garbage_line(rnd: random.Random) -> bytes:
    return rnd.choice(GARBAGE_LINES)


def generate_logs(folder: pathlib.Path, n: int, hours: float = 1.0, garbage: float = 0.0, seed: int = 1, hosts: int = 1000) -> dict[str, int]:
    """``n`` conn+dns JSON records (half each) spread over ``hours`` of flow time,
    with a garbage line after a record with probability ``garbage``.
    Returns the number of good and bad lines written per log type."""
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
                rec = {
                    "ts": ts, "uid": f"C{i}", "id.orig_h": src, "id.orig_p": 40000 + i % 20000,
                    "id.resp_h": f"93.184.{i % 200}.{i % 250 + 1}", "id.resp_p": 443, "proto": "tcp",
                    "service": "ssl", "duration": 1.5, "orig_bytes": 100, "resp_bytes": 200, "conn_state": "SF",
                    "history": "ShADadFf", "orig_pkts": 5, "resp_pkts": 5,
                }
                handle, kind = conn_f, "conn"
            else:
                rec = {
                    "ts": ts, "uid": f"D{i}", "id.orig_h": src, "id.orig_p": 50000 + i % 10000,
                    "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp", "query": f"host{i % 5000}.example.com",
                    "qtype_name": "A", "rcode_name": "NOERROR", "answers": [f"1.2.{i % 200}.{i % 250 + 1}"], "TTLs": [300.0],
                }
                handle, kind = dns_f, "dns"
            handle.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
            counts[kind] += 1
            if garbage and rnd.random() < garbage:
                handle.write(garbage_line(rnd) + b"\n")
                counts["bad"] += 1
    return counts


def free_port(candidates: range = range(6391, 6400)) -> int:
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a private redis-server")


class PrivateRedis:
    """A redis-server of our own (no persistence), killable and restartable."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def flowalerts_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowalerts", *args]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env
