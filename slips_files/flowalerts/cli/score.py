"""``flowalerts score``: precision and coverage of a run on a labelled capture."""

from __future__ import annotations

import argparse
import json
import sys

from flowalerts.core.config import Config
from flowalerts.io.input.folder import InputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "score",
        help="score an alerts.json against the labels of a Stratosphere-labelled Zeek conn.log",
        description=(
            "Per evidence type: evidence, flows hit, malicious and benign flows hit, precision; overall: coverage "
            "of the malicious flows and benign flows hit above info. Labels: conn.log 'label' (Malicious/Benign) "
            "and 'detailedlabel' / 'detailed-label' columns, TSV or JSON (CTU datasets)."
        ),
    )
    parser.add_argument("-f", "--file", dest="path", required=True, help="the labelled Zeek folder or conn log")
    parser.add_argument("-a", "--alerts", required=True, help="the alerts.json of a run on that folder")
    parser.add_argument("--json", action="store_true", help="print the score as JSON")
    parser.set_defaults(handler=main, config=None)


def main(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.io.score import format_score, read_evidence, read_labels, score, score_json, shares_uid

    try:
        labels = read_labels(args.path)
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    try:
        evidences = read_evidence(args.alerts)
    except OSError as exc:
        raise InputError(f"cannot read {args.alerts}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{args.alerts} is not a Flowalerts alerts.json: {exc}") from None
    if not labels.by_uid:
        raise InputError(f"no labelled conn flows under {args.path} (expected a 'label' column)")
    if any(evidence.uids for evidence in evidences) and not shares_uid(labels, evidences):
        # Not an input error (the files are fine), but the score below means nothing.
        print(
            f"flowalerts: warning: the alerts in {args.alerts} and the labels in {args.path} share no flow uid: "
            "they do not come from the same capture (every coverage below is 0)",
            file=sys.stderr,
        )
    result = score(labels, evidences)
    print(json.dumps(score_json(result), indent=2) if args.json else format_score(result))
    return 0
