"""``flowalerts report``: one self-contained HTML file an analyst can open.

* ``model``  - what goes into the report, as typed records, read from a run's
  output folder (``run.json``, ``alerts.json``, ``alerts_summary.json``) or
  from Slips's own ``alerts.json`` (``slips``); bounded by ``Limits``.
* ``flows``  - the Zeek records behind the evidence shown (the first uids of
  each), read back from the run's input with the ordinary readers.
* ``render`` - the HTML: a Jinja2 template with autoescaping, one inline
  style and one inline script allowed by their hashes in a
  Content-Security-Policy that forbids everything else (no network at all).
"""

from __future__ import annotations

from flowalerts.io.report.build import build_report
from flowalerts.io.report.model import Limits, Report, ReportError
from flowalerts.io.report.render import REPORT_HTML, render_report, write_report

__all__ = ["REPORT_HTML", "Limits", "Report", "ReportError", "build_report", "render_report", "write_report"]
