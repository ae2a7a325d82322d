"""Helpers for the tests of the Slips hosts: recorded Slips traffic and
Slips-shaped messages."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _shared() -> pathlib.Path:
    """``../shared`` beside the clone ($FLOWALERTS_SHARED, or the first one up the tree:
    a git worktree sits one level deeper than the clone)."""
    if os.environ.get("FLOWALERTS_SHARED"):
        return pathlib.Path(os.environ["FLOWALERTS_SHARED"])
    for parent in REPO.parents:
        if (parent / "shared" / "slips").is_dir():
            return parent / "shared"
    return REPO.parent / "shared"


SHARED = _shared()
SLIPS = SHARED / "slips"
TRAFFIC = SLIPS / "traffic"
DATASETS = SHARED / "datasets" / "slips"
VERSION = "1.1.21"


def require(path: pathlib.Path, what: str) -> pathlib.Path:
    """The path, or skip (fail under CI=true: CI must not silently skip)."""
    if not path.exists():
        message = f"{what} not found at {path} (../shared beside the clone)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def recorded_datasets() -> list[str]:
    """Every dataset Slips's traffic was recorded for (relative names, e.g. port-scans/vertical)."""
    if not TRAFFIC.is_dir():
        return []
    return sorted(str(p.parent.relative_to(TRAFFIC)) for p in TRAFFIC.rglob("pubsub.jsonl"))


def recorded_messages(dataset: str) -> Iterator[tuple[str, str]]:
    """(channel, data) of every message real Slips published on ``dataset``."""
    with open(TRAFFIC / dataset / "pubsub.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            yield item["channel"], item["data"]


def message(flow: dict[str, Any], profile: str | None = "10.0.0.5", twid: Any = "timewindow1", **extra: Any) -> str:
    """A record message as Slips publishes it (``profile=None``: no profileid key)."""
    body: dict[str, Any] = {"flow": flow, "twid": twid, "version": VERSION, **extra}
    if profile is not None:
        body["profileid"] = f"profile_{profile}"
    return json.dumps(body)


def tw_closed(profile: str, twid: int) -> str:
    return json.dumps({"text": f"profile_{profile}_timewindow{twid}", "version": VERSION})


def conn_flow(**kw: Any) -> dict[str, Any]:
    """A conn flow with Slips's field names (what new_flow carries)."""
    flow = {
        "interface": "default",
        "starttime": 1_600_000_000.0,
        "uid": "C1",
        "saddr": "10.0.0.5",
        "daddr": "93.184.216.34",
        "dur": 0.5,
        "proto": "tcp",
        "appproto": "",
        "sport": 40000,
        "dport": 443,
        "spkts": 1,
        "dpkts": 0,
        "sbytes": 0,
        "dbytes": 0,
        "smac": "",
        "dmac": "",
        "state": "S0",
        "history": "S",
        "type_": "conn",
    }
    flow.update(kw)
    return flow


def dns_flow(**kw: Any) -> dict[str, Any]:
    """A dns flow with Slips's field names (what new_dns carries): by default
    10.0.0.5 resolved example.com to 93.184.216.34."""
    flow = {
        "interface": "default",
        "starttime": 1_600_000_000.0,
        "uid": "D1",
        "saddr": "10.0.0.5",
        "daddr": "10.0.0.1",
        "sport": 53000,
        "dport": 53,
        "proto": "udp",
        "query": "example.com",
        "qclass_name": "C_INTERNET",
        "qtype_name": "A",
        "rcode_name": "NOERROR",
        "answers": ["93.184.216.34"],
        "TTLs": [300.0],
        "type_": "dns",
    }
    flow.update(kw)
    return flow


class PrivateRedis:
    """A redis-server of our own on a free port (nothing saved); restartable."""

    def __init__(self, *extra: str) -> None:
        import shutil
        import socket

        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.extra = extra
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import subprocess
        import time

        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *self.extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, password=self._password(), socket_connect_timeout=0.2).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def _password(self) -> str | None:
        if "--requirepass" in self.extra:
            return self.extra[self.extra.index("--requirepass") + 1]
        return None

    def client(self):
        import redis

        return redis.Redis(port=self.port, password=self._password())

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


def publish_like_slips(client, channel: str, data: str) -> None:
    """Publish as Slips does: count the message in msgs_published_at_runtime, then publish."""
    client.hincrby("msgs_published_at_runtime", channel, 1)
    client.publish(channel, data)


def evidence(**kw: Any):
    """An Evidence of a ported kind with readable defaults (tests of the Slips encoding)."""
    from flowalerts.core.evidence import Evidence, ThreatLevel, dst_ip, src_ip

    fields: dict[str, Any] = dict(
        evidence_type="MULTIPLE_RECONNECTION_ATTEMPTS",
        description="5 failed connection attempts",
        attacker=src_ip("10.0.0.5"),
        victim=dst_ip("93.184.216.34"),
        threat_level=ThreatLevel.MEDIUM,
        confidence=0.5,
        profile="10.0.0.5",
        timewindow=3,
        uids=["C1", "C2"],
        ts=1_600_000_000.25,
        proto="tcp",
        dst_port=443,
    )
    fields.update(kw)
    return Evidence(**fields)
