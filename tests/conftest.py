"""Shared pytest fixtures and options.

* ``datasets``: the shared Zeek folders in ``../shared/datasets/slips``
  (beside the clone, or ``$FLOWALERTS_DATASETS``). Without them a test skips with the reason; under
  ``CI=true`` it fails instead (CI must never pass without its key suites).
* ``redis_server`` / ``redis_url``: tests marked ``redis`` get a Redis of
  their own: a ``redis-server`` this session starts on a free port of
  127.0.0.1 with no persistence (``--save '' --appendonly no``), stopped at
  the end. ``--redis-url URL`` (or ``$FLOWALERTS_TEST_REDIS``) uses another
  server instead; such a server is never flushed (tests use their own key
  prefixes). Without redis-server the tests skip - under ``CI=true`` they
  fail. The shared server on 127.0.0.1:6379 is never touched.
* ``--regen-golden``: rewrite the golden files (``tests/golden/``) from the
  current code instead of comparing; review the diff before committing.
* ``FLOWALERTS_MUTATE=<detection id>:<raise|silent>`` (used by
  ``scripts/check_mutations.py``): break one detection on purpose - every
  ``handle`` raises, or it reports nothing - to prove the tests notice.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The shared folder beside the clone; $FLOWALERTS_SHARED (or, for the datasets
# alone, $FLOWALERTS_DATASETS) points elsewhere, e.g. from a git worktree.
SHARED = pathlib.Path(os.environ.get("FLOWALERTS_SHARED") or REPO.parent / "shared")
DATASETS = pathlib.Path(os.environ.get("FLOWALERTS_DATASETS") or SHARED / "datasets" / "slips")
GOLDEN = REPO / "tests" / "golden"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/ from the current code")
    parser.addoption(
        "--redis-url",
        default=os.environ.get("FLOWALERTS_TEST_REDIS"),
        help="use this Redis server for the tests marked 'redis' (never flushed) instead of a private redis-server",
    )


def need(condition: bool, reason: str) -> None:
    """Skip when a dependency is missing - or fail, under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A Redis for the tests: ``url`` (DB 0) and whether it is ours to flush."""

    def __init__(self, url: str, private: bool) -> None:
        self.url = url
        self.private = private

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=2)


@pytest.fixture(scope="session")
def redis_server(pytestconfig: pytest.Config):
    import redis

    given = pytestconfig.getoption("--redis-url")
    if given:
        try:
            redis.Redis.from_url(given, socket_connect_timeout=2).ping()
        except (redis.RedisError, OSError) as exc:
            need(False, f"no Redis server at {given}: {exc}")
        yield RedisServer(given, private=False)
        return
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        need(False, "redis-server is not installed (apt-get install redis-server), and no --redis-url was given")
    workdir = tempfile.mkdtemp(prefix="flowalerts-test-redis-")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except (redis.RedisError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                need(False, f"could not start {binary} on port {port}")
            time.sleep(0.05)
    try:
        yield RedisServer(url, private=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer):
    """A Redis URL for one test; a private server is flushed before and after."""
    client = redis_server.client()
    if redis_server.private:
        client.flushall()
    yield redis_server.url
    if redis_server.private:
        client.flushall()
    client.close()


@pytest.fixture
def key_prefix() -> str:
    """A key prefix of this test's own (so a shared --redis-url server is safe)."""
    return f"flowalerts-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def datasets() -> pathlib.Path:
    need(DATASETS.is_dir(), f"shared datasets not found at {DATASETS} (they live beside the clone in ../shared)")
    return DATASETS


@pytest.fixture(scope="session")
def regen_golden(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--regen-golden"))


def _apply_mutation(spec: str) -> None:
    from flowalerts.catalog import load_components

    ident, _, mode = spec.partition(":")
    detections, _ = load_components()
    cls = detections.get(ident)
    if cls is None:
        raise pytest.UsageError(f"FLOWALERTS_MUTATE: no detection {ident!r}")
    if mode == "raise":

        def broken(self, *args, **kwargs):
            raise RuntimeError(f"mutation: {ident} broken on purpose")

        for hook in ("handle", "on_timer", "report_tally"):
            if hook in vars(cls) or hook == "handle":
                setattr(cls, hook, broken)
    elif mode == "silent":
        # Every evidence of a detection leaves it through _emit.
        cls._emit = lambda self, evidence: None
    else:
        raise pytest.UsageError(f"FLOWALERTS_MUTATE: mode must be raise or silent, not {mode!r}")


# What `pip install -e '.[test]'` puts in the environment (import names).
TEST_REQUIREMENTS = ("flowalerts", "msgspec", "yaml", "redis", "fakeredis", "hypothesis", "psutil", "pytest_timeout")
INSTALL_HINT = "run the README's install command first, in this Python: pip install -e '.[test]'"


def _check_installed() -> None:
    """One clear error instead of one collection error per test file when the
    tests run in a Python without this checkout installed (or with another
    copy of flowalerts installed: the tests would test that copy)."""
    missing = [name for name in TEST_REQUIREMENTS if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(f"{sys.executable} lacks {', '.join(missing)}: {INSTALL_HINT}")
    origin = pathlib.Path(importlib.util.find_spec("flowalerts").origin or "").resolve()
    if REPO / "slips_files" not in origin.parents:
        raise pytest.UsageError(f"flowalerts is imported from {origin.parent}, not from this checkout ({REPO}): "
                                f"{INSTALL_HINT}")


def pytest_configure(config: pytest.Config) -> None:
    _check_installed()
    spec = os.environ.get("FLOWALERTS_MUTATE")
    if spec:
        _apply_mutation(spec)
