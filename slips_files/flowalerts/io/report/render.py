"""The report as one self-contained HTML file.

Jinja2 renders the template with autoescaping on for every value (no
hand-written HTML escaping anywhere), and a ``finalize`` hook that makes
control characters of every shown string visible (``model.visible``). The
page's only code is one inline ``<style>`` and one inline ``<script>`` of
this package; the Content-Security-Policy (a ``<meta>`` at the top of the
page) allows exactly those two by their SHA-256 hashes and nothing else: no
other script, style, image, font, frame, connection or form target, so a
string from traffic that made it into the page as markup could still run
nothing and fetch nothing. The data the script needs (the filter choices
and the flows behind each evidence) are embedded as JSON in a ``<script
type="application/json">`` block through Jinja's ``tojson`` (``<``, ``>``,
``&`` and ``'`` escaped as ``\\u003c`` ...), read with ``JSON.parse`` and
shown with ``textContent``; no traffic string is ever part of script source.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import jinja2
import markupsafe

from flowalerts import __version__
from flowalerts.io.report.build import build_report
from flowalerts.io.report.model import (
    LEVEL_RANK,
    LEVELS,
    Limits,
    Report,
    evidence_anchor,
    profile_anchor,
    visible,
)

REPORT_HTML = "report.html"
_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def _asset(name: str) -> str:
    with open(os.path.join(_HERE, name), encoding="utf-8") as handle:
        return handle.read()


def csp_hash(text: str) -> str:
    """The CSP source expression that allows an inline element whose content is ``text``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _finalize(value: Any) -> Any:
    # Markup is ours (the style, the script, tojson output): left as it is.
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # tojson: compact (the flows are most of the JSON block); keys in the order given.
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":")}
    env.filters["profile_anchor"] = profile_anchor
    env.filters["evidence_anchor"] = evidence_anchor
    env.filters["level_rank"] = lambda level: LEVEL_RANK.get(level, 0)
    return env


def render_report(report: Report) -> str:
    """The HTML text of ``report``."""
    style = _asset("report.css")
    script = _asset("report.js")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {csp_hash(script)}",
            f"style-src {csp_hash(style)}",
            "img-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    data = {
        "levels": list(LEVELS),
        "profiles": [visible(p) for p in report.all_profiles],
        "types": [visible(t) for t in report.all_types],
        "flows": _flows_data(report),
    }
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        limits=report.limits,
        levels=LEVELS,
        policy=policy,
        style=markupsafe.Markup(style),
        script=markupsafe.Markup(script),
        data=data,
        version=__version__,
    )


def _flows_data(report: Report) -> dict[str, list[list[Any]]]:
    """The flows of each evidence shown, by its anchor: [uid, log, time, endpoints, [[field, value] ...]].

    Data for the script, which builds a flow table when its evidence's
    "Flows behind it" is opened (text only, through textContent): a table per
    evidence in the HTML doubled the size of a 1M-record report and its
    load time."""
    flows: dict[str, list[list[Any]]] = {}
    for row in report.shown_evidence:
        if row.flows:
            flows[row.anchor] = [
                [visible(uid), visible(record.log_type), record.timestamp, visible(record.endpoints),
                 [[visible(field.name), visible(field.value)] for field in record.fields]]
                for uid, records in row.flows.items()
                for record in records
            ]
    return flows


def write_report(
    folder: str,
    zeek_path: str | None = None,
    output: str | None = None,
    limits: Limits | None = None,
    read_flows: bool = True,
) -> tuple[str, Report]:
    """Build the report of ``folder`` and write it (default ``folder/report.html``).

    ``zeek_path``: where the Zeek logs of the flows are (default: the input
    recorded in run.json). Returns the path written and the report."""
    from flowalerts.io.report.flows import attach_flows

    report = build_report(folder, limits)
    if read_flows:
        path = zeek_path or _recorded_input(folder)
        if path and not os.path.exists(path):
            report.flows_note = (f"The flows behind the evidence are not shown: {path} does not exist "
                                 "(give the Zeek logs with -f).")
        else:
            attach_flows(report, path)
    else:
        report.flows_note = "The flows behind the evidence were not read (--no-flows)."
    target = output or os.path.join(folder, REPORT_HTML)
    html = render_report(report)
    tmp = target + ".tmp"
    # (backslashreplace: a lone surrogate that escaped ``visible`` cannot stop the report.)
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as out:
        out.write(html)
    os.replace(tmp, target)
    return target, report


def _recorded_input(folder: str) -> str | None:
    from flowalerts.io.runinfo import RUN_JSON, RunInfoError, read_run_info

    run_json = os.path.join(folder, RUN_JSON)
    if not os.path.exists(run_json):
        return None
    try:
        return read_run_info(run_json).input
    except RunInfoError:
        return None
