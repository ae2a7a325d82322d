"""The ``flowalerts`` command.

Each subcommand lives in ``flowalerts.cli.<name>`` with ``add_parser``
and ``main(args, config)``. Errors a user can fix (missing path, bad config,
unreachable Redis, unwritable output) are printed as one line, never as a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pathlib
import sys
from collections.abc import Sequence

from flowalerts import __version__
from flowalerts.core.config import Config, ConfigError, load_config
from flowalerts.core.evidence import escape_text
from flowalerts.core.urls import redact
from flowalerts.io.input.folder import InputError, InputUnusable
from flowalerts.io.sink import OutputError
from flowalerts.io.summary import EXIT_INPUT_UNUSABLE, EXIT_USAGE

# Subcommand modules, in the order --help lists them.
COMMANDS = ("run", "module", "worker", "slips_install", "score", "feeds", "config")

EPILOG = """\
examples:
  flowalerts run -f zeek_logs/ -o out/              analyse a folder of Zeek logs
  flowalerts run -f zeek_logs/ -o out/ --format idmef   also write alerts.idmef.json
  flowalerts run -f /opt/zeek/logs/current -o out/ --follow   follow a live Zeek (Ctrl-C stops)

outputs (in the -o folder):
  alerts.json          one evidence per line (JSON, Slips field names)
  alerts.log           alerts first, then one readable line per evidence
  alerts_summary.json  one alert per line (accumulated evidence per profile and time window)
  alerts.idmef.json    IDMEFv2 Events and Incidents (--format idmef or output.idmef: true)

exit status: 0 ok, 1 incomplete (input not fully read, or records read but not
  processed), 2 usage or setup error, 3 degraded (a detection raised; see the
  summary), 4 input unusable (nothing in it could be read or used), 130 interrupted
"""



def error(text: str) -> None:
    """One line on stderr: escaped, secrets redacted."""
    print(f"flowalerts: error: {redact(escape_text(text))}", file=sys.stderr)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def default_config_path() -> pathlib.Path | None:
    """./slips.yaml if there is one, else the built-in defaults (the same as
    the shipped slips.yaml)."""
    candidate = pathlib.Path("slips.yaml")
    return candidate if candidate.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowalerts",
        description="Behavioural network detections on Zeek logs (the flow_alerts module of Slips).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flowalerts {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"flowalerts.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"flowalerts.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def load(args: argparse.Namespace) -> tuple[Config, list[str]]:
    from flowalerts.engine.detection import config_sections

    if getattr(args, "config_free", False):
        # The command uses no configuration (slips-install): a ./slips.yaml of
        # another tool or version in the current folder must not stop it.
        return load_config(None, sections=config_sections())
    path = pathlib.Path(args.config) if getattr(args, "config", None) else default_config_path()
    if getattr(args, "config", None) and not path.exists():
        raise ConfigError(f"configuration file not found: {path}")
    return load_config(path, sections=config_sections())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    try:
        config, config_warnings = load(args)
        for warning in config_warnings:
            print(f"warning: {redact(escape_text(warning))}", file=sys.stderr)
        if getattr(args, "format", None) == "idmef":
            config.output.idmef = True
        return args.handler(args, config)
    except InputUnusable as exc:
        error(f"input unusable: {exc}")
        return EXIT_INPUT_UNUSABLE
    except (ConfigError, InputError, OutputError) as exc:
        error(str(exc))
        return EXIT_USAGE
    except PermissionError as exc:
        error(f"permission denied: {exc.filename or exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("flowalerts: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
