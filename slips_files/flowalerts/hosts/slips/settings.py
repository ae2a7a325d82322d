"""Our configuration from Slips's own ``slips.yaml`` (the in-process host).

Inside Slips the operator configures Slips, not us. From Slips's file we take
what we share with it: ``parameters.time_window_width``,
``parameters.analysis_direction``, ``parameters.client_ips``,
``detection.evidence_detection_threshold``,
``DisabledAlerts.disabled_detections`` and, in its ``flow_alerts`` section,
Slips's flat keys that our detections declare (``slips_keys``) and our own
per-detection sections. Slips's keys for detections this version does not
have are noted and ignored (Slips's file must keep working unchanged); a
value of the wrong type is an error naming the key, as with our own file.

``FLOWALERTS_CONFIG=/path/slips.yaml`` in Slips's environment uses that file
of ours instead.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

from flowalerts.core.config import Config, ConfigError, load_config, parse_config

ENV_CONFIG = "FLOWALERTS_CONFIG"


def _width(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return "only_one_tw" if isinstance(value, str) and "only_one_tw" in value else value


def config_from_slips(slips_yaml: Any) -> tuple[Config, list[str]]:
    """Our Config from Slips's parsed slips.yaml (or the file named by
    ``$FLOWALERTS_CONFIG``). Returns the config and notes for the log."""
    from flowalerts.catalog import config_sections

    sections = config_sections()
    own = os.environ.get(ENV_CONFIG)
    if own:
        path = pathlib.Path(own)
        if not path.is_file():
            raise ConfigError(f"{ENV_CONFIG}={own}: no such file")
        config, warnings = load_config(path, sections=sections)
        return config, [f"configuration from {own} ({ENV_CONFIG})", *warnings]
    data = slips_yaml if isinstance(slips_yaml, dict) else {}
    notes: list[str] = []
    doc: dict[str, Any] = {}

    def section(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    parameters = section("parameters")
    ours: dict[str, Any] = {}
    if "time_window_width" in parameters:
        ours["time_window_width"] = _width(parameters["time_window_width"])
    for key in ("analysis_direction", "client_ips"):
        if parameters.get(key) not in (None, ""):
            ours[key] = parameters[key]
    doc["parameters"] = ours
    threshold = section("detection").get("evidence_detection_threshold")
    if threshold is not None:
        doc["detection"] = {"evidence_detection_threshold": threshold}
    disabled = section("DisabledAlerts").get("disabled_detections")
    if disabled:
        doc["DisabledAlerts"] = {"disabled_detections": disabled}
    known = set(sections) | {legacy for cls in sections.values() for legacy in cls.slips_keys}
    flow_alerts = section("flow_alerts")
    ignored = sorted(str(key) for key in flow_alerts if key not in known)
    if ignored:
        notes.append("Slips's flow_alerts keys without a detection in this version (ignored): " + ", ".join(ignored))
    doc["flow_alerts"] = {key: value for key, value in flow_alerts.items() if key in known}
    config, warnings = parse_config(doc, sections=sections)
    return config, [*notes, *warnings]
