"""FlowAlerts: routes each message to the detectors registered for its channel.

This class knows nothing about Redis: the bus adapter (``flowalerts.core.bus``)
decodes messages and hands them here, and publishes what comes back. It keeps
the flow-time watermark (the newest ``ts`` seen on any channel), drives the
detectors' pending work with it, and isolates failures: a detector that raises
on one message is counted and logged, and processing goes on.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections import Counter
from collections.abc import Iterable
from sys import intern
from typing import Any

from flowalerts.core.evidence import Evidence
from flowalerts.core.messages import Message
from flowalerts.modules.flow_alerts import detectors as detectors_package
from flowalerts.modules.flow_alerts.detector import REGISTRY, Detector, DetectorContext

log = logging.getLogger(__name__)

_MAX_LOGGED_ERRORS = 5


def load_detector_classes() -> list[type[Detector]]:
    """Import every module under ``detectors/`` so their classes register."""
    for info in pkgutil.walk_packages(detectors_package.__path__, detectors_package.__name__ + "."):
        importlib.import_module(info.name)
    return sorted(REGISTRY, key=lambda cls: (cls.priority, cls.__module__, cls.__name__))


def _overrides(detector: Detector, hook: str) -> bool:
    return getattr(type(detector), hook) is not getattr(Detector, hook)


class FlowAlerts:
    """The module: detectors, routing, watermark, error isolation."""

    def __init__(self, ctx: DetectorContext, detector_classes: Iterable[type[Detector]] | None = None) -> None:
        self.ctx = ctx
        classes = list(detector_classes) if detector_classes is not None else load_detector_classes()
        self.detectors = [cls(ctx) for cls in classes]
        self.routes: dict[str, list[Detector]] = {}
        for detector in self.detectors:
            for channel in detector.channels:
                self.routes.setdefault(channel, []).append(detector)
        self._watermark_hooks = [d for d in self.detectors if _overrides(d, "on_watermark")]
        self._tw_hooks = [d for d in self.detectors if _overrides(d, "on_tw_closed")]
        self._finish_hooks = [d for d in self.detectors if _overrides(d, "finish")]
        self.watermark = float("-inf")
        self.processed: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    # -- records ---------------------------------------------------------------
    def handle(self, channel: str, msg: Message[Any]) -> list[Evidence]:
        """Run the detectors of ``channel`` on one message."""
        # Addresses become keys of many state tables: one shared string per
        # address instead of one per record keeps long runs small.
        flow = msg.flow
        flow.saddr = intern(flow.saddr)
        flow.daddr = intern(flow.daddr)
        msg.profile = intern(msg.profile)
        out: list[Evidence] = []
        for detector in self.routes.get(channel, ()):
            try:
                result = detector.handle(msg)
                if result:
                    out.extend(result)
            except Exception:
                self._error(detector, channel)
        self.processed[channel] += 1
        ts = msg.flow.starttime
        if ts > self.watermark:
            self.watermark = ts
        return out

    def advance(self) -> list[Evidence]:
        """Flow time moved: purge expired state and settle pending decisions.

        Called after each batch, so pending work is settled on the watermark
        of all logs, not of one channel.
        """
        self.ctx.state.advance(self.watermark)
        out: list[Evidence] = []
        for detector in self._watermark_hooks:
            try:
                result = detector.on_watermark(self.watermark)
                if result:
                    out.extend(result)
            except Exception:
                self._error(detector, "watermark")
        return out

    # -- windows and end of input ----------------------------------------------
    def tw_closed(self, profile: str, twid: int) -> list[Evidence]:
        out: list[Evidence] = []
        for detector in self._tw_hooks:
            try:
                result = detector.on_tw_closed(profile, twid)
                if result:
                    out.extend(result)
            except Exception:
                self._error(detector, "tw_closed")
        self.ctx.state.close_window(profile, twid)
        self.processed["tw_closed"] += 1
        return out

    def finish(self) -> list[Evidence]:
        """End of input: every detector settles what it still holds."""
        out = self.advance()
        for detector in self._finish_hooks:
            try:
                result = detector.finish()
                if result:
                    out.extend(result)
            except Exception:
                self._error(detector, "finish")
        return out

    def _error(self, detector: Detector, where: str) -> None:
        key = f"{detector.name}:{where}"
        self.errors[key] += 1
        if self.errors[key] <= _MAX_LOGGED_ERRORS:
            log.exception("detector %s failed on %s (continuing)", detector.name, where)
