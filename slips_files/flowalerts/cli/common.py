"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import math
import sys

from flowalerts.core.evidence import escape_text
from flowalerts.core.urls import redact


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", help="configuration file (default: ./slips.yaml if present, else the built-in defaults)"
    )


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0: {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def stderr_emit(text: str) -> None:
    """A note or warning for the user: one escaped line on stderr, secrets redacted."""
    print(redact(escape_text(text)), file=sys.stderr)
