"""Operations (issue 16): a bad -o is exit 2 in one line before anything is
read; secrets in URLs are never printed; the configuration rejects what
cannot be meant (negative or NaN durations, a non-numeric Redis DB, output
names that leave -o); lookup caches in Redis expire; python-whois is gone."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import pathlib
import re

import fakeredis
import msgspec
import pytest

import flowalerts
from flowalerts.cli.main import main
from flowalerts.core.config import ConfigError, Lookups, parse_config
from flowalerts.core.urls import RedisUrlError, check_redis_url, redact, redact_url
from flowalerts.engine.detection import config_sections
from flowalerts.hosts import standalone as runner_module
from flowalerts.knowledge.fetch import FetchError
from flowalerts.knowledge.lookups import CREATION, OnlineLookups, RdapClient, parse_bootstrap, registration_date
from tests.reliability.support import conn_json, run_cli

PACKAGE = pathlib.Path(flowalerts.__file__).parent
SECRET = "s3cr3t-P4ss"


def parse(data):
    return parse_config(data, sections=config_sections())


# -- -o -----------------------------------------------------------------------------------
@pytest.fixture
def no_reading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the input was read before -o was checked")

    monkeypatch.setattr(runner_module, "FolderReader", refuse)


@pytest.mark.parametrize(
    ("make_outdir", "reason"),
    [
        (lambda tmp: tmp / "a-file", "output path exists and is not a folder: {o}"),
        (lambda tmp: tmp / "a-file" / "out", "cannot create output folder {o}: Not a directory"),
        (lambda tmp: pathlib.Path("/proc/flowalerts-cannot-be-created"), "cannot create output folder {o}: No such file or directory"),
    ],
    ids=["existing file", "under a file", "uncreatable"],
)
def test_bad_output_path_is_exit_2_in_one_line_before_reading(tmp_path, capsys, no_reading, make_outdir, reason):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "conn.log").write_bytes(conn_json() + b"\n")
    outdir = make_outdir(tmp_path)
    assert run_cli("-f", str(tmp_path / "conn.log"), "-o", str(outdir), "--offline", "-q") == 2
    captured = capsys.readouterr()
    assert captured.err == f"flowalerts: error: {reason.format(o=outdir)}\n"
    assert captured.out == ""


def test_output_file_name_cannot_leave_the_output_folder(tmp_path, capsys):
    for name in ("../../x.json", "/tmp/x.json", "sub/x.json", "..", "a\\b.json", "x\x00.json"):
        with pytest.raises(ConfigError, match="must be a plain file name"):
            parse({"output": {"alerts_json": name}})
    config = tmp_path / "c.yaml"
    config.write_text("output:\n  alerts_json: ../../escaped.json\n")
    (tmp_path / "conn.log").write_bytes(conn_json() + b"\n")
    assert run_cli("-f", str(tmp_path / "conn.log"), "-o", str(tmp_path / "o" / "p"), "-c", str(config)) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "escaped.json").exists() and not (tmp_path / "o").exists()


# -- configuration values ----------------------------------------------------------------------
def _numeric_settings():
    """Every number of every section, framework and detections, by dotted name."""
    config, _ = parse({})
    found = []
    sections = {name: getattr(config, name) for name in ("parameters", "time", "detection", "threatintelligence",
                                                          "lookups", "redis", "input")}
    sections.update({f"flow_alerts.{ident}": section for ident, section in config.flow_alerts.items()})
    for prefix, section in sections.items():
        for field in msgspec.structs.fields(section):
            value = getattr(section, field.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found.append(f"{prefix}.{field.encode_name}")
    return found


NUMERIC = _numeric_settings()


def _nested(dotted: str, value):
    head, _, rest = dotted.partition(".")
    return {head: _nested(rest, value) if rest else value}


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", [-5, float("nan"), float("inf"), "-1e3"])
def test_negative_and_non_finite_numbers_are_rejected_by_name(name, value):
    with pytest.raises(ConfigError) as raised:
        parse(_nested(name, value))
    section, _, key = name.rpartition(".")
    assert section in str(raised.value) and key in str(raised.value)


def test_numeric_settings_cover_the_durations():
    assert {"time.allowed_lateness", "time.live_idle_seconds", "redis.reconnect_seconds", "lookups.timeout",
            "lookups.cache_ttl_seconds", "threatintelligence.download_timeout", "input.max_json_depth",
            "flow_alerts.long_connection.threshold"} <= set(NUMERIC)


def test_yaml_nan_through_the_cli_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("time:\n  allowed_lateness: .nan\n")
    assert main(["run", "-f", str(tmp_path), "-o", str(tmp_path / "o"), "-c", str(config)]) == 2
    assert capsys.readouterr().err == (
        "flowalerts: error: invalid configuration: time.allowed_lateness must be a finite number >= 0 (got nan)\n"
    )


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("redis://localhost:6379/0", True),
        ("redis://localhost", True),
        ("redis://:pw@localhost:6379/15", True),
        ("rediss://user:pw@redis.example:6380/2", True),
        ("unix:///run/redis.sock?db=3", True),
        ("redis://localhost:6379/abc", False),
        ("redis://localhost:6379/1x", False),
        ("redis://localhost:6379/-1", False),
        ("unix:///run/redis.sock?db=abc", False),
        ("redis://localhost:99999/0", False),
        ("redis://localhost:0/0", False),
        ("redis:///0", False),
        ("http://localhost:6379/0", False),
        ("localhost:6379", False),
    ],
)
def test_redis_urls(url, ok):
    if ok:
        assert check_redis_url(url) == url
        parse({"redis": {"url": url}})
    else:
        with pytest.raises(RedisUrlError):
            check_redis_url(url)
        with pytest.raises(ConfigError, match=r"redis\.url"):
            parse({"redis": {"url": url}})


# -- secrets ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"redis://:{SECRET}@host:6379/0", "redis://:***@host:6379/0"),
        (f"redis://user:{SECRET}@host/1", "redis://user:***@host/1"),
        (f"redis://{SECRET}@host/1", "redis://***@host/1"),
        (f"cannot connect to rediss://default:{SECRET}@10.0.0.1:6380/2 (refused)",
         "cannot connect to rediss://default:***@10.0.0.1:6380/2 (refused)"),
        (f"https://feeds.example/x.csv?token={SECRET}&fmt=csv", "https://feeds.example/x.csv?token=***&fmt=csv"),
        (f"unix:///run/redis.sock?db=1&password={SECRET}", "unix:///run/redis.sock?db=1&password=***"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("no url here", "no url here"),
    ],
)
def test_redact(text, shown):
    assert redact(text) == shown
    assert SECRET not in redact_url(text)


def test_password_never_printed_by_config_errors(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"redis:\n  url: redis://:{SECRET}@localhost:6379/abc\n")
    assert main(["run", "-f", str(tmp_path), "-o", str(tmp_path / "o"), "-c", str(config)]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert captured.err == (
        "flowalerts: error: invalid configuration: redis.url: invalid Redis URL redis://:***@localhost:6379/abc: "
        "the database must be a number (got 'abc')\n"
    )


def test_password_never_printed_by_notes_errors_or_logs(capsys, caplog):
    from flowalerts.cli.common import stderr_emit
    from flowalerts.cli.main import _RedactingFormatter, error

    stderr_emit(f"note: attached to redis://:{SECRET}@10.0.0.5:6379/0")
    error(f"lost redis://u:{SECRET}@h:1/0")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "reconnecting to %s", (f"redis://:{SECRET}@h/0",), None)
    formatted = _RedactingFormatter("%(message)s").format(record)
    err = capsys.readouterr().err
    assert SECRET not in err + formatted
    assert formatted == "reconnecting to redis://:***@h/0"


def test_password_never_printed_by_feed_refresh(tmp_path):
    from flowalerts.knowledge.feeds import refresh_feeds

    config, _ = parse({"threatintelligence": {
        "ja3_feed_url": f"http://user:{SECRET}@127.0.0.1:9/ja3.csv?key={SECRET}", "ssl_feed_url": "",
        "tor_exit_nodes_url": "", "download_timeout": 2}})
    config.base_dir = str(tmp_path)
    notes: list[str] = []
    refresh_feeds(config, notify=notes.append)
    assert len(notes) == 1 and SECRET not in notes[0] and "http://user:***@127.0.0.1:9/ja3.csv?key=***" in notes[0]


# -- lookups: RDAP, no python-whois, cache expiry --------------------------------------------------
def test_no_python_whois_anywhere():
    hits = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
            if re.search(r"^\s*(import whois|from whois import)", path.read_text(encoding="utf-8"), re.M)]
    assert hits == []
    project = (PACKAGE.parents[1] / "pyproject.toml").read_text()
    assert "python-whois" not in project and '"whois' not in project


BOOTSTRAP = {"services": [[["com", "net"], ["http://insecure.example/", "https://rdap.verisign.example/com/v1/"]],
                          [["org"], ["https://rdap.org.example/"]], [["bad"], ["http://only-http.example/"]], "junk"]}


def test_rdap_bootstrap_and_registration_date():
    assert parse_bootstrap(BOOTSTRAP) == {"com": "https://rdap.verisign.example/com/v1/",
                                          "net": "https://rdap.verisign.example/com/v1/", "org": "https://rdap.org.example/"}
    answer = {"events": [{"eventAction": "last changed", "eventDate": "2024-01-01T00:00:00Z"},
                         {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"}]}
    assert registration_date(answer) == dt.datetime(1995, 8, 14, 4, tzinfo=dt.timezone.utc)
    for hostile in (None, [], {"events": "x"}, {"events": [{"eventAction": "registration", "eventDate": "soon"}]}):
        assert registration_date(hostile) is None


def test_rdap_client_asks_the_tld_server_within_limits():
    asked = []

    def fetcher(url, *, timeout, max_bytes, headers=None):
        asked.append((url, timeout, max_bytes))
        if url.endswith("dns.json"):
            return json.dumps(BOOTSTRAP).encode()
        if "example.com" in url:
            return json.dumps({"events": [{"eventAction": "registration", "eventDate": "2024-05-01T10:00:00Z"}]}).encode()
        raise FetchError("HTTP 404 Not Found")

    client = RdapClient(timeout=2.5, fetcher=fetcher)
    assert client.creation_date("Example.COM.") == dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
    assert client.creation_date("example.nosuchtld") is None
    with pytest.raises(FetchError):
        client.creation_date("missing.org")
    assert [url for url, *_ in asked] == [
        "https://data.iana.org/rdap/dns.json",  # once
        "https://rdap.verisign.example/com/v1/domain/example.com",
        "https://rdap.org.example/domain/missing.org",
    ]
    assert all(timeout == 2.5 and max_bytes <= 4 << 20 for _, timeout, max_bytes in asked)


def _wait(predicate, seconds=3.0):
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_redis_cache_keys_expire():
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    created = dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc)
    cfg = Lookups(timeout=2.0, max_concurrent=1, negative_cache_seconds=60, cache_ttl_seconds=3600)
    lookups = OnlineLookups(cfg, resolver=lambda d: created if d == "known.example" else None,
                            rdns_resolver=lambda ip: None, redis_client=client)
    try:
        for name in ("known.example", "unknown.example", "x\n:*{tag}"):
            lookups.creation_date(name)
        lookups.rdns("8.8.8.8")
        assert _wait(lambda: len(client.keys("*")) == 4)
        keys = sorted(k.decode() for k in client.keys("*"))
        assert all(re.fullmatch(r"flowalerts:cache:(rdap|rdns):[0-9a-f]{32}", k) for k in keys), keys
        ttls = sorted(client.ttl(k) for k in keys)
        assert ttls[:3] == [60, 60, 60] and 3590 <= ttls[3] <= 3600  # every key expires
        assert _wait(lambda: lookups.creation_date("known.example") == created)
    finally:
        lookups.close()
    # A later run reads the answer back without asking.
    again = OnlineLookups(cfg, resolver=lambda d: pytest.fail("asked again"), redis_client=client)
    try:
        again.creation_date("known.example")
        assert _wait(lambda: again.creation_date("known.example") == created)
        assert again.notes["lookups_cached"] == 1
    finally:
        again.close()
    assert CREATION == "rdap"


def test_lookups_are_off_offline_and_in_run_tests(tmp_path):
    from flowalerts.knowledge.lookups import NullLookups, make_lookups

    config, _ = parse({})
    assert isinstance(make_lookups(config, offline=True), NullLookups)
    config, _ = parse({"lookups": {"enabled": False}})
    assert isinstance(make_lookups(config, offline=False), NullLookups)


def test_ttl_settings_are_finite():
    config, _ = parse({})
    assert math.isfinite(config.lookups.cache_ttl_seconds) and config.lookups.cache_ttl_seconds > 0
