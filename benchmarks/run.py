"""Benchmark runner: the real ``flowalerts run`` command, whole process tree.

    python benchmarks/run.py --sizes 100000,1000000 --modes embedded,redis:1,redis:2,redis:4 --recovery

For every size N it generates (once, cached under ``--data``) the logs of
``benchmarks/generate.py`` and runs, as a child process,

    flowalerts run -f <data> -o <out> --offline -q                         (embedded)
    flowalerts run -f <data> -o <out> --offline -q --redis URL --workers W  (redis:W)

against ``--redis-url``, or else a private ``redis-server`` this script starts
on a free port (no persistence) and stops at the end. For each run it reports:
lines/s over the wall time; CPU seconds of the whole tree (producer and
workers, from ``wait4``) plus the Redis server's (``INFO cpu``), and lines per
CPU-second with and without Redis; the peak RSS of every process (embedded:
``wait4``; redis: the ``note: resources:`` lines the producer prints for itself
and for each worker); the evidence count; read == processed; and the load
average (the machine may be shared: per-CPU-second figures mean more than
wall-clock ones there).

``--recovery``: for each size, a redis run with 2 workers in which one worker
is killed with SIGKILL once half the input was read (the producer restarts it;
it resumes its partition from the last checkpoint), compared with the
uninterrupted redis:2 run: the same set of alerts.json lines, no line twice.

The markdown report goes to stdout and to ``--report`` (default
``benchmarks/results/<date>.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

_ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
_RESOURCE = re.compile(r"resources: (producer|worker (\S+)) peak RSS (\d+) MB, CPU ([0-9.]+)s")


@dataclass
class Result:
    mode: str
    n: int
    lines: int
    wall: float
    cpu: float  # producer + workers
    redis_cpu: float
    rss: dict[str, int]  # process -> peak RSS MB
    evidence: int
    read: int
    processed: int
    returncode: int
    command: str
    load_before: float
    load_after: float
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.lines / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.lines / self.cpu if self.cpu > 0 else 0.0

    @property
    def cpu_rate_all(self) -> float:
        total = self.cpu + self.redis_cpu
        return self.lines / total if total > 0 else 0.0

    @property
    def complete(self) -> bool:
        return self.returncode == 0 and self.read == self.processed == self.lines


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores (nproc), {model}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def ensure_data(data_dir: pathlib.Path, n: int, seed: int) -> tuple[pathlib.Path, int]:
    folder = data_dir / f"n{n}-s{seed}-v2"
    marker = folder / ".complete"
    if not marker.exists():
        counts = generate.generate(str(folder), n, seed)
        marker.write_text(f"{sum(counts.values())}\n")
    return folder, int(marker.read_text())


class PrivateRedis:
    """A redis-server on a free port of 127.0.0.1, no persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        if binary is None:
            raise SystemExit("no redis-server on PATH: install it, or give --redis-url")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="flowalerts-bench-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_cpu(url: str) -> float:
    import redis

    info = redis.Redis.from_url(url).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run_once(
    folder: pathlib.Path, outdir: pathlib.Path, mode: str, redis_url: str | None, flowalerts: list[str],
    kill_at: float | None = None,
) -> tuple[subprocess.CompletedProcess, float, int, float, str, list[str]]:
    cmd = [*flowalerts, "run", "-f", str(folder), "-o", str(outdir), "--offline", "-q"]
    if mode.startswith("redis:"):
        cmd += ["--redis", redis_url or "", "--workers", mode.split(":", 1)[1]]
    outdir.mkdir(parents=True, exist_ok=True)
    stdout_path = outdir / "stdout.txt"
    stderr_path = outdir / "stderr.txt"
    events: list[str] = []
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err)
        killer = None
        if kill_at is not None:
            killer = threading.Thread(target=_kill_one_worker, args=(child.pid, kill_at, events), daemon=True)
            killer.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    completed = subprocess.CompletedProcess(cmd, child.returncode, stdout_path.read_text(), stderr_path.read_text())
    shown = [part if "redis://" not in part else re.sub(r"//[^@/]*@", "//***@", part) for part in cmd]
    return completed, wall, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime, shlex.join(shown), events


