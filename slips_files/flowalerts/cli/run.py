"""``flowalerts run``: analyse a Zeek folder (or follow a live one)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from typing import TextIO

from flowalerts.cli.common import add_config_argument, non_negative_int, positive_float, stderr_emit
from flowalerts.core.config import Config
from flowalerts.io.input.folder import InputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="analyse a Zeek log folder or file (or follow a live folder) and write alerts",
        description="Analyse Zeek logs (TSV or JSON, optionally .gz) and write the evidence and alerts.",
    )
    run.add_argument("-f", "--file", dest="path", default=None, help="Zeek log folder, or one log file (TSV or JSON, optionally .gz)")
    run.add_argument("-o", "--output", dest="outdir", default=None, help="output folder for alerts.json, alerts.log, alerts_summary.json (created if missing)")
    add_config_argument(run)
    run.add_argument("--offline", action="store_true", help="no network lookups at all (whois/RDAP, rDNS, feed downloads)")
    run.add_argument(
        "--format",
        choices=("json", "idmef"),
        default=None,
        help="idmef: also write alerts.idmef.json (IDMEFv2); json (default): alerts.json only",
    )
    run.add_argument("--follow", action="store_true", help="live mode: keep following the folder Zeek writes (survives rotation) until SIGINT/SIGTERM")
    run.add_argument("--poll-interval", type=positive_float, default=0.5, metavar="SECONDS", help="live mode: how often to look for new lines (default 0.5)")
    run.add_argument("--report", action="store_true", help="also write OUT_DIR/report.html (see 'flowalerts report')")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar; print warnings and the summary only")
    scale = run.add_argument_group("distributed run (see 'flowalerts worker')")
    scale.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="spread the detections over worker processes through this Redis/Valkey "
        "(redis://[:password@]host:port/db; default: redis.url of the config, else in-process)",
    )
    scale.add_argument(
        "--workers",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="worker processes to start on this machine (default 1 with --redis; 0: only workers "
        "started elsewhere with 'flowalerts worker')",
    )
    scale.add_argument(
        "--cleanup",
        metavar="RUN_ID",
        default=None,
        help="delete every key a killed producer left of run RUN_ID on --redis (no -f/-o), then exit",
    )
    scale.add_argument(
        "--partitions",
        type=non_negative_int,
        default=None,
        metavar="P",
        help="profile partitions (default redis.partitions, else one per local worker); more "
        "partitions than workers lets workers that join later share the load",
    )
    run.set_defaults(handler=main)


class Progress:
    """A one-line progress bar on a terminal: records, records/s and ETA."""

    def __init__(self, stream: TextIO, total: int | None = None, interval: float = 0.2) -> None:
        self.stream = stream
        self.total = total
        self.interval = interval
        self.started = time.monotonic()
        self._last = 0.0
        self._first = True
        self._base = 0
        self.shown = False

    def __call__(self, count: int) -> None:
        now = time.monotonic()
        if self._first:
            # Time from the first record, not from startup (feeds, config).
            self._first = False
            self._base = count
            self.started = now
            self._last = now
            return
        if now - self._last < self.interval:
            return
        self._last = now
        self.stream.write("\r" + self.render(count, now - self.started) + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def render(self, count: int, elapsed: float) -> str:
        rate = (count - self._base) / elapsed if elapsed > 0 else 0.0
        if not self.total:
            return f"{count:,} records  {rate:,.0f} records/s  {_clock(elapsed)}"
        fraction = min(1.0, count / self.total) if self.total else 0.0
        width = 28
        filled = int(fraction * width)
        bar = "#" * filled + "." * (width - filled)
        eta = (self.total - count) / rate if rate > 0 and count < self.total else 0.0
        return f"[{bar}] {fraction:4.0%} {count:,}/~{self.total:,} records  {rate:,.0f} records/s  ETA {_clock(eta)}"

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def estimate_records(path: str, sample_bytes: int = 1 << 16) -> int | None:
    """A cheap estimate of the number of records under ``path`` for the ETA.

    Input size divided by the average line length of the first 64 KB of each
    file (gzip: its uncompressed size from the trailer). None if unknown.
    """
    import gzip
    import zlib

    from flowalerts.io.input.folder import discover
    from flowalerts.io.input.warnings import InputWarnings

    try:
        files = discover(path, InputWarnings(emit=lambda text: None))
    except InputError:
        return None
    total = 0.0
    for _, file_path in files:
        try:
            if file_path.endswith(".gz"):
                with open(file_path, "rb") as raw:
                    raw.seek(-4, os.SEEK_END)
                    size = int.from_bytes(raw.read(4), "little")
                with gzip.open(file_path, "rb") as handle:
                    sample = handle.read(sample_bytes)
            else:
                size = os.path.getsize(file_path)
                with open(file_path, "rb") as handle:
                    sample = handle.read(sample_bytes)
        except (OSError, EOFError, ValueError, zlib.error):
            continue
        lines = [line for line in sample.split(b"\n") if line and not line.startswith(b"#")]
        if lines:
            total += size / (sum(len(line) + 1 for line in lines) / len(lines))
    return int(total) or None


def cleanup(args: argparse.Namespace, config: Config) -> int:
    """``run --redis URL --cleanup RUN_ID``: what a killed producer left."""
    import redis

    from flowalerts.core.urls import RedisUrlError, check_redis_url, redact_url
    from flowalerts.hosts.distributed.streams import BusError, connect
    from flowalerts.hosts.distributed.streams import cleanup as delete_run

    url = args.redis or config.redis.url
    if not url:
        print("flowalerts: error: --cleanup needs a Redis: --redis URL (or redis.url in the config)", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[0-9a-f]{12}", args.cleanup):
        print(f"flowalerts: error: --cleanup: {args.cleanup!r} is no run id (12 hex digits)", file=sys.stderr)
        return 2
    try:
        check_redis_url(url)
        client = connect(url, timeout=10)
        deleted = delete_run(client, config.redis.key_prefix, args.cleanup)
    except (RedisUrlError, BusError) as exc:
        print(f"flowalerts: error: {exc}", file=sys.stderr)
        return 2
    except (redis.RedisError, OSError) as exc:
        print(f"flowalerts: error: cleanup of run {args.cleanup} on {redact_url(url)} failed: {exc}", file=sys.stderr)
        return 2
    stderr_emit(f"run {args.cleanup}: deleted {deleted} key(s) on {redact_url(url)}")
    return 0


def main(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.hosts.standalone import RunOptions, run
    from flowalerts.io.sink import prepare_outdir
    from flowalerts.io.summary import format_summary

    if args.cleanup is not None:
        return cleanup(args, config)
    missing = [name for name, value in (("-f/--file", args.path), ("-o/--output", args.outdir)) if value is None]
    if missing:
        print(f"flowalerts run: error: the following arguments are required: {', '.join(missing)}", file=sys.stderr)
        return 2

    # A bad -o is a usage error, said before anything is read (run() checks again).
    prepare_outdir(args.outdir)

    # Warnings and notes are shown even with -q (only the progress bar goes).
    emit = stderr_emit
    progress: Progress | None = None
    if not args.quiet and sys.stderr.isatty():
        total = None if args.follow else estimate_records(args.path)
        progress = Progress(sys.stderr, total)
        plain_emit = emit

        def emit(text: str) -> None:
            progress.close()
            plain_emit(text)

    redis_url = args.redis or config.redis.url
    if args.redis is not None:
        from flowalerts.core.urls import RedisUrlError, check_redis_url

        try:
            check_redis_url(args.redis)
        except RedisUrlError as exc:
            print(f"flowalerts: error: {exc}", file=sys.stderr)
            return 2
    if args.redis is None and redis_url is None and (args.workers or args.partitions):
        print("flowalerts: error: --workers/--partitions need a Redis: --redis URL (or redis.url in the config)", file=sys.stderr)
        return 2
    options = RunOptions(
        path=args.path,
        outdir=args.outdir,
        config=config,
        offline=args.offline or not config.lookups.enabled,
        emit=emit,
        progress=progress,
        redis_url=redis_url,
        workers=1 if args.workers is None else args.workers,
        partitions=args.partitions or 0,
        quiet=args.quiet,
    )
    if not options.offline:
        _refresh_stale_feeds_in_background(config, emit)
    if args.follow:
        from flowalerts.io.input.follow import FollowReader

        stop = threading.Event()
        options.live = True
        options.stop_event = stop
        options.reader_factory = lambda path, warnings: FollowReader(
            path, warnings, stop, poll_interval=args.poll_interval, reorder_seconds=5.0,
            idle_release=max(5 * args.poll_interval, 1.0), limits=config.input,
        )
        emit(f"following {args.path} (Ctrl-C or SIGTERM to stop)")
    import redis

    from flowalerts.hosts.distributed.streams import BusError, Stalled

    try:
        summary = run(options)
    except Stalled as exc:
        # No live worker made progress (all dead, crash-looping, stuck), or a
        # partition cannot be recovered: the run is incomplete.
        stderr_emit(f"flowalerts: error: {exc}: stopping; the outputs are incomplete")
        return 1
    except BusError as exc:
        stderr_emit(f"flowalerts: error: {exc}")
        return 2
    except redis.ResponseError as exc:
        # A Redis that lost the run's keys mid-run (restarted without
        # persistence, FLUSHALL, evicted under maxmemory) answers "no such key"
        # or NOGROUP: the run cannot go on, say so in one line.
        if options.redis_url is None:
            raise
        from flowalerts.core.urls import redact

        if str(exc).startswith("OOM"):
            stderr_emit(f"flowalerts: error: Redis refused a write ({redact(str(exc))}): stopping; the outputs are "
                        "incomplete (give Redis more maxmemory)")
            return 2
        stderr_emit(f"flowalerts: error: Redis lost this run's keys mid-run ({redact(str(exc))}): stopping; "
                    "the outputs are incomplete (run Redis without eviction, keep it up for the run)")
        return 2
    finally:
        if progress is not None:
            progress.close()
    print(format_summary(summary, args.outdir))
    if args.report:
        from flowalerts.cli.report import make_report
        from flowalerts.io.sink import OutputError

        try:
            make_report(args.outdir, args.path)
        except OutputError as exc:
            stderr_emit(f"flowalerts: error: report: {exc}")
            return summary.exit_status or 2
    if summary.input_unusable:
        skipped = sum(summary.skipped.values())
        print(f"flowalerts: error: input unusable: none of the {skipped} lines read is a usable Zeek record "
              "(see the warnings)", file=sys.stderr)
    elif not summary.all_processed:
        print("flowalerts: error: some records were read but not processed", file=sys.stderr)
    elif summary.unread_input:
        print(f"flowalerts: error: input not fully read ({len(summary.unread_input)} problem(s), see the summary)",
              file=sys.stderr)
    return summary.exit_status


FEED_MAX_AGE_SECONDS = 86400.0


def _refresh_stale_feeds_in_background(config: Config, emit) -> threading.Thread | None:
    """Refresh feed files older than a day, off the hot path.

    The feeds of this run are already loaded; a refresh serves the next run.
    The thread is a daemon: a slow download never delays the end of a run.
    """
    import time

    from flowalerts.knowledge.feeds import refresh_feeds

    ti = config.threatintelligence
    paths = [config.path(p) for p in (ti.ja3_feed, ti.ssl_feed, ti.tor_exit_nodes) if p]
    now = time.time()
    if not any(not p.exists() or now - p.stat().st_mtime > FEED_MAX_AGE_SECONDS for p in paths):
        return None
    thread = threading.Thread(target=refresh_feeds, args=(config, emit), name="feed-refresh", daemon=True)
    thread.start()
    return thread


