"""``flowalerts config``: the full default configuration, and the detections.

``flowalerts config`` prints every setting with its default, including one
section per detection (from the detections' own declarations), as YAML;
``flowalerts config --detections`` prints the table of detections, evidence
types, threat levels and confidence in Markdown (the README's table).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import yaml

from flowalerts.cli.common import add_config_argument
from flowalerts.core.config import Config, defaults_document

if TYPE_CHECKING:
    from flowalerts.core.evidence import EvidenceKind
    from flowalerts.engine.detection import Detection


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "config",
        help="print the default configuration (every detection's section included), or the detection table",
    )
    add_config_argument(parser)
    parser.add_argument("--detections", action="store_true", help="print the table of detections (Markdown)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, config: Config) -> int:
    from flowalerts.catalog import config_sections, load_components

    if args.detections:
        print(detection_table(load_components()[0]))
        return 0
    print(yaml.safe_dump(defaults_document(config_sections()), sort_keys=False, default_flow_style=False), end="")
    return 0


def inside_slips(cls: type[Detection[Any, Any]], kind: EvidenceKind) -> str:
    """The README's "inside Slips" cell: how an evidence kind reaches Slips."""
    from flowalerts.hosts.slips.decode import SLIPS_LOGS
    from flowalerts.hosts.slips.encode import slips_type

    missing = [log for log in cls.required_logs() if log not in SLIPS_LOGS]
    if missing:
        return "lost: needs " + ", ".join(f"{log}.log" for log in missing) + " (Slips publishes none)"
    name = slips_type(kind.name)
    if name is None:
        return "not sent (no Slips type; counted)"
    return name if name == kind.name else f"as {name} (ours named in the description)"


def detection_table(detections: dict) -> str:
    lines = [
        "| Detection (id) | Evidence type | Channels | Threat level | Confidence | Inside Slips | What it reports |",
        "|---|---|---|---|---|---|---|",
    ]
    for ident, cls in sorted(detections.items()):
        for kind in cls.evidence:
            slips = inside_slips(cls, kind)
            lines.append(
                f"| {ident} | `{kind.name}` | {', '.join(cls.channels)} | {kind.threat_level.value} | "
                f"{kind.confidence:g} | {slips} | {kind.summary} |"
            )
    return "\n".join(lines)
