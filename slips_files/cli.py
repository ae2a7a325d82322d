"""The ``flowalerts`` command.

Subcommands:

* ``run``: analyse a Zeek log folder or file (or follow a live folder with
  ``--follow``) and write alerts.json, alerts.log, alerts_summary.json (and
  alerts.idmef.json with ``--format idmef``);
* ``module``: attach only the FlowAlerts module to a Redis where a Slips-style
  profiler publishes, and publish evidence on ``evidence_added``.

Errors a user can fix (missing path, bad config, unreachable Redis, unwritable
output) are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from flowalerts import __version__
from flowalerts.config import Config, ConfigError, load_config
from flowalerts.evidence import escape_text
from flowalerts.input.folder import InputError
from flowalerts.sink import OutputError


EPILOG = """\
examples:
  flowalerts run -f zeek_logs/ -o out/              analyse a folder of Zeek logs
  flowalerts run -f zeek_logs/ -o out/ --format idmef   also write alerts.idmef.json
  flowalerts run -f /opt/zeek/logs/current -o out/ --follow   follow a live Zeek (Ctrl-C stops)
  flowalerts run -f zeek_logs/ -o out/ --redis redis://127.0.0.1:6379/0
  flowalerts module --redis redis://127.0.0.1:6379/0   attach to a Slips-style Redis

outputs (in the -o folder):
  alerts.json          one evidence per line (JSON, Slips field names)
  alerts.log           alerts first, then one readable line per evidence
  alerts_summary.json  one alert per line (accumulated evidence per profile and time window)
  alerts.idmef.json    one IDMEFv2 object per evidence (--format idmef or output.idmef: true)

