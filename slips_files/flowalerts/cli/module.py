"""``flowalerts module --redis URL``: run the module beside a running Slips
(attach mode; see ``flowalerts.hosts.slips.attach``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from flowalerts.cli.common import add_config_argument, positive_float, stderr_emit
from flowalerts.core.config import Config
from flowalerts.core.evidence import escape_text
from flowalerts.io.summary import EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "module",
        help="run the module attached to a running Slips's Redis (its own flow_alerts disabled)",
        description=(
            "Attach to Slips's Redis: read the flows Slips publishes, store evidence where Slips's "
            "evidence handler takes it (alerts, whitelist and outputs are Slips's). Stops on SIGTERM/SIGINT "
            "or when Slips's Redis is gone for good; exit 0 (3 if a detection failed)."
        ),
    )
    parser.add_argument("--redis", dest="redis_url", required=True, metavar="URL", help="Slips's Redis, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("-o", "--output", dest="outdir", help="also write every evidence produced here (alerts.json, alerts.log)")
    add_config_argument(parser)
    parser.add_argument("--offline", action="store_true", help="no network lookups (whois/RDAP, rDNS)")
    parser.add_argument(
        "--wait", type=positive_float, default=120.0, metavar="SECONDS",
        help="how long to wait for Slips's Redis to appear (default 120)",
    )
    parser.add_argument(
        "--reconnect", type=positive_float, default=None, metavar="SECONDS",
        help="how long a lost connection is retried before Slips is taken as gone (default: redis.reconnect_seconds, 30)",
    )
    parser.add_argument(
        "--ready-key", default="number_of_evidence", metavar="KEY",
        help="subscribe once this key exists (Slips sets it when its DB is ready; '' to not wait)",
    )
    parser.add_argument(
        "--slips-version", default=None, metavar="VERSION",
        help="version to publish evidence with (default: the version Slips's own messages carry)",
    )
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.core.urls import redact_url
    from flowalerts.hosts.slips.attach import AttachOptions, UsageError, redact_text, run_attach
    from flowalerts.knowledge.lookups import make_lookups

    stop = threading.Event()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread (tests)
            pass
    options = AttachOptions(
        redis_url=args.redis_url,
        config=config,
        outdir=args.outdir,
        lookups=make_lookups(config, args.offline or not config.lookups.enabled),
        wait_seconds=args.wait,
        reconnect_seconds=args.reconnect,
        slips_version=args.slips_version,
        ready_key=args.ready_key or None,
        emit=stderr_emit,
    )
    try:
        result = run_attach(options, stop)
    except UsageError as exc:
        print(f"flowalerts: error: {escape_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug: one line, no password, exit 1
        print(
            f"flowalerts: error: attach mode failed on {redact_url(args.redis_url)}: "
            f"{type(exc).__name__}: {redact_text(str(exc), args.redis_url)}",
            file=sys.stderr,
        )
        return 1
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if options.lookups is not None:
            options.lookups.close()
    print("\n".join(result.lines))
    print(result.summary)
    return result.status
