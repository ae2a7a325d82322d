"""Benchmark runner: the real ``flowalerts run`` command, whole process.

    python benchmarks/run.py --sizes 10000,100000,1000000 \
        --redis-url redis://127.0.0.1:6379/5 --data /tmp/flowalerts-bench

For every size N it generates (once, cached under ``--data``) the logs of
``benchmarks/generate.py`` and runs, as a child process,

    flowalerts run -f <data>/n<N> -o <out> --offline -q [--redis <url>]

embedded (in-process fakeredis) and, with ``--redis-url``, against that real
Redis. It reports records/s (all log lines read, over the child's wall time and
as printed by the summary line), wall time, the child's peak RSS (from
``wait4``'s rusage), the evidence count (lines of alerts.json), the parse
floor (a separate child that only ``json.loads`` every line with the standard
library) and our time / parse floor, plus Redis ``used_memory`` before and
after the real-Redis runs. The markdown report goes to stdout and to
``benchmarks/results/<date>.md`` (or ``--report``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

_SUMMARY = re.compile(r"records: (\d+) in ([0-9.]+)s \(([0-9,]+) records/s\)")
_ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")

_PARSE_FLOOR = """
import json, os, sys, time
folder = sys.argv[1]
started = time.perf_counter()
lines = 0
for name in sorted(os.listdir(folder)):
    if name.endswith('.log'):
        with open(os.path.join(folder, name), 'rb') as handle:
            for line in handle:
                json.loads(line)
                lines += 1