def _kill_one_worker(producer_pid: int, delay: float, events: list[str]) -> None:
    """SIGKILL one worker process (a child of the producer) after ``delay`` seconds."""
    import psutil

    time.sleep(delay)
    try:
        children = psutil.Process(producer_pid).children()
    except psutil.Error:
        return
    workers = [child for child in children if "worker" in " ".join(child.cmdline())]
    if workers:
        os.kill(workers[0].pid, signal.SIGKILL)
        events.append(f"SIGKILL worker pid {workers[0].pid} at {delay:.1f}s")


def measure(
    mode: str, n: int, folder: pathlib.Path, lines: int, outdir: pathlib.Path, redis_url: str | None,
    flowalerts: list[str], kill_at: float | None = None,
) -> Result:
    load_before = os.getloadavg()[0]
    redis_before = redis_cpu(redis_url) if mode != "embedded" and redis_url else 0.0
    completed, wall, peak_mb, cpu, command, events = run_once(folder, outdir, mode, redis_url, flowalerts, kill_at)
    redis_after = redis_cpu(redis_url) if mode != "embedded" and redis_url else 0.0
    load_after = os.getloadavg()[0]
    read = processed = 0
    for line in completed.stdout.splitlines():
        row = _ROW.match(line)
        if row and row.group(1) != "log":
            read += int(row.group(2))
            processed += int(row.group(3))
    rss: dict[str, int] = {}
    if mode == "embedded":
        rss["process"] = peak_mb
    for match in _RESOURCE.finditer(completed.stderr):
        name = "producer" if match.group(1) == "producer" else f"worker {len(rss)}"
        rss[name] = int(match.group(3))
    evidence = 0
    alerts = outdir / "alerts.json"
    if alerts.exists():
        with open(alerts, "rb") as handle:
            evidence = sum(1 for _ in handle)
    if completed.returncode != 0:
        sys.stderr.write(f"{command} exited {completed.returncode}:\n{completed.stderr[-2000:]}\n")
    notes = events + [line for line in completed.stderr.splitlines() if "restarting" in line or "dropped" in line]
    return Result(
        mode, n, lines, wall, cpu, redis_after - redis_before, rss, evidence, read, processed,
        completed.returncode, command, load_before, load_after, notes,
    )


def alert_lines(outdir: pathlib.Path) -> list[bytes]:
    return [line for line in (outdir / "alerts.json").read_bytes().split(b"\n") if line.strip()]