exit status: 0 ok, 1 records read but not processed, 2 usage or setup error, 130 interrupted
"""


def default_config_path() -> pathlib.Path | None:
    """./slips.yaml if there is one, else the built-in defaults (the same as
    the shipped slips.yaml)."""
    candidate = pathlib.Path("slips.yaml")
    return candidate if candidate.is_file() else None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowalerts",
        description="Behavioural network detections on Zeek logs (a Slips-style flow_alerts module).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flowalerts {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="analyse a Zeek log folder or file (or follow a live folder) and write alerts",
        description="Analyse Zeek logs (TSV or JSON, optionally .gz) and write the evidence and alerts.",
    )
    run.add_argument("-f", "--file", dest="path", required=True, help="Zeek log folder, or one log file (TSV or JSON, optionally .gz)")
    run.add_argument("-o", "--output", dest="outdir", required=True, help="output folder for alerts.json, alerts.log, alerts_summary.json (created if missing)")
    run.add_argument("-c", "--config", help="configuration file (default: ./slips.yaml, else the repository's slips.yaml)")
    run.add_argument("--redis", metavar="URL", help="use this Redis server (redis://host:port/db) instead of the embedded one")
    run.add_argument("--offline", action="store_true", help="no network lookups at all (whois, ASN, rDNS, feed downloads)")
    run.add_argument(
        "--format",
        choices=("json", "idmef"),
        default=None,
        help="idmef: also write alerts.idmef.json (IDMEFv2, one object per evidence); json (default): alerts.json only",
    )
    run.add_argument("--follow", action="store_true", help="live mode: keep following the folder Zeek writes (survives rotation) until SIGINT/SIGTERM")
    run.add_argument("--poll-interval", type=_positive_float, default=0.5, metavar="SECONDS", help="live mode: how often to look for new lines (default 0.5)")
    run.add_argument(
        "--reorder-seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="live mode: hold records this many seconds of flow time to merge the logs in time order (default 5)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes; print only the summary")

    module = sub.add_parser(
        "module",
        help="attach only the FlowAlerts module to a Redis where a Slips-style profiler publishes",
        description=(
            "Subscribe to new_flow, new_dns, new_ssl, ... and tw_closed on a Slips-style Redis, run the "
            "detections, and publish each evidence as JSON on evidence_added. Stops on SIGINT/SIGTERM."
        ),
    )
    module.add_argument("--redis", metavar="URL", required=True, help="the Redis the profiler publishes to (redis://host:port/db)")
    module.add_argument("-c", "--config", help="configuration file (default: ./slips.yaml, else the repository's slips.yaml)")
    module.add_argument("--version-filter", metavar="VERSION", help="accept only messages whose 'version' field equals VERSION (as Slips does)")
    module.add_argument("--channel-prefix", default="", metavar="PREFIX", help="prefix of every channel name (default none, as in Slips)")
    module.add_argument("-o", "--output", dest="outdir", help="also write alerts.json, alerts.log and alerts_summary.json to this folder")
    module.add_argument("--format", choices=("json", "idmef"), default=None, help="with -o: idmef also writes alerts.idmef.json")
    module.add_argument("--offline", action="store_true", help="no network lookups at all")
    module.add_argument("-q", "--quiet", action="store_true", help="print only the summary")

    feeds = sub.add_parser(
        "update-feeds",
        help="download the threat-intelligence feeds named in the config (JA3, SSL SHA1, Tor exit nodes)",
        description=(
            "Refresh the local feed files from their URLs (threatintelligence.*_url), with a timeout; a failed or "
            "empty download keeps the last good copy. 'run' also refreshes feeds older than a day in the "
            "background unless --offline."
        ),
    )
    feeds.add_argument("-c", "--config", help="configuration file (default: ./slips.yaml, else the repository's slips.yaml)")
    return parser


def _load(args: argparse.Namespace) -> tuple[Config, list[str]]:
    from flowalerts.modules.flow_alerts.detection import config_sections

    path = pathlib.Path(args.config) if args.config else default_config_path()
    if args.config and not path.exists():
        raise ConfigError(f"configuration file not found: {path}")
    return load_config(path, sections=config_sections())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config, config_warnings = _load(args)
        if not getattr(args, "quiet", False):
            for warning in config_warnings:
                print(f"warning: {warning}", file=sys.stderr)
        if getattr(args, "format", None) == "idmef":
            config.output.idmef = True
        if args.command == "run":
            return _run(args, config)
        if args.command == "module":
            return _module(args, config)
        if args.command == "update-feeds":
            from flowalerts.knowledge.feeds import refresh_feeds

            results = refresh_feeds(config, notify=lambda text: print(escape_text(text), file=sys.stderr))
            return 0 if results and all(results.values()) else 1
    except (ConfigError, InputError, OutputError) as exc:
        print(f"flowalerts: error: {escape_text(str(exc))}", file=sys.stderr)
        return 2
    except PermissionError as exc:
        print(f"flowalerts: error: permission denied: {escape_text(str(exc.filename or exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flowalerts: interrupted", file=sys.stderr)
        return 130
    return 2


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

    from flowalerts.input.folder import discover
    from flowalerts.input.warnings import InputWarnings

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
        except (OSError, EOFError, ValueError):
            continue
        lines = [line for line in sample.split(b"\n") if line and not line.startswith(b"#")]
        if lines:
            total += size / (sum(len(line) + 1 for line in lines) / len(lines))
    return int(total) or None


def _run(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.runner import RunOptions, run
    from flowalerts.summary import format_summary

    emit = (lambda text: None) if args.quiet else (lambda text: print(escape_text(text), file=sys.stderr))
    progress: Progress | None = None
    if not args.quiet and sys.stderr.isatty():
        total = None if args.follow else estimate_records(args.path)
        progress = Progress(sys.stderr, total)
        plain_emit = emit

        def emit(text: str) -> None:
            progress.close()
            plain_emit(text)

    options = RunOptions(
        path=args.path,
        outdir=args.outdir,
        config=config,
        offline=args.offline or not config.lookups.enabled,
        emit=emit,
        progress=progress,
    )
    if not options.offline:
        _refresh_stale_feeds_in_background(config, emit)
    if args.follow:
        from flowalerts.input.follow import FollowReader

        stop = threading.Event()
        options.live = True
        options.stop_event = stop
        options.reader_factory = lambda path, warnings: FollowReader(
            path, warnings, stop, poll_interval=args.poll_interval, reorder_seconds=args.reorder_seconds,
            idle_release=max(5 * args.poll_interval, 1.0),
        )
        emit(f"following {args.path} (Ctrl-C or SIGTERM to stop)")
    try:
        summary = run(options)
    finally:
        if progress is not None:
            progress.close()
    print(format_summary(summary, args.outdir))
    if not summary.complete:
        print("flowalerts: error: some records were read but not processed", file=sys.stderr)
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


def _module(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.attach import AttachOptions, format_attach_summary, run_attached
    from flowalerts.lookups import NullLookups

    emit = (lambda text: None) if args.quiet else (lambda text: print(escape_text(text), file=sys.stderr))
    options = AttachOptions(
        redis_url=args.redis,
        config=config,
        version_filter=args.version_filter,
        outdir=args.outdir,
        lookups=NullLookups() if args.offline or not config.lookups.enabled else None,
        emit=emit,
        channel_prefix=args.channel_prefix,
    )
    emit(f"attached to {args.redis}: publishing evidence on {args.channel_prefix}evidence_added (Ctrl-C to stop)")
    summary = run_attached(options)
    print(format_attach_summary(summary))
    return 130 if summary.interrupted else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
