"""Checkpoint checksums and the durability check at start (no Redis needed)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from flowalerts.hosts.distributed.producer import durability_warning
from flowalerts.hosts.distributed.worker import checkpoint_sum


def test_a_checkpoint_checksum_covers_every_field_and_every_byte() -> None:
    base = checkpoint_sum(7, 12, b"counters", 0, [b"sta", b"te"])
    # Pieces are hashed as one blob: how the upload was cut does not matter.
    assert checkpoint_sum(7, 12, b"counters", 0, [b"state"]) == base
    assert len(base) == 32
    for changed in (
        checkpoint_sum(8, 12, b"counters", 0, [b"state"]),
        checkpoint_sum(7, 13, b"counters", 0, [b"state"]),
        checkpoint_sum(7, 12, b"counterz", 0, [b"state"]),
        checkpoint_sum(7, 12, b"counters", 1, [b"state"]),
        checkpoint_sum(7, 12, b"counters", 0, [b"statf"]),
        # A byte moved from the counters into the blob.
        checkpoint_sum(7, 12, b"counter", 0, [b"sstate"]),
    ):
        assert changed != base


class FakeConfig:
    def __init__(self, values: dict[str, str] | None) -> None:
        self.values = values

    def config_get(self, name: str) -> dict[str, Any]:
        if self.values is None:
            raise redis.ResponseError("unknown command 'CONFIG'")
        return {name: self.values[name]}


@pytest.mark.parametrize(
    ("policy", "maxmemory", "warns"),
    [
        ("noeviction", "0", False),
        ("noeviction", "1000000", False),
        ("allkeys-lru", "0", False),  # no limit: nothing is evicted
        ("allkeys-lru", "1000000", True),
        ("volatile-ttl", "1000000", True),  # every key of a run has a TTL
    ],
)
def test_eviction_is_warned_about_once_naming_the_setting(policy: str, maxmemory: str, warns: bool) -> None:
    warning = durability_warning(FakeConfig({"maxmemory-policy": policy, "maxmemory": maxmemory}))  # type: ignore[arg-type]
    if warns:
        assert warning == (
            f"warning: Redis maxmemory-policy is {policy} (maxmemory {maxmemory}): eviction can drop this run's "
            "keys, which stops it (exit 2); set maxmemory-policy noeviction"
        )
    else:
        assert warning is None


def test_a_redis_without_config_is_not_warned_about() -> None:
    assert durability_warning(FakeConfig(None)) is None  # type: ignore[arg-type]
