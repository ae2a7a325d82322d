"""Typed configuration loaded from ``slips.yaml``.

Two kinds of sections:

* the framework's (``parameters``, ``time``, ``detection``, ``whitelists``,
  ``threatintelligence``, ``lookups``, ``redis``, ``input``, ``output``,
  ``health``, ``DisabledAlerts``), defined here;
* one per detection under ``flow_alerts:``, keyed by the detection's id and
  typed by the config class the detection declares in its own file. The
  loader is handed those classes (``sections``); it names no detection.

Keys follow Slips's slips.yaml where Slips has them. Slips's flat keys in its
``flow_alerts`` section (``long_connection_threshold: 1500`` ...) are accepted
as aliases a detection declares (``slips_keys``), so an existing Slips
configuration keeps working. The file is read with a safe YAML loader; a value
of the wrong type or an unknown key inside ``flow_alerts`` or one of our
sections is an error naming the key; an unknown top-level section (Slips has
many for its other modules) is a warning.

Every default is in the code: a wheel installed anywhere runs with the same
configuration as the shipped ``slips.yaml`` (a test checks they agree), and
``flowalerts config`` prints the full defaults.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any, ClassVar, Literal

import msgspec
import msgspec.structs
import yaml

from flowalerts.data import DATA_DIR as PACKAGE_DIR

# Slips's value for "one window for the whole run".
ONLY_ONE_TW_WIDTH = 9_999_999_999.0



class ConfigError(Exception):
    """A configuration problem, with a message meant for the user."""


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section: unknown keys are errors."""


class SectionConfig(Section):
    """Base of a detection's config section (declared in the detection's file).

    ``slips_keys`` maps Slips's flat key names in its ``flow_alerts`` section
    to fields of this section (e.g. ``{"long_connection_threshold":
    "threshold"}``).
    """

    slips_keys: ClassVar[dict[str, str]] = {}
    # Numeric fields that may be negative (every other number of a section
    # must be finite and >= 0; see _check_ranges).
    signed_fields: ClassVar[frozenset[str]] = frozenset()


class Parameters(Section):
    # Seconds, or the string "only_one_tw".
    time_window_width: float | Literal["only_one_tw"] = 3600.0
    analysis_direction: Literal["out", "all"] = "out"
    client_ips: list[str] = []

    @property
    def width(self) -> float:
        if self.time_window_width == "only_one_tw":
            return ONLY_ONE_TW_WIDTH
        return float(self.time_window_width)


class TimeSection(Section):
    """Flow time (see ``flowalerts.core.clock``)."""

    allowed_lateness: float = 3600.0
    clock_jump_threshold: float = 86400.0
    clock_jump_confirmations: int = 50
    t0_lookahead: int = 100
    # Live mode (--follow): wall-clock seconds without new lines after which
    # the watermark follows the wall clock (so windows close on a quiet sensor).
    live_idle_seconds: float = 30.0


class DisabledAlerts(Section):
    disabled_detections: list[str] = []


class DetectionSection(Section):
    evidence_detection_threshold: float = 0.25


class Whitelists(Section):
    enable_local_whitelist: bool = True
    local_whitelist_path: str = "whitelist.conf"


class ThreatIntelligence(Section):
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
    # Seconds: whole download, not per read.
    download_timeout: float = 20.0
    download_max_bytes: int = 50_000_000


class Lookups(Section):
    """Optional network lookups (whois/RDAP, rDNS); all off with --offline."""

    enabled: bool = True
    timeout: float = 3.0
    max_concurrent: int = 4
    negative_cache_seconds: float = 3600.0
    cache_ttl_seconds: float = 86400.0


class RedisSection(Section):
    # None: embedded (in-process) run. Or redis://host:port/db.
    url: str | None = None
    # Records per bus message between our own processes.
    batch_size: int = 500
    # Producer waits while more than this many messages are unconsumed.
    max_pending_messages: int = 200
    key_prefix: str = "flowalerts"
    # Seconds a lost connection is retried (with backoff) before giving up.
    reconnect_seconds: float = 30.0
    # Distributed runs (flowalerts run --redis, flowalerts worker).
    # Profile partitions; 0: one per local worker (run --workers N).
    partitions: int = 0
    # A worker's hold on a partition; a dead worker's partitions are taken
    # over this many seconds after it stopped renewing.
    lease_seconds: float = 15.0
    # A worker checkpoints each partition's state at least this often
    # (seconds, and every checkpoint_batches batches): the work redone after
    # a worker dies, and what a partition keeps in Redis until then. A
    # checkpoint pickles the partition's whole state (about 1 s and 45 MB at
    # the 1M benchmark), so not too often: every 400 batches (200k records)
    # it was a fifth of a worker's CPU; 2000 batches (1M records at the
    # default batch size) leaves the 30 s to decide on a fast worker.
    checkpoint_seconds: float = 30.0
    checkpoint_batches: int = 2000


