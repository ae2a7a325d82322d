"""Traffic strings cannot build, collide with or inject into Redis keys; the
configuration is loaded safely; no eval/exec/shell in the package; no regular
expression in the package backtracks catastrophically on attacker strings."""

from __future__ import annotations

import importlib
import json
import pathlib
import pkgutil
import re
import sys
import time

import pytest

import flowalerts
from flowalerts import runner as runner_module
from flowalerts.cli import main
from flowalerts.config import ConfigError, load_config
from flowalerts.knowledge.ips import parse_ip

PACKAGE = pathlib.Path(flowalerts.__file__).parent
HOSTILE_KEYS = ["a:b", "*", "x\ny", "flowalerts:bus:records", "?[a-z]", "{tag}", "A" * 60_000, "10.0.0.1:1"]
_IP = r"(?:[0-9.]+|[0-9a-f:]+)"
# Every key a run may create: per-run prefix + fixed names, a validated IP, ints.
ALLOWED_KEY = re.compile(
    rf"^flowalerts:[0-9a-f]{{8}}:(?:bus:(?:records|evidence)|progress:(?:records|evidence)|"
    rf"state:window:{_IP}:-?\d+|state:table:[a-z0-9_]+)$"
)


@pytest.mark.parametrize("value", HOSTILE_KEYS, ids=range(len(HOSTILE_KEYS)))
def test_hostile_strings_never_pass_as_an_address(value):
    assert parse_ip(value) is None


@pytest.mark.redis
def test_run_with_hostile_strings_creates_only_fixed_shape_keys(tmp_path, monkeypatch, own_redis):
    # A real Redis: the embedded run does not keep a state mirror at all.
    shared = own_redis.client()
    # Keep every key the run created, to inspect them afterwards.
    monkeypatch.setattr(runner_module.Topic, "close", lambda self: None)
    monkeypatch.setattr(runner_module.StateMirror, "clear", lambda self: None)
    seen_keys: set[bytes] = set()
    original_flush = runner_module.State.flush

    def flush_and_snapshot(self):
        original_flush(self)
        seen_keys.update(shared.keys("*"))

    monkeypatch.setattr(runner_module.State, "flush", flush_and_snapshot)
    logs = tmp_path / "in"
    logs.mkdir()
    dns, conn, ssl = [], [], []
    for i, text in enumerate(HOSTILE_KEYS):
        base = {"ts": 1_600_000_000.0 + i, "uid": text, "id.orig_h": f"192.168.1.{i + 1}", "id.orig_p": 40000 + i,
                "id.resp_h": "8.8.8.8", "id.resp_p": 53}
        dns.append({**base, "proto": "udp", "query": text, "qtype_name": "A", "rcode_name": "NOERROR",
                    "answers": [f"93.184.216.{i + 1}", text], "TTLs": [300.0, 300.0]})
        conn.append({**base, "id.resp_h": f"93.184.216.{i + 1}", "id.resp_p": 443, "proto": "tcp", "service": text,
                     "conn_state": "SF", "history": text[:100], "duration": 5000.0})
        ssl.append({**base, "id.resp_h": f"93.184.216.{i + 1}", "id.resp_p": 443, "server_name": text, "subject": text,
                    "issuer": text, "validation_status": text, "ja3": text})
    for name, rows in (("dns", dns), ("conn", conn), ("ssl", ssl)):
        (logs / f"{name}.log").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["run", "-f", str(logs), "-o", str(tmp_path / "out"), "--offline", "-q", "--redis", own_redis.url]) == 0
    keys = sorted(k.decode("utf-8", "replace") for k in seen_keys | set(shared.keys("*")))
    assert any(":state:" in k for k in keys), keys  # the mirror did write something
    stray = [k[:80] for k in keys if not ALLOWED_KEY.match(k)]
    assert stray == []
    for key in keys:
        parts = key.split(":state:window:")
        if len(parts) == 2:
            ip = parts[1].rsplit(":", 1)[0]
            assert parse_ip(ip) is not None


def test_yaml_python_tags_are_rejected_cleanly(tmp_path, capsys):
    path = tmp_path / "evil.yaml"
    path.write_text("parameters: !!python/object/apply:os.system ['touch " + str(tmp_path / "pwned") + "']\n")
    with pytest.raises(ConfigError):
        load_config(path)
    assert main(["run", "-f", str(tmp_path), "-o", str(tmp_path / "o"), "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowalerts: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


FORBIDDEN = re.compile(r"\beval\(|\bexec\(|os\.system|os\.popen|shell\s*=\s*True|pickle\.loads?\(|yaml\.load\(|\bcompile\(.*exec")


def test_no_eval_exec_or_shell_in_the_package():
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(PACKAGE)}:{no}: {line.strip()}")
    assert hits == []


def _package_patterns() -> list[re.Pattern]:
    """Every compiled pattern held by a flowalerts module (module or class level)."""
    for info in pkgutil.walk_packages(flowalerts.__path__, "flowalerts."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # a module being written by someone else right now
            continue
    patterns = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("flowalerts"):
            continue
        values = list(vars(module).values())
        values += [v for cls in values if isinstance(cls, type) for v in vars(cls).values()]
        for value in values:
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                patterns[(value.pattern, value.flags)] = value
    for pattern in _grepped_patterns():
        patterns.setdefault((pattern.pattern, pattern.flags), pattern)
    return [patterns[k] for k in sorted(patterns, key=str)]


def _adversarial(n: int = 100_000) -> list[str]:
    return [
        "a" * n, "a" * n + "!", "." * n, "-" * n, "x." * (n // 2), "1" * n, "1." * (n // 2) + "x",
        "-a" * (n // 2), "a-" * (n // 2) + ".", " " * n + "x", "\t" * n, "%" * n, "/" * n, "\\" * n,
        "ab" * (n // 2) + "\n", "0x" + "f" * n, "=" * n, "aaa.bbb." * (n // 8) + "-", "é" * n,
    ]


@pytest.mark.timeout(120)
def test_no_regex_backtracks_catastrophically():
    patterns = _package_patterns()
    assert len(patterns) >= 5
    inputs = _adversarial()
    slow = []
    for pattern in patterns:
        started = time.perf_counter()
        for text in inputs:
            pattern.search(text)
            pattern.match(text)
            pattern.fullmatch(text)
        elapsed = time.perf_counter() - started
        if elapsed > 2.0:
            slow.append((pattern.pattern[:80], round(elapsed, 2)))
    assert slow == []


def _grepped_patterns() -> list[re.Pattern]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for match in re.finditer(r"re\.compile\(\s*r?(['\"])(.*?)\1", path.read_text(encoding="utf-8")):
            try:
                found.append(re.compile(match.group(2)))
            except re.error:
                continue
    return found
