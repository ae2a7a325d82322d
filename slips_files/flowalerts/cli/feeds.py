"""``flowalerts update-feeds``: refresh the threat-intelligence files."""

from __future__ import annotations

import argparse

from flowalerts.cli.common import add_config_argument, stderr_emit
from flowalerts.core.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:
    feeds = sub.add_parser(
        "update-feeds",
        help="download the threat-intelligence feeds named in the config (JA3, SSL SHA1, Tor exit nodes)",
        description=(
            "Refresh the local feed files from their URLs (threatintelligence.*_url), with a total time limit; a "
            "failed or empty download keeps the last good copy. 'run' also refreshes feeds older than a day in the "
            "background unless --offline."
        ),
    )
    add_config_argument(feeds)
    feeds.set_defaults(handler=main)


def main(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.knowledge.feeds import refresh_feeds

    if not config.lookups.enabled:
        stderr_emit("flowalerts: error: network lookups are disabled (lookups.enabled: false): no feed refreshed")
        return 2
    results = refresh_feeds(config, notify=stderr_emit)
    if not results:
        stderr_emit("note: no feed has a URL in the configuration (threatintelligence): nothing to refresh")
        return 1
    return 0 if all(results.values()) else 1
