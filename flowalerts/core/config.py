"""Typed configuration loaded from ``slips.yaml``.

Keys follow Slips's names (``parameters.time_window_width``,
``flow_alerts.long_connection_threshold``, ``DisabledAlerts``...). The file is
read with a safe YAML loader and converted into these Structs: a value of the
wrong type is an error that names the key; an unknown key is a warning.
"""

from __future__ import annotations

import pathlib
from typing import Any, Literal

import msgspec
import yaml

# Slips's value for "one window for the whole run".
ONLY_ONE_TW_WIDTH = 9_999_999_999.0


class ConfigError(Exception):
    """A configuration problem, with a message meant for the user."""


class Parameters(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    # Seconds, or the string "only_one_tw".
    time_window_width: float | Literal["only_one_tw"] = 3600.0
    analysis_direction: Literal["out", "all"] = "out"
    client_ips: list[str] = []
    # A (profile, window) is closed this many seconds of flow time after the
    # window ends, so late conn.log lines (logged when a connection ends)
    # still land in their window's state.
    tw_close_grace: float = 600.0

    @property
    def width(self) -> float:
        if self.time_window_width == "only_one_tw":
            return ONLY_ONE_TW_WIDTH
        return float(self.time_window_width)


class FlowAlertsConfig(msgspec.Struct, kw_only=True):
    """Thresholds of the detections (section ``flow_alerts``)."""

    long_connection_threshold: float = 1500.0
    # Slips's spelling is kept so existing slips.yaml files work.
    ssh_succesful_detection_threshold: int = 4290
    # Megabytes (10^6 bytes) uploaded to one destination in one window.
    data_exfiltration_threshold: float = 100.0
    # Megabytes in a single connection.
    single_flow_upload_threshold: float = 100.0
    entropy_threshold: float = 5.0
    pastebin_download_threshold: int = 700
    young_domain_max_age_days: float = 60.0
    reconnection_attempts_threshold: int = 5
    telnet_reconnection_attempts_threshold: int = 4
    dga_nxdomain_threshold: int = 10
    dga_nxdomain_step: int = 5
    arpa_scan_threshold: int = 10
    arpa_scan_window: float = 2.0
    smtp_bruteforce_threshold: int = 3
    smtp_bruteforce_window: float = 10.0
    # Flow-time delays.
    dns_without_connection_wait: float = 1800.0
    connection_without_dns_lookback: float = 86400.0
    # A resolution seen this long after the connection still counts (Zeek
    # logs a query and the connection it enables within a few seconds).
    connection_without_dns_grace: float = 30.0
    non_ssl_443_window: float = 300.0
    # Live mode only (wall clock): no CONNECTION_WITHOUT_DNS /
    # DNS_WITHOUT_CONNECTION during the first minutes of a run.
    live_warmup_minutes: float = 30.0


class DisabledAlerts(msgspec.Struct, kw_only=True):
    disabled_detections: list[str] = []


class Detection(msgspec.Struct, kw_only=True):
    evidence_detection_threshold: float = 0.25


class Whitelists(msgspec.Struct, kw_only=True):
    enable_local_whitelist: bool = True
    local_whitelist_path: str = "whitelist.conf"


class ThreatIntelligence(msgspec.Struct, kw_only=True):
    """Local threat-intelligence files; refreshed from ``*_url`` when online."""

    ja3_feed: str = "feeds/ja3_fingerprints.csv"
    ja3_feed_url: str = "https://sslbl.abuse.ch/blacklist/ja3_fingerprints.csv"
    ja3_feed_threat_level: str = "high"
    ja3_feed_tags: list[str] = msgspec.field(default_factory=lambda: ["malicious"])
    ssl_feed: str = "feeds/sslblacklist.csv"
    ssl_feed_url: str = "https://sslbl.abuse.ch/blacklist/sslblacklist.csv"
    ssl_feed_threat_level: str = "high"
    ssl_feed_tags: list[str] = msgspec.field(default_factory=lambda: ["malicious"])
    tor_exit_nodes: str = "feeds/tor_exit_nodes.txt"
    tor_exit_nodes_url: str = "https://check.torproject.org/torbulkexitlist"
    download_timeout: float = 20.0


class Lookups(msgspec.Struct, kw_only=True):
    """Optional network lookups (whois, ASN, rDNS); all off with --offline."""

    enabled: bool = True
    timeout: float = 3.0
    max_concurrent: int = 4
    negative_cache_seconds: float = 3600.0


class RedisConfig(msgspec.Struct, kw_only=True):
    # None: embedded in-process Redis (fakeredis).
    url: str | None = None
    # "streams": Redis Streams with a consumer group and acks (no loss);
    # "pubsub": Slips-compatible pub/sub with backpressure.
    transport: Literal["streams", "pubsub"] = "streams"
    # Records per bus message between our own processes.
    batch_size: int = 500
    # Producer waits while more than this many messages are unconsumed.
    max_pending_messages: int = 200
    key_prefix: str = "flowalerts"


class Output(msgspec.Struct, kw_only=True):
    alerts_json: str = "alerts.json"
    alerts_log: str = "alerts.log"
    idmef: bool = False


class Config(msgspec.Struct, kw_only=True):
    parameters: Parameters = msgspec.field(default_factory=Parameters)
    flow_alerts: FlowAlertsConfig = msgspec.field(default_factory=FlowAlertsConfig)
    DisabledAlerts: DisabledAlerts = msgspec.field(default_factory=DisabledAlerts)
    detection: Detection = msgspec.field(default_factory=Detection)
    whitelists: Whitelists = msgspec.field(default_factory=Whitelists)
    threatintelligence: ThreatIntelligence = msgspec.field(default_factory=ThreatIntelligence)
    lookups: Lookups = msgspec.field(default_factory=Lookups)
    redis: RedisConfig = msgspec.field(default_factory=RedisConfig)
    output: Output = msgspec.field(default_factory=Output)
    # Directory the relative paths in this config are resolved against.
    base_dir: str = "."

    def path(self, relative: str) -> pathlib.Path:
        candidate = pathlib.Path(relative)
        return candidate if candidate.is_absolute() else pathlib.Path(self.base_dir) / candidate


def _unknown_keys(data: dict[str, Any], struct_type: type, prefix: str = "") -> list[str]:
    known = {f.encode_name: f for f in msgspec.structs.fields(struct_type)}
    unknown = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in known:
            unknown.append(name)
            continue
        sub_type = known[key].type
        if isinstance(value, dict) and isinstance(sub_type, type) and issubclass(sub_type, msgspec.Struct):
            unknown.extend(_unknown_keys(value, sub_type, prefix=name + "."))
    return unknown


def parse_config(data: Any, base_dir: str = ".") -> tuple[Config, list[str]]:
    """Validate a decoded YAML document. Returns the config and warnings."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping of sections")
    # Slips also accepts the legacy section name.
    if "flowalerts" in data and "flow_alerts" not in data:
        data = {**data, "flow_alerts": data["flowalerts"]}
        del data["flowalerts"]
    # Sections Slips has for other modules are fine to keep in the same file.
    warnings = [f"unknown configuration key '{key}' ignored" for key in _unknown_keys(data, Config)]
    try:
        config = msgspec.convert({**data, "base_dir": base_dir}, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
    if config.parameters.width <= 0:
        raise ConfigError("invalid configuration: parameters.time_window_width must be > 0")
    if config.redis.batch_size < 1:
        raise ConfigError("invalid configuration: redis.batch_size must be >= 1")
    return config, warnings


def _describe(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Expected `float`, got `str` - at `$.flow_alerts.x`".
    text = str(exc)
    return text.replace("$.", "").replace("`", "'")


def load_config(path: str | pathlib.Path | None) -> tuple[Config, list[str]]:
    """Load a YAML config file; ``None`` gives the built-in defaults."""
    if path is None:
        return Config(), []
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read configuration {path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse configuration {path}: {exc}") from None
    return parse_config(data, base_dir=str(path.resolve().parent))
