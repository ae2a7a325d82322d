"""Shared pytest fixtures.

* ``--redis-url`` (default redis://127.0.0.1:6379/15, or $FLOWALERTS_TEST_REDIS):
  tests marked ``redis`` use it and are skipped with a clear reason when no
  server answers there. The DB is flushed before and after each such test.
* ``datasets``: the shared Zeek folders in ``../shared/datasets/slips`` (beside
  the clone, or ``$FLOWALERTS_SHARED/datasets/slips``); tests that need them
  skip when the folder is absent.
"""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The shared folder beside the clone; FLOWALERTS_SHARED points elsewhere (e.g. from a git worktree).
SHARED = pathlib.Path(os.environ.get("FLOWALERTS_SHARED", REPO.parent / "shared"))
DATASETS = SHARED / "datasets" / "slips"
FIXTURES = REPO / "tests" / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-url",
        default=os.environ.get("FLOWALERTS_TEST_REDIS", "redis://127.0.0.1:6379/15"),
        help="Redis server for the integration tests marked 'redis'",
    )


@pytest.fixture(scope="session")
def redis_url_option(pytestconfig: pytest.Config) -> str:
    return pytestconfig.getoption("--redis-url")


@pytest.fixture
def redis_url(redis_url_option: str):
    """A real Redis URL with a clean DB, or skip."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url_option, socket_connect_timeout=2)
        client.ping()
    except (redis.RedisError, OSError) as exc:
        pytest.skip(f"no Redis server at {redis_url_option}: {exc}")
    client.flushdb()
    yield redis_url_option
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def datasets() -> pathlib.Path:
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS} (they live beside the clone in ../shared)")
    return DATASETS


@pytest.fixture(scope="session")
def fixtures_dir() -> pathlib.Path:
    return FIXTURES
