"""Shared pytest fixtures.

* ``redis_server`` / ``redis_url``: tests marked ``redis`` get a Redis of
  their own: a ``redis-server`` this session starts on a free port of
  127.0.0.1 with no persistence (``--save '' --appendonly no``), stopped at
  the end. ``--redis-url URL`` (or $FLOWALERTS_TEST_REDIS) uses another server
  instead; such a server is never flushed (tests use their own key prefixes).
  Without redis-server the tests are skipped - except under CI=true, where
  they fail. The shared server on 127.0.0.1:6379 is never touched.
* ``datasets``: the shared Zeek folders in ``../shared/datasets/slips`` (beside
  the clone); tests that need them skip when the folder is absent.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# $FLOWALERTS_DATASETS: the datasets elsewhere (e.g. a git worktree not beside shared/).
DATASETS = pathlib.Path(os.environ.get("FLOWALERTS_DATASETS") or SHARED / "datasets" / "slips")
FIXTURES = REPO / "tests" / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-url",
        default=os.environ.get("FLOWALERTS_TEST_REDIS"),
        help="use this Redis server for the tests marked 'redis' (never flushed) instead of a private redis-server",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the Redis tests must run)")
    pytest.skip(reason)


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
            _missing(f"no Redis server at {given}: {exc}")
        yield RedisServer(given, private=False)
        return
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        _missing("redis-server is not installed (apt-get install redis-server), and no --redis-url was given")
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
                _missing(f"could not start {binary} on port {port}")
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
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS} (they live beside the clone in ../shared)")
    return DATASETS


@pytest.fixture(scope="session")
def fixtures_dir() -> pathlib.Path:
    return FIXTURES
