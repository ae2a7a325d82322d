"""Evidence sink: evidence topic -> alerts.json, alerts.log, counts.

It drops types listed in ``DisabledAlerts.disabled_detections``, drops
duplicates (same content, hence same id), and writes each evidence as one JSON
line and one escaped human-readable line. It stops at the module's DONE
message, which also carries the module's processed counts.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import msgspec

from flowalerts.core.bus import Topic
from flowalerts.core.evidence import Evidence, render_line, to_json
from flowalerts.core.messages import MODULE_DONE

_evidence_list = msgspec.json.Decoder(list[Evidence])


class EvidenceSink:
    def __init__(self, topic: Topic, outdir: str, disabled: set[str] | None = None, json_name: str = "alerts.json", log_name: str = "alerts.log") -> None:
        self.topic = topic
        os.makedirs(outdir, exist_ok=True)
        self.json_path = os.path.join(outdir, json_name)
        self.log_path = os.path.join(outdir, log_name)
        self._json = open(self.json_path, "wb")  # noqa: SIM115 - closed in close()
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self.disabled = {name.upper() for name in (disabled or ())}
        self.seen_ids: set[str] = set()
        self.counts: Counter[str] = Counter()
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
        self._json.write(to_json(evidence) + b"\n")
        self._log.write(render_line(evidence) + "\n")
        if self.keep_in_memory:
            self.evidences.append(evidence)
        return True

    def flush(self) -> None:
        self._json.flush()
        self._log.flush()

    def close(self) -> None:
        self._json.close()
        self._log.close()