print(lines, time.perf_counter() - started)
"""


@dataclass
class Result:
    mode: str
    n: int
    lines: int
    wall: float
    internal_rate: float
    peak_rss_mb: float
    evidence: int
    floor: float
    read: int
    processed: int
    returncode: int
    command: str
    cpu: float = 0.0
    load: float = 0.0
    redis_before: int | None = None
    redis_after: int | None = None

    @property
    def rate(self) -> float:
        return self.lines / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        """Records per CPU second of the child: robust to other load on the machine."""
        return self.lines / self.cpu if self.cpu > 0 else 0.0

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
    folder = data_dir / f"n{n}-s{seed}"
    marker = folder / ".complete"
    if not marker.exists():
        counts = generate.generate(str(folder), n, seed)
        marker.write_text(f"{sum(counts.values())}\n")
    return folder, int(marker.read_text())


def parse_floor(folder: pathlib.Path) -> float:
    out = subprocess.run([sys.executable, "-c", _PARSE_FLOOR, str(folder)], check=True, capture_output=True, text=True)
    return float(out.stdout.split()[1])


def redis_used_memory(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("memory")["used_memory"])


def run_once(
    folder: pathlib.Path, outdir: pathlib.Path, redis_url: str | None, flowalerts: list[str]
) -> tuple[subprocess.CompletedProcess, float, float, float, str]:
    cmd = [*flowalerts, "run", "-f", str(folder), "-o", str(outdir), "--offline", "-q"]
    if redis_url:
        cmd += ["--redis", redis_url]
    outdir.mkdir(parents=True, exist_ok=True)
    stdout_path = outdir / "stdout.txt"
    stderr_path = outdir / "stderr.txt"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux.
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    completed = subprocess.CompletedProcess(cmd, child.returncode, stdout_path.read_text(), stderr_path.read_text())
    return completed, wall, peak_mb, cpu, shlex.join(cmd)


def measure(mode: str, n: int, folder: pathlib.Path, lines: int, floor: float, outdir: pathlib.Path, redis_url: str | None, flowalerts: list[str]) -> Result:
    before = after = None
    if redis_url:
        # Not flushed: each run uses its own random key prefix and removes its
        # keys at exit; used_memory is server-wide (all DBs, all clients).
        before = redis_used_memory(redis_url)
    load = os.getloadavg()[0]
    completed, wall, peak_mb, cpu, command = run_once(folder, outdir, redis_url, flowalerts)
    load = max(load, os.getloadavg()[0])
    if redis_url:
        after = redis_used_memory(redis_url)
    match = _SUMMARY.search(completed.stdout)
    internal_rate = float(match.group(3).replace(",", "")) if match else 0.0
    read = processed = 0
    for line in completed.stdout.splitlines():
        row = _ROW.match(line)
        if row and row.group(1) != "log":
            read += int(row.group(2))
            processed += int(row.group(3))
    alerts = outdir / "alerts.json"
    evidence = 0
    if alerts.exists():
        with open(alerts, "rb") as handle:
            evidence = sum(1 for _ in handle)
    if completed.returncode != 0:
        sys.stderr.write(f"{command} exited {completed.returncode}:\n{completed.stderr[-2000:]}\n")
    return Result(
        mode, n, lines, wall, internal_rate, peak_mb, evidence, floor, read, processed,
        completed.returncode, command, cpu, load, before, after,
    )


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f}"


def report(results: list[Result], commands: list[str]) -> str:
    out = [f"# Flowalerts benchmark, {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}", ""]
    out.append(f"Machine: {machine()}")
    out.append("")
    out.append(
        "| mode | N conn | log lines | wall s | records/s (wall) | records/s (summary) | CPU s | records/CPU-s "
        "| peak RSS MB | evidence | parse floor s | ours / floor (wall) | load avg | Redis used_memory MB before -> after "
        "| complete |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in results:
        redis_mem = "-" if r.redis_before is None else f"{_mb(r.redis_before)} -> {_mb(r.redis_after)}"
        ratio = r.wall / r.floor if r.floor > 0 else 0.0
        out.append(
            f"| {r.mode} | {r.n:,} | {r.lines:,} | {r.wall:.1f} | {r.rate:,.0f} | {r.internal_rate:,.0f} "
            f"| {r.cpu:.1f} | {r.cpu_rate:,.0f} | {r.peak_rss_mb:.0f} | {r.evidence:,} | {r.floor:.2f} | {ratio:.1f}x "
            f"| {r.load:.1f} | {redis_mem} "
            f"| {'yes' if r.complete else 'NO'} (read {r.read:,}, processed {r.processed:,}) |"
        )
    out.append("")
    out.append("Commands:")
    out.append("")
    out.extend(f"    {command}" for command in commands)
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the flowalerts throughput/memory benchmark.")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated N conn records")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="embedded,redis", help="embedded and/or redis (redis needs --redis-url)")
    parser.add_argument("--redis-url", help="real Redis for the redis mode, e.g. redis://127.0.0.1:6379/5 (its DB is flushed)")
    parser.add_argument("--data", default="/tmp/flowalerts-bench", help="where generated logs are cached")
    parser.add_argument("--out", default=None, help="where run outputs go (default <data>/out)")
    parser.add_argument("--report", default=None, help="markdown report path (default benchmarks/results/<date>.md)")
    parser.add_argument("--flowalerts", default=f"{sys.executable} -m flowalerts", help="command that runs flowalerts")
    args = parser.parse_args(argv)

    sizes = [int(size) for size in args.sizes.split(",") if size]
    modes = [mode for mode in args.modes.split(",") if mode]
    if "redis" in modes and not args.redis_url:
        modes.remove("redis")
        sys.stderr.write("no --redis-url: skipping the real-Redis runs\n")
    data = pathlib.Path(args.data)
    out_root = pathlib.Path(args.out) if args.out else data / "out"
    flowalerts = shlex.split(args.flowalerts)
    commands = [shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])]
    report_path = pathlib.Path(args.report) if args.report else HERE / "results" / f"{dt.date.today().isoformat()}.md"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    for n in sizes:
        folder, lines = ensure_data(data, n, args.seed)
        commands.append(shlex.join([sys.executable, str(HERE / "generate.py"), "-n", str(n), "--seed", str(args.seed), "-o", str(folder)]))
        floor = parse_floor(folder)
        for mode in modes:
            url = args.redis_url if mode == "redis" else None
            result = measure(mode, n, folder, lines, floor, out_root / f"{mode}-n{n}", url, flowalerts)
            results.append(result)
            commands.append(result.command)
            sys.stderr.write(f"{mode} N={n}: {result.rate:,.0f} records/s, {result.wall:.1f}s, {result.peak_rss_mb:.0f} MB\n")
            # Written after every run, so a long run that is stopped keeps its rows.
            report_path.write_text(report(results, commands))
    text = report(results, commands)
    print(text)
    report_path.write_text(text)
    return 0 if all(r.complete for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
