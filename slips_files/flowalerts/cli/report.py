"""``flowalerts report``: one self-contained HTML file of a run's output folder."""

from __future__ import annotations

import argparse

from flowalerts.cli.common import stderr_emit
from flowalerts.core.config import Config
from flowalerts.io.sink import OutputError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="write OUT_DIR/report.html: the run, its alerts, a timeline and the evidence with the flows behind it",
        description=(
            "Write one self-contained HTML file (no server, nothing fetched when opened) from the output folder "
            "of 'flowalerts run' (or from a folder holding Slips's own alerts.json). Open it in any browser."
        ),
    )
    parser.add_argument("outdir", metavar="OUT_DIR", help="output folder of 'flowalerts run' (or of Slips)")
    parser.add_argument(
        "-f", "--file", dest="zeek_path", default=None,
        help="the Zeek logs of the run, for the flows behind the evidence (default: the input recorded in run.json)",
    )
    parser.add_argument("-o", "--output", default=None, help="the HTML file to write (default: OUT_DIR/report.html)")
    parser.add_argument("--no-flows", action="store_true", help="do not read the Zeek logs (no flows in the report)")
    parser.set_defaults(handler=main, config_free=True)


def main(args: argparse.Namespace, config: Config) -> int:
    return make_report(args.outdir, args.zeek_path, args.output, read_flows=not args.no_flows)


def make_report(outdir: str, zeek_path: str | None = None, output: str | None = None, read_flows: bool = True) -> int:
    """Write the report and say where, in one line; a folder that cannot be reported on is a usage error."""
    from flowalerts.io.report import ReportError, write_report

    try:
        path, report = write_report(outdir, zeek_path=zeek_path, output=output, read_flows=read_flows)
    except ReportError as exc:
        raise OutputError(str(exc)) from None
    except OSError as exc:
        raise OutputError(f"cannot write the report: {exc.strerror or exc} ({exc.filename or output or outdir})") from None
    stderr_emit(
        f"report: {path} ({report.alerts_total} alerts, {report.evidence_total} evidence, "
        f"{report.profiles_total} profiles)"
    )
    return 0
