"""Traffic strings cannot pass for addresses; the configuration is loaded
safely; no eval/exec/shell in the package; no regular expression in the
package backtracks catastrophically on attacker strings. (Redis keys built
from traffic: tests/reliability/test_operations.py, the lookup cache.)"""

from __future__ import annotations

import importlib
import pathlib
import pkgutil
import re
import sys
import time

import pytest

import flowalerts
from flowalerts.cli.main import main
from flowalerts.core.config import ConfigError, load_config
from flowalerts.core.ips import parse_ip

PACKAGE = pathlib.Path(flowalerts.__file__).parent
HOSTILE_KEYS = ["a:b", "*", "x\ny", "flowalerts:bus:records", "?[a-z]", "{tag}", "A" * 60_000, "10.0.0.1:1",
                "10.0.0.1\x00", " 10.0.0.1", "10.0.0.1 ", "0x0a000001", "167772161", "10.1", "::ffff:999.1.1.1"]


@pytest.mark.parametrize("value", HOSTILE_KEYS, ids=range(len(HOSTILE_KEYS)))
def test_hostile_strings_never_pass_as_an_address(value):
    assert parse_ip(value) is None


def test_yaml_python_tags_are_rejected_cleanly(tmp_path, capsys):
    path = tmp_path / "evil.yaml"
    path.write_text("parameters: !!python/object/apply:os.system ['touch " + str(tmp_path / "pwned") + "']\n")
    with pytest.raises(ConfigError):
        load_config(path)
    assert main(["run", "-f", str(tmp_path), "-o", str(tmp_path / "o"), "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowalerts: error:") and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


FORBIDDEN = re.compile(r"(?<![.\w])eval\(|\bexec\(|os\.system|os\.popen|shell\s*=\s*True|pickle\.loads?\(|yaml\.load\(|\bcompile\(.*exec")


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
            if isinstance(value, re.Pattern):
                patterns[(value.pattern, value.flags)] = value
    for pattern in _grepped_patterns():
        patterns.setdefault((pattern.pattern, pattern.flags), pattern)
    return [patterns[k] for k in sorted(patterns, key=str)]


def _adversarial(n: int = 100_000) -> list[str]:
    return [
        "a" * n, "a" * n + "!", "." * n, "-" * n, "x." * (n // 2), "1" * n, "1." * (n // 2) + "x",
        "-a" * (n // 2), "a-" * (n // 2) + ".", " " * n + "x", "\t" * n, "%" * n, "/" * n, "\\" * n,
        "ab" * (n // 2) + "\n", "0x" + "f" * n, "=" * n, "aaa.bbb." * (n // 8) + "-", "é" * n,
        '"' + "\\" * n, '"\\"' * (n // 3), "[" * n, "redis://" + ":" * n, "x://" * (n // 4) + "@",
        "?password=" * (n // 10), '"' * n,
    ]


@pytest.mark.timeout(180)
def test_no_regex_backtracks_catastrophically():
    patterns = _package_patterns()
    assert len(patterns) >= 5
    inputs = _adversarial()
    slow = []
    for pattern in patterns:
        started = time.perf_counter()
        for text in inputs:
            subject = text.encode("utf-8", "surrogatepass") if isinstance(pattern.pattern, bytes) else text
            pattern.search(subject)
            pattern.match(subject)
            pattern.fullmatch(subject)
            pattern.sub(subject[:0], subject)
        elapsed = time.perf_counter() - started
        if elapsed > 2.0:
            slow.append((str(pattern.pattern)[:80], round(elapsed, 2)))
    assert slow == []


def _grepped_patterns() -> list[re.Pattern]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for match in re.finditer(r"re\.compile\(\s*(r?b?r?)(['\"])(.*?)\2", path.read_text(encoding="utf-8")):
            prefix, text = match.group(1), match.group(3)
            try:
                found.append(re.compile(text.encode() if "b" in prefix else text))
            except re.error:
                continue
    return found