class InputSection(Section):
    """Limits on what is read (hostile input must not exhaust memory)."""

    max_line_bytes: int = 1 << 20
    max_json_depth: int = 32
    # Per compressed file: more than this many decompressed bytes is a bomb.
    max_decompressed_bytes: int = 20 * (1 << 30)
    max_decompression_ratio: int = 1000
    # Names in the logs -> Zeek's names (the inverse of Zeek's
    # Log::default_field_name_map), e.g. {src: id.orig_h}.
    field_names: dict[str, str] = {}


class Output(Section):
    alerts_json: str = "alerts.json"
    alerts_log: str = "alerts.log"
    idmef: bool = False


class Health(Section):
    # A detection that raised makes the run "degraded" (exit 3). Operators who
    # prefer exit 0 then (the summary still says it) set this to true.
    exit_zero_when_degraded: bool = False


class Config(msgspec.Struct, kw_only=True):
    parameters: Parameters = msgspec.field(default_factory=Parameters)
    time: TimeSection = msgspec.field(default_factory=TimeSection)
    DisabledAlerts: DisabledAlerts = msgspec.field(default_factory=DisabledAlerts)
    detection: DetectionSection = msgspec.field(default_factory=DetectionSection)
    whitelists: Whitelists = msgspec.field(default_factory=Whitelists)
    threatintelligence: ThreatIntelligence = msgspec.field(default_factory=ThreatIntelligence)
    lookups: Lookups = msgspec.field(default_factory=Lookups)
    redis: RedisSection = msgspec.field(default_factory=RedisSection)
    input: InputSection = msgspec.field(default_factory=InputSection)
    output: Output = msgspec.field(default_factory=Output)
    health: Health = msgspec.field(default_factory=Health)
    # One typed section per detection id (flow_alerts.<id> in slips.yaml).
    flow_alerts: dict[str, Any] = msgspec.field(default_factory=dict)
    # Directory the relative paths in this config are resolved against.
    base_dir: str = str(PACKAGE_DIR)

    def path(self, relative: str) -> pathlib.Path:
        candidate = pathlib.Path(relative)
        if candidate.is_absolute():
            return candidate
        local = pathlib.Path(self.base_dir) / candidate
        if local.exists() or self.base_dir == str(PACKAGE_DIR):
            return local
        # A user config that does not ship its own feeds/whitelist uses ours.
        return PACKAGE_DIR / candidate

    def section(self, detection_id: str, section_type: type[SectionConfig]) -> Any:
        """The typed section of a detection (its defaults when absent)."""
        found = self.flow_alerts.get(detection_id)
        return found if isinstance(found, section_type) else section_type()

    @property
    def alert_threshold(self) -> float:
        """Slips's alert threshold for one window: threshold x width / 60."""
        return self.detection.evidence_detection_threshold * self.parameters.width / 60.0


_FRAMEWORK_SECTIONS = {f.encode_name for f in msgspec.structs.fields(Config)} - {"flow_alerts", "base_dir"}


