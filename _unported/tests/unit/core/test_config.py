from __future__ import annotations

import pytest
import yaml
from tests_paths import REPO

from flowalerts.config import ONLY_ONE_TW_WIDTH, Config, ConfigError, load_config, parse_config


def test_repo_slips_yaml_equals_builtin_defaults():
    loaded, warnings = load_config(REPO / "slips.yaml")
    assert warnings == []
    defaults = Config(base_dir=loaded.base_dir)
    assert loaded == defaults


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"flow_alerts": {"long_connection_threshold": "lots"}}, "flow_alerts.long_connection_threshold"),
        ({"parameters": {"client_ips": "10.0.0.1"}}, "parameters.client_ips"),
        ({"redis": {"transport": "carrier-pigeon"}}, "redis.transport"),
        ({"DisabledAlerts": {"disabled_detections": 5}}, "DisabledAlerts.disabled_detections"),
    ],
)
def test_wrong_type_is_an_error_naming_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert key in str(info.value)


def test_unknown_keys_are_warnings():
    config, warnings = parse_config({"flow_alerts": {"long_connection_threshold": 10, "no_such_key": 1}, "modules": {}})
    assert config.flow_alerts.long_connection_threshold == 10
    assert warnings == [
        "unknown configuration key 'flow_alerts.no_such_key' ignored",
        "unknown configuration key 'modules' ignored",
    ]


def test_numeric_strings_and_legacy_section_name():
    config, _ = parse_config({"flowalerts": {"entropy_threshold": "4.5"}, "parameters": {"time_window_width": "only_one_tw"}})
    assert config.flow_alerts.entropy_threshold == 4.5
    assert config.parameters.width == ONLY_ONE_TW_WIDTH


def test_non_positive_width_rejected():
    with pytest.raises(ConfigError):
        parse_config({"parameters": {"time_window_width": 0}})


def test_unreadable_and_unsafe_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("parameters: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(unsafe)
    assert yaml.safe_load("a: 1") == {"a": 1}
