"""Evidence sink: evidence topic -> alerts.json, alerts.log, counts.

It drops types listed in ``DisabledAlerts.disabled_detections``, drops
duplicates (same content, hence same id), and writes each evidence as one JSON
line and one escaped human-readable line. It stops at the module's DONE
message, which also carries the module's processed counts.

Alerts (``flowalerts.core.alerts``) are accumulated from the evidence written:
each is written to ``alerts_summary.json`` as it is raised, and at close the
alerts are listed first in ``alerts.log`` (an ALERTS section above the
evidence lines). With ``idmef`` every evidence is also written as an IDMEFv2
object to ``alerts.idmef.json``.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from typing import Any

import msgspec

from flowalerts.core.alerts import Alert, AlertTracker, alert_json, render_alert
from flowalerts.core.bus import Topic
from flowalerts.core.evidence import Evidence, render_line, to_json
from flowalerts.core.messages import MODULE_DONE

_evidence_list = msgspec.json.Decoder(list[Evidence])


ALERTS_JSON = "alerts_summary.json"
IDMEF_JSON = "alerts.idmef.json"


class EvidenceSink:
    def __init__(
        self,
        topic: Topic | None,
        outdir: str,
        disabled: set[str] | None = None,
        json_name: str = "alerts.json",
        log_name: str = "alerts.log",
        alerts: AlertTracker | None = None,
        idmef: bool = False,
    ) -> None:
        self.topic = topic
        os.makedirs(outdir, exist_ok=True)
        self.json_path = os.path.join(outdir, json_name)
        self.log_path = os.path.join(outdir, log_name)
        self.alerts_path = os.path.join(outdir, ALERTS_JSON)
        self.idmef_path = os.path.join(outdir, IDMEF_JSON) if idmef else None
        self._json = open(self.json_path, "wb")  # noqa: SIM115 - closed in close()
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self.alert_tracker = alerts if alerts is not None else AlertTracker()
        self._alerts = open(self.alerts_path, "wb")  # noqa: SIM115
        self._idmef = open(self.idmef_path, "wb") if self.idmef_path else None  # noqa: SIM115
        self._closed = False
        self.disabled = {name.upper() for name in (disabled or ())}
        self.seen_ids: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.profile_counts: Counter[str] = Counter()
        self.dropped_disabled = 0
        self.duplicates = 0
        self.evidences: list[Evidence] = []
        self.module_report: dict[str, Any] | None = None
        self.keep_in_memory = False

    @property
    def done(self) -> bool:
        return self.module_report is not None

    def pump(self, block_ms: int | None = None) -> int:
        handled = 0
        if self.topic is None:
            return 0
        while not self.done:
            messages = self.topic.receive(count=64, block_ms=block_ms)
            if not messages:
                break
            for kind, payload in messages:
                if kind == MODULE_DONE:
                    self.module_report = msgspec.json.decode(payload)
                else:
                    for evidence in _evidence_list.decode(payload):
                        self.add(evidence)
            handled += len(messages)
            self.topic.mark_consumed(len(messages))
            block_ms = None
        return handled

    def add(self, evidence: Evidence) -> bool:
        name = evidence.evidence_type.value
        if name in self.disabled:
            self.dropped_disabled += 1
            return False
        if evidence.id in self.seen_ids:
            self.duplicates += 1
            return False
        self.seen_ids.add(evidence.id)
        self.counts[name] += 1
        self.profile_counts[evidence.profile] += 1
        self._json.write(to_json(evidence) + b"\n")
        self._log.write(render_line(evidence) + "\n")
        if self._idmef is not None:
            from flowalerts.core.idmef import idmef_json

            self._idmef.write(idmef_json(evidence) + b"\n")
        alert = self.alert_tracker.add(evidence)
        if alert is not None:
            self._alerts.write(alert_json(alert) + b"\n")
        if self.keep_in_memory:
            self.evidences.append(evidence)
        return True

    @property
    def alerts(self) -> list[Alert]:
        return self.alert_tracker.alerts

    def flush(self) -> None:
        self._json.flush()
        self._log.flush()
        self._alerts.flush()
        if self._idmef is not None:
            self._idmef.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._json.close()
        self._log.close()
        self._alerts.close()
        if self._idmef is not None:
            self._idmef.close()
        self._put_alerts_first()

    def _put_alerts_first(self) -> None:
        """Rewrite alerts.log with an ALERTS section above the evidence lines."""
        alerts = self.alert_tracker.alerts
        header = [f"ALERTS: {len(alerts)} (threshold {self.alert_tracker.threshold:g} per profile and time window)"]
        header.extend(render_alert(alert) for alert in alerts)
        header.append(f"EVIDENCE: {sum(self.counts.values())}")
        tmp_path = self.log_path + ".tmp"
        with open(tmp_path, "w", encoding="utf-8") as out, open(self.log_path, encoding="utf-8") as evidence_lines:
            out.write("\n".join(header) + "\n")
            shutil.copyfileobj(evidence_lines, out)
        os.replace(tmp_path, self.log_path)