def parse_config(
    data: Any,
    base_dir: str | None = None,
    sections: dict[str, type[SectionConfig]] | None = None,
) -> tuple[Config, list[str]]:
    """Validate a decoded YAML document. Returns the config and warnings.

    ``sections`` are the detections' config classes by detection id.
    """
    sections = sections or {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping of sections")
    data = dict(data)
    # Slips also accepts the legacy section name.
    if "flowalerts" in data and "flow_alerts" not in data:
        data["flow_alerts"] = data.pop("flowalerts")
    warnings = []
    for key in list(data):
        if key not in _FRAMEWORK_SECTIONS and key != "flow_alerts":
            warnings.append(f"configuration section '{key}' is not used by Flowalerts (ignored)")
            del data[key]
    detections, more = _parse_detections(data.pop("flow_alerts", None) or {}, sections)
    warnings.extend(more)
    try:
        config = msgspec.convert({**data, "base_dir": base_dir or str(PACKAGE_DIR)}, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
    config.flow_alerts = detections
    _check_ranges(config)
    return config, warnings


def _parse_detections(raw: Any, sections: dict[str, type[SectionConfig]]) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(raw, dict):
        raise ConfigError("invalid configuration: 'flow_alerts' must be a mapping of detection sections")
    warnings: list[str] = []
    # One Slips key may feed several sections (e.g. the pastebin threshold of the TLS and HTTP detections).
    by_slips_key: dict[str, list[tuple[str, str]]] = {}
    for ident, cls in sections.items():
        for legacy, field in cls.slips_keys.items():
            by_slips_key.setdefault(legacy, []).append((ident, field))
    values: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        if key in sections:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"invalid configuration: 'flow_alerts.{key}' must be a mapping")
            values.setdefault(key, {}).update(value)
        elif key in by_slips_key:
            for ident, field in by_slips_key[key]:
                values.setdefault(ident, {}).setdefault(field, value)
        else:
            known = ", ".join(sorted(sections)) or "none"
            raise ConfigError(f"invalid configuration: unknown key 'flow_alerts.{key}' (detection sections: {known})")
    parsed: dict[str, Any] = {}
    for ident, cls in sections.items():
        try:
            parsed[ident] = msgspec.convert(values.get(ident, {}), cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid configuration in 'flow_alerts.{ident}': {_describe(exc)}") from None
    return parsed, warnings


def _check_ranges(config: Config) -> None:
    def positive(name: str, value: float) -> None:
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"invalid configuration: {name} must be a finite number > 0 (got {value!r})")

    def non_negative(name: str, value: float) -> None:
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"invalid configuration: {name} must be a finite number >= 0 (got {value!r})")

    # Every number of every section (durations, counts, sizes, thresholds):
    # finite and >= 0 unless the section declares it signed.
    for section_name in sorted(_FRAMEWORK_SECTIONS):
        _check_numbers(section_name, getattr(config, section_name), non_negative)
    for ident, section in sorted(config.flow_alerts.items()):
        _check_numbers(f"flow_alerts.{ident}", section, non_negative)

    positive("parameters.time_window_width", config.parameters.width)
    non_negative("time.allowed_lateness", config.time.allowed_lateness)
    positive("time.clock_jump_threshold", config.time.clock_jump_threshold)
    positive("time.clock_jump_confirmations", config.time.clock_jump_confirmations)
    positive("time.t0_lookahead", config.time.t0_lookahead)
    non_negative("detection.evidence_detection_threshold", config.detection.evidence_detection_threshold)
    positive("redis.batch_size", config.redis.batch_size)
    positive("redis.max_pending_messages", config.redis.max_pending_messages)
    non_negative("redis.partitions", config.redis.partitions)
    positive("redis.lease_seconds", config.redis.lease_seconds)
    positive("redis.checkpoint_seconds", config.redis.checkpoint_seconds)
    positive("redis.checkpoint_batches", config.redis.checkpoint_batches)
    positive("input.max_line_bytes", config.input.max_line_bytes)
    positive("input.max_json_depth", config.input.max_json_depth)
    positive("lookups.timeout", config.lookups.timeout)
    positive("threatintelligence.download_timeout", config.threatintelligence.download_timeout)
    positive("threatintelligence.download_max_bytes", config.threatintelligence.download_max_bytes)
    positive("time.live_idle_seconds", config.time.live_idle_seconds)
    positive("lookups.max_concurrent", config.lookups.max_concurrent)
    positive("lookups.cache_ttl_seconds", config.lookups.cache_ttl_seconds)
    positive("input.max_decompressed_bytes", config.input.max_decompressed_bytes)
    if not config.input.max_decompression_ratio >= 1:
        raise ConfigError("invalid configuration: input.max_decompression_ratio must be a finite number >= 1")
    _check_field_names(config.input.field_names)
    if config.redis.url is not None:
        from flowalerts.core.urls import RedisUrlError, check_redis_url

        try:
            check_redis_url(config.redis.url)
        except RedisUrlError as exc:
            raise ConfigError(f"invalid configuration: redis.url: {exc}") from None
    for name in (config.output.alerts_json, config.output.alerts_log):
        path = pathlib.PurePath(name)
        if (
            path.is_absolute()
            or len(path.parts) != 1
            or name in (".", "..")
            or any(sep in name for sep in ("/", "\\", "\x00"))
        ):
            raise ConfigError(f"invalid configuration: output file name {name!r} must be a plain file name (no folders)")


def _check_field_names(field_names: dict[str, str]) -> None:
    """``input.field_names``: each maps a name to a Zeek field some log is read for."""
    from flowalerts.core.records import ZEEK_FIELD_NAMES

    known = ZEEK_FIELD_NAMES | {name.replace(".", "_") for name in ZEEK_FIELD_NAMES}
    for name, zeek in field_names.items():
        if not name:
            raise ConfigError("invalid configuration: input.field_names has an empty name")
        if zeek not in known:
            raise ConfigError(
                f"invalid configuration: input.field_names.{name}: {zeek!r} is not a Zeek field Flowalerts reads"
                " (e.g. id.orig_h, id.resp_p, ts)"
            )


def _check_numbers(prefix: str, section: Any, check: Any) -> None:
    if not isinstance(section, msgspec.Struct):
        return
    signed = getattr(section, "signed_fields", frozenset())
    for field in msgspec.structs.fields(section):
        value = getattr(section, field.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or field.name in signed:
            continue
        check(f"{prefix}.{field.encode_name}", value)


def _describe(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Expected `float`, got `str` - at `$.flow_alerts.x`".
    text = str(exc)
    return text.replace("$.", "").replace("`", "'")


def load_config(
    path: str | pathlib.Path | None,
    sections: dict[str, type[SectionConfig]] | None = None,
) -> tuple[Config, list[str]]:
    """Load a YAML config file; ``None`` gives the built-in defaults."""
    if path is None:
        return parse_config({}, sections=sections)
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
    return parse_config(data, base_dir=str(path.resolve().parent), sections=sections)


def defaults_document(sections: dict[str, type[SectionConfig]]) -> dict[str, Any]:
    """The full default configuration as a YAML-ready mapping."""
    config, _ = parse_config({}, sections=sections)
    doc = msgspec.to_builtins(config)
    doc.pop("base_dir", None)
    doc["flow_alerts"] = {ident: msgspec.to_builtins(config.flow_alerts[ident]) for ident in sorted(sections)}
    return doc
