"""The ``flowalerts`` command."""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
from collections.abc import Sequence

from flowalerts import __version__
from flowalerts.core.bus import BusError
from flowalerts.core.config import Config, ConfigError, load_config
from flowalerts.core.evidence import escape_text
from flowalerts.core.input.folder import InputError

REPO_CONFIG = pathlib.Path(__file__).resolve().parents[2] / "slips.yaml"


def default_config_path() -> pathlib.Path | None:
    """./slips.yaml, else the repository's slips.yaml, else built-in defaults."""
    for candidate in (pathlib.Path("slips.yaml"), REPO_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowalerts",
        description="Behavioural network detections on Zeek logs (a Slips-style flow_alerts module).",
    )
    parser.add_argument("--version", action="version", version=f"flowalerts {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="analyse a Zeek log folder or file and write alerts")
    run.add_argument("-f", "--file", dest="path", required=True, help="Zeek log folder, or one log file (TSV or JSON, optionally .gz)")
    run.add_argument("-o", "--output", dest="outdir", required=True, help="output folder for alerts.json and alerts.log (created if missing)")
    run.add_argument("-c", "--config", help="configuration file (default: ./slips.yaml, else the repository's slips.yaml)")
    run.add_argument("--redis", metavar="URL", help="use this Redis server (redis://host:port/db) instead of the embedded one")
    run.add_argument("--offline", action="store_true", help="no network lookups at all (whois, ASN, rDNS, feed downloads)")
    run.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    return parser


def _load(args: argparse.Namespace) -> tuple[Config, list[str]]:
    path = pathlib.Path(args.config) if args.config else default_config_path()
    return load_config(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config, config_warnings = _load(args)
        for warning in config_warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.command == "run":
            return _run(args, config)
    except (ConfigError, InputError, BusError) as exc:
        print(f"flowalerts: error: {escape_text(str(exc))}", file=sys.stderr)
        return 2
    return 2


def _run(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.core.runner import RunOptions, run
    from flowalerts.core.summary import format_summary

    emit = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    options = RunOptions(
        path=args.path,
        outdir=args.outdir,
        config=config,
        redis_url=args.redis,
        offline=args.offline or not config.lookups.enabled,
        emit=emit,
    )
    summary = run(options)
    print(format_summary(summary, args.outdir))
    if not summary.complete:
        print("flowalerts: error: some records were read but not processed", file=sys.stderr)
        return 1
    return 130 if summary.interrupted else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
