"""Configuration: framework sections, one typed section per detection, Slips's
flat keys, defaults shipped == defaults in code (issue 14)."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from flowalerts.catalog import config_sections
from flowalerts.core.config import ConfigError, defaults_document, load_config, parse_config

REPO = pathlib.Path(__file__).resolve().parents[3]


def parse(data):
    return parse_config(data, sections=config_sections())


def test_shipped_slips_yaml_is_the_built_in_defaults():
    """Every section of the shipped slips.yaml is at its defaults. A detection
    added since the file was last regenerated (``flowalerts config >
    slips.yaml``) may be missing from it: its section then takes its defaults
    (README, "Adding a detection": one file plus one test file)."""
    shipped = yaml.safe_load((REPO / "slips.yaml").read_text())
    defaults = defaults_document(config_sections())
    shipped_detections = shipped.pop("flow_alerts")
    default_detections = defaults.pop("flow_alerts")
    assert shipped == defaults
    assert shipped_detections == {ident: default_detections[ident] for ident in shipped_detections}
    _config, warnings = load_config(REPO / "slips.yaml", sections=config_sections())
    assert warnings == []


def test_detection_sections_are_typed_and_strict():
    config, _ = parse({"flow_alerts": {"long_connection": {"threshold": 60}}})
    assert config.flow_alerts["long_connection"].threshold == 60.0
    with pytest.raises(ConfigError, match="long_connection"):
        parse({"flow_alerts": {"long_connection": {"treshold": 60}}})
    with pytest.raises(ConfigError, match=r"unknown key 'flow_alerts\.nonsense'"):
        parse({"flow_alerts": {"nonsense": 1}})
    with pytest.raises(ConfigError, match="long_connection"):
        parse({"flow_alerts": {"long_connection": {"threshold": "soon"}}})


def test_slips_flat_keys_are_accepted():
    config, _ = parse({"flow_alerts": {"long_connection_threshold": 99, "reconnection_attempts_threshold": 7}})
    assert (config.flow_alerts["long_connection"].threshold, config.flow_alerts["reconnection_attempts"].threshold) == (99, 7)


def test_sections_of_other_slips_modules_are_a_warning_not_an_error():
    _, warnings = parse({"virustotal": {"api_key_file": "x"}})
    assert warnings == ["configuration section 'virustotal' is not used by Flowalerts (ignored)"]


@pytest.mark.parametrize(
    "data",
    [
        {"parameters": {"time_window_width": -5}},
        {"parameters": {"time_window_width": float("nan")}},
        {"time": {"allowed_lateness": -1}},
        {"redis": {"batch_size": 0}},
        {"output": {"alerts_json": "../../x.json"}},
        {"output": {"alerts_log": "/tmp/x.log"}},
        {"parameters": {"unknown": 1}},
    ],
)
def test_invalid_values_are_clear_errors(data):
    with pytest.raises(ConfigError):
        parse(data)
