"""Evidence sink: evidence -> alerts.json, alerts.log, alerts, IDMEF, counts.

* An evidence whose id was already written with the same content is a
  redelivery and is dropped (``duplicates``); with different content it is an
  **update** (an aggregated evidence whose count grew at window close): it is
  written again - a later line with the same id supersedes the earlier one -
  and the alert accounting takes only the difference.
* ``alerts.json``: one evidence per line. ``alerts.log``: an ``ALERTS:``
  section (final state of every alert) then one escaped line per evidence
  line. ``alerts_summary.json``: one alert per line, final state (rewritten
  at every flush). ``alerts.idmef.json`` (optional): an IDMEFv2 Event per
  evidence line and an Incident per alert raise or update (same ID, newer
  version).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter

from flowalerts.core.evidence import Evidence, render_line, to_json
from flowalerts.io.alerts import Alert, AlertTracker, alert_json, render_alert

ALERTS_SUMMARY_JSON = "alerts_summary.json"
IDMEF_JSON = "alerts.idmef.json"


class OutputError(Exception):
    """The output folder or a file in it cannot be written (message for the user)."""


def prepare_outdir(outdir: str) -> None:
    """Create the output folder, or say in one line why it cannot be used."""
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise OutputError(f"output path exists and is not a folder: {outdir}")
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {outdir}: {exc.strerror or exc}") from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise OutputError(f"output folder is not writable: {outdir}")


# What ``EvidenceSink`` keeps per evidence id: a content digest of this many
# bytes, then the evidence's time window (8 bytes, signed).
_DIGEST = 16


def _window_of(written: bytes) -> int:
    return int.from_bytes(written[_DIGEST:], "little", signed=True)


class EvidenceSink:
    def __init__(
        self,
        outdir: str,
        json_name: str = "alerts.json",
        log_name: str = "alerts.log",
        alerts: AlertTracker | None = None,
        idmef: bool = False,
        keep_windows: int = 4,
    ) -> None:
        prepare_outdir(outdir)
        self.outdir = outdir
        self.json_path = os.path.join(outdir, json_name)
        self.log_path = os.path.join(outdir, log_name)
        self.alerts_path = os.path.join(outdir, ALERTS_SUMMARY_JSON)
        self.idmef_path = os.path.join(outdir, IDMEF_JSON) if idmef else None
        try:
            self._json = open(self.json_path, "wb")  # noqa: SIM115 - closed in close()
            self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
            self._idmef = open(self.idmef_path, "wb") if self.idmef_path else None  # noqa: SIM115
        except OSError as exc:
            raise OutputError(f"cannot write in {outdir}: {exc.strerror or exc}") from None
        self.alert_tracker = alerts if alerts is not None else AlertTracker()
        self._closed = False
        # id -> (content digest, timewindow); pruned to the newest windows.
        self._written: dict[str, bytes] = {}
        self._newest_window: int | None = None
        self.keep_windows = keep_windows
        self.counts: Counter[str] = Counter()
        self.profile_counts: Counter[str] = Counter()
        self.duplicates = 0
        self.updates = 0

    def add(self, evidence: Evidence) -> bool:
        """Write one evidence; False if it was a duplicate."""
        line = to_json(evidence)
        digest = hashlib.blake2b(line, digest_size=_DIGEST).digest()
        known = self._written.get(evidence.id)
        if known is not None and known[:_DIGEST] == digest:
            self.duplicates += 1
            return False
        self._prune(evidence.timewindow)
        # One bytes object per id (digest, then the window): a quarter of a
        # million evidence ids at 1M records.
        self._written[evidence.id] = digest + evidence.timewindow.to_bytes(8, "little", signed=True)
        if known is None:
            self.counts[evidence.evidence_type] += 1
            self.profile_counts[evidence.profile] += 1
        else:
            self.updates += 1
        self._json.write(line + b"\n")
        self._log.write(("UPDATE " if known is not None else "") + render_line(evidence) + "\n")
        if self._idmef is not None:
            from flowalerts.io.idmef import idmef_event_json

            self._idmef.write(idmef_event_json(evidence) + b"\n")
        result = self.alert_tracker.add(evidence)
        if result is not None:
            alert, raised = result
            self._log.write(render_alert(alert, updated=not raised) + "\n")
            if self._idmef is not None:
                from flowalerts.io.idmef import idmef_incident_json

                self._idmef.write(idmef_incident_json(alert) + b"\n")
        return True

    def _prune(self, timewindow: int) -> None:
        if self._newest_window is not None and timewindow <= self._newest_window:
            return
        self._newest_window = timewindow
        oldest = timewindow - self.keep_windows
        if len(self._written) > 100_000:
            self._written = {eid: v for eid, v in self._written.items() if _window_of(v) >= oldest}

    @property
    def alerts(self) -> list[Alert]:
        return self.alert_tracker.all_alerts()

    def flush(self) -> None:
        self._json.flush()
        self._log.flush()
        if self._idmef is not None:
            self._idmef.flush()
        self._write_alerts_summary()

    def _write_alerts_summary(self) -> None:
        tmp = self.alerts_path + ".tmp"
        with open(tmp, "wb") as out:
            for alert in self.alerts:
                out.write(alert_json(alert) + b"\n")
        os.replace(tmp, self.alerts_path)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._json.close()
        self._log.close()
        if self._idmef is not None:
            self._idmef.close()
        self._write_alerts_summary()
        self._put_alerts_first()

    def _put_alerts_first(self) -> None:
        """Rewrite alerts.log with an ALERTS section (final state) above the evidence lines."""
        alerts = self.alerts
        header = [f"ALERTS: {len(alerts)} (threshold {self.alert_tracker.threshold:g} per profile and time window)"]
        header.extend(render_alert(alert) for alert in alerts)
        header.append(f"EVIDENCE: {sum(self.counts.values())} ({self.updates} updates)")
        tmp_path = self.log_path + ".tmp"
        with open(tmp_path, "w", encoding="utf-8") as out, open(self.log_path, encoding="utf-8") as evidence_lines:
            out.write("\n".join(header) + "\n")
            shutil.copyfileobj(evidence_lines, out)
        os.replace(tmp_path, self.log_path)
