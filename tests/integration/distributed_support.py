"""Support for the distributed-run tests.

* ``Probe``: a test-only detection (not registered: ``abstract = True``, so
  no other test sees it) whose evidence depends on everything a partition
  must get right: global facts replicated from the producer (resolutions,
  SNI, local network) at the right point of the stream, flow-time timers,
  window closes. Few evidence (one per profile and window,
  one per long connection), so the data sets stay cheap to compare.
* ``python -m tests.integration.distributed_support URL PREFIX [--probe]``:
  one worker process (``flowalerts.hosts.distributed.worker.Worker``) serving every run under
  PREFIX, with the probe when asked; stops on SIGTERM. Prints its counters as
  the last stderr line: ``stats {...}``.
* helpers to run a folder embedded or distributed and read alerts.json.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any

from flowalerts.catalog import load_components
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, src_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord
from flowalerts.engine.detection import Detection
from flowalerts.learners.dns import DnsFacts, DnsNames
from flowalerts.learners.localnet import LocalNet
from flowalerts.learners.tls import ServerNames, TlsFacts

REPO = pathlib.Path(__file__).resolve().parents[2]


class ProbeWindowDetails(Details):
    conns: int
    named: int  # conns to an IP with a known name (DNS or SNI) at the time
    dns: int
    local: int  # conns from inside the learned local network


class ProbeTimerDetails(Details):
    daddr: str
    sni: str
    domains: list[str]
    due: float


PROBE_WINDOW = EvidenceKind("PROBE_WINDOW", ThreatLevel.INFO, 0.5, details=ProbeWindowDetails)
PROBE_TIMER = EvidenceKind("PROBE_TIMER", ThreatLevel.INFO, 0.5, details=ProbeTimerDetails)


class Probe(Detection):
    """Counts per window what the facts said about each record; a timer per long connection."""

    abstract = True
    id = "probe"
    channels = ("new_flow", "new_dns")
    needs = (DnsFacts, TlsFacts)
    evidence = (PROBE_WINDOW, PROBE_TIMER)

    def handle(self, msg: Message[Any]) -> None:
        flow = msg.flow
        window = self.window(msg)  # a late record's is thrown away
        window["first"] = min(window.get("first", flow.starttime), flow.starttime)
        if isinstance(flow, ConnRecord):
            window["conns"] = window.get("conns", 0) + 1
            if self.facts_of(DnsNames).domains_of_ip(flow.daddr) or self.facts_of(ServerNames).sni_of(flow.daddr):
                window["named"] = window.get("named", 0) + 1
            if self.facts_of(LocalNet).in_local_network(flow.saddr):
                window["local"] = window.get("local", 0) + 1
            if flow.dur > 1000 and flow.uid:
                due = flow.starttime + flow.dur + 600.0
                self.schedule((msg.profile, flow.uid), due, (msg.profile, msg.twid, flow.daddr, flow.starttime, due))
        else:
            window["dns"] = window.get("dns", 0) + 1

    def on_window_closed(self, profile: str, twid: int) -> None:
        window = self.window_of(profile, twid)
        if not window:
            return
        self.report(
            PROBE_WINDOW,
            profile=profile,
            twid=twid,
            ts=window["first"],
            attacker=src_ip(profile),
            description=f"probe window {twid} of {profile}",
            details=ProbeWindowDetails(
                conns=window.get("conns", 0),
                named=window.get("named", 0),
                dns=window.get("dns", 0),
                local=window.get("local", 0),
            ),
        )

    def on_timer(self, key: Any, payload: Any) -> None:
        profile, twid, daddr, ts, due = payload
        self.report(
            PROBE_TIMER,
            profile=profile,
            twid=twid,
            ts=ts,
            attacker=src_ip(profile),
            victim=dst_ip(daddr),
            uids=[key[1]],
            description=f"probe timer of {profile} to {daddr}",
            details=ProbeTimerDetails(
                daddr=daddr,
                sni=self.facts_of(ServerNames).sni_of(daddr) or "",
                domains=sorted(self.facts_of(DnsNames).domains_of_ip(daddr)),
                due=due,
            ),
        )


def all_detections(probe: bool = True) -> list[type[Detection]]:
    detections = list(load_components()[0].values())
    return [*detections, Probe] if probe else detections


def all_learners() -> list[Any]:
    return list(load_components()[1].values())


# -- processes --------------------------------------------------------------------------------


def start_worker(url: str, prefix: str, log_dir: pathlib.Path, probe: bool = True) -> subprocess.Popen[str]:
    """A worker process; its stderr goes to ``log_dir/worker-<pid>.log``."""
    args = [sys.executable, "-m", "tests.integration.distributed_support", url, prefix]
    if probe:
        args.append("--probe")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log_dir.mkdir(parents=True, exist_ok=True)
    log = tempfile.NamedTemporaryFile(dir=log_dir, prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(args, cwd=REPO, env=env, stderr=log, text=True)
    proc.log_path = pathlib.Path(log.name)  # type: ignore[attr-defined]
    log.close()
    return proc


def worker_log(proc: subprocess.Popen[str]) -> str:
    return proc.log_path.read_text(errors="replace")  # type: ignore[attr-defined]


def stop_worker(proc: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, int]:
    """SIGTERM (the worker hands its partitions back), then its counters."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return parse_stats(worker_log(proc))


def parse_stats(text: str) -> dict[str, int]:
    for line in reversed(text.splitlines()):
        if line.startswith("stats "):
            return json.loads(line[len("stats ") :])
    return {}


def leftover_keys(client: Any, prefix: str) -> list[str]:
    """Keys under ``prefix`` a finished run must not leave: all but the end
    markers (``P:{R}:end``, which expire by themselves)."""
    left = []
    for raw in client.scan_iter(f"{prefix}:*"):
        key = raw.decode()
        if key.endswith("}:end") and 0 < client.ttl(key) <= 600:
            continue
        left.append(key)
    return left


def keys_without_ttl(client: Any, prefix: str) -> list[str]:
    """Keys under ``prefix`` that would stay forever (``P:runs`` excepted)."""
    return [
        raw.decode() for raw in client.scan_iter(f"{prefix}:*")
        if raw.decode() != f"{prefix}:runs" and client.ttl(raw) == -1
    ]


def read_alerts(outdir: pathlib.Path) -> list[bytes]:
    path = outdir / "alerts.json"
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def main(argv: list[str]) -> int:
    from flowalerts.hosts.distributed.worker import Worker

    url, prefix = argv[0], argv[1]
    probe = "--probe" in argv[2:]
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    worker = Worker(
        url,
        prefix,
        detections=all_detections(probe),
        learners=all_learners(),
        stop=stop,
        reconnect_seconds=10.0,
    )
    print(f"worker {worker.name} pid {os.getpid()}", file=sys.stderr, flush=True)
    worker.serve()
    print("stats " + json.dumps(dict(worker.stats)), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
