"""Fixtures of the reliability suite."""

from __future__ import annotations

import shutil

import pytest
from reliability_support import PrivateRedis


@pytest.fixture
def own_redis():
    """A private redis-server on a free port 6391-6399; killed at the end."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server binary not installed")
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()