def report(results: list[Result], recoveries: list[str], commands: list[str]) -> str:
    out = [f"# Flowalerts benchmark, {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", ""]
    out.append(f"Machine: {machine()}")
    out.append("")
    out.append(
        "| mode | N conn | log lines | wall s | lines/s (wall) | CPU s (producer+workers) | lines/CPU-s "
        "| Redis CPU s | lines/CPU-s incl. Redis | peak RSS MB per process | evidence | load avg before/after | complete |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|")
    for r in results:
        rss = ", ".join(f"{name} {mb}" for name, mb in r.rss.items()) or "-"
        redis_cpu_text = f"{r.redis_cpu:.1f}" if r.mode != "embedded" else "-"
        out.append(
            f"| {r.mode} | {r.n:,} | {r.lines:,} | {r.wall:.1f} | {r.rate:,.0f} | {r.cpu:.1f} | {r.cpu_rate:,.0f} "
            f"| {redis_cpu_text} | {r.cpu_rate_all:,.0f} | {rss} | {r.evidence:,} | {r.load_before:.1f} / {r.load_after:.1f} "
            f"| {'yes' if r.complete else 'NO'} (read {r.read:,}, processed {r.processed:,}) |"
        )
    if recoveries:
        out.append("")
        out.append("Recovery (one of 2 workers killed with SIGKILL at half the expected run time):")
        out.append("")
        out.extend(f"- {line}" for line in recoveries)
    out.append("")
    out.append("Commands:")
    out.append("")
    out.extend(f"    {command}" for command in commands)
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the flowalerts throughput/memory/scaling benchmark.")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated N conn records")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="embedded,redis:1,redis:2,redis:4", help="embedded and/or redis:W (W local workers)")
    parser.add_argument("--recovery", action="store_true", help="also run the SIGKILL recovery test (redis, 2 workers)")
    parser.add_argument("--redis-url", help="Redis/Valkey to use (default: a private redis-server started here)")
    parser.add_argument("--data", default="/tmp/flowalerts-bench", help="where generated logs are cached")
    parser.add_argument("--out", default=None, help="where run outputs go (default <data>/out)")
    parser.add_argument("--report", default=None, help="markdown report path (default benchmarks/results/<date>.md)")
    parser.add_argument("--flowalerts", default=f"{sys.executable} -m flowalerts", help="command that runs flowalerts")
    args = parser.parse_args(argv)

    sizes = [int(size) for size in args.sizes.split(",") if size]
    modes = [mode for mode in args.modes.split(",") if mode]
    server = None
    redis_url = args.redis_url
    if redis_url is None and (args.recovery or any(mode.startswith("redis:") for mode in modes)):
        server = PrivateRedis()
        redis_url = server.url
    data = pathlib.Path(args.data)
    out_root = pathlib.Path(args.out) if args.out else data / "out"
    flowalerts = shlex.split(args.flowalerts)
    commands = [shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])]
    report_path = pathlib.Path(args.report) if args.report else HERE / "results" / f"{dt.date.today().isoformat()}.md"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    recoveries: list[str] = []
    ok = True
    try:
        for n in sizes:
            folder, lines = ensure_data(data, n, args.seed)
            commands.append(shlex.join(["python", "benchmarks/generate.py", "-n", str(n), "--seed", str(args.seed), "-o", str(folder)]))
            for mode in modes:
                result = measure(mode, n, folder, lines, out_root / f"{mode.replace(':', '')}-n{n}", redis_url, flowalerts)
                results.append(result)
                commands.append(result.command)
                ok &= result.complete
                sys.stderr.write(f"{mode} N={n}: {result.rate:,.0f} lines/s, {result.cpu_rate:,.0f} lines/CPU-s, {result.wall:.1f}s\n")
                report_path.write_text(report(results, recoveries, commands))
            if args.recovery:
                base_dir = out_root / f"redis2-n{n}"
                baseline = next((r for r in results if r.mode == "redis:2" and r.n == n), None)
                if baseline is None:
                    baseline = measure("redis:2", n, folder, lines, base_dir, redis_url, flowalerts)
                    results.append(baseline)
                kill_dir = out_root / f"recovery-n{n}"
                killed = measure("redis:2", n, folder, lines, kill_dir, redis_url, flowalerts, kill_at=baseline.wall / 2)
                killed.mode = "redis:2 + SIGKILL"
                results.append(killed)
                commands.append(killed.command + "   # + SIGKILL of one worker at half time")
                reference, got = alert_lines(base_dir), alert_lines(kill_dir)
                same = set(reference) == set(got)
                unique = len(got) == len(set(got))
                ok &= same and unique and killed.complete
                recoveries.append(
                    f"N={n:,}: {'; '.join(killed.notes) or 'no kill happened'}; evidence lines {len(got):,} vs "
                    f"{len(reference):,} uninterrupted; same set: {'yes' if same else 'NO'}; duplicates: "
                    f"{'none' if unique else len(got) - len(set(got))}; wall {killed.wall:.1f}s vs {baseline.wall:.1f}s"
                )
                report_path.write_text(report(results, recoveries, commands))
    finally:
        if server is not None:
            server.stop()
    text = report(results, recoveries, commands)
    print(text)
    report_path.write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
