"""Redis key layout and the lease / checkpoint scripts (fencing)."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from flowalerts.hosts.distributed.streams import (
    GROUP,
    Keys,
    Retrying,
    Scripts,
    batch_id,
    batch_number,
    checkpoint_next_key,
    cleanup,
    ensure_group,
    redact,
)


def test_one_partitions_keys_share_a_cluster_slot() -> None:
    keys = Keys("flowalerts", "run1")
    for index in range(8):
        slots = {key_slot(key.encode()) for key in keys.partition(index).all()}
        assert len(slots) == 1
    run_slots = {key_slot(key.encode()) for key in (keys.meta, keys.workers, keys.evidence)}
    assert len(run_slots) == 1


def test_batch_ids_carry_the_batch_number() -> None:
    assert batch_number(batch_id(42)) == 42
    assert batch_number(b"7-1") == 7


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://user:secret@host/1", "redis://user:***@host/1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_passwords_are_never_shown(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.redis
def test_a_worker_that_lost_its_lease_cannot_checkpoint_or_acknowledge(redis_url: str, key_prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    scripts = Scripts(client)
    part = Keys(key_prefix, "r").partition(0)
    ensure_group(Retrying(client), client, part.stream)
    client.hset(part.ckpt, mapping={"last": 0, "seq": 0, "done": 0})  # made by the producer
    for number in (1, 2, 3):
        client.xadd(part.stream, {"b": b"x"}, id=batch_id(number))
    entries = client.xreadgroup(GROUP, "old", {part.stream: ">"}, count=10)[0][1]
    assert [batch_number(entry_id) for entry_id, _ in entries] == [1, 2, 3]
    client.set(part.lease, "old:1", px=10_000)
    ids = [entry_id for entry_id, _ in entries[:2]]
    # The owner checkpoints batches 1-2: acknowledged, trimmed below batch 2.
    upload = checkpoint_next_key(part.ckpt, "old:1")
    assert upload.startswith(part.ckpt) and "{" in upload  # same hash tag: one Cluster slot
    client.setrange(upload, 0, b"sta")
    client.setrange(upload, 3, b"te")
    assert scripts.checkpoint(keys=[part.lease, part.ckpt, part.stream, upload], args=["old:1", 2, 5, b"c", 0, "sum", *ids]) == 1
    assert client.hgetall(part.ckpt) == {
        b"last": b"2", b"seq": b"5", b"blob": b"state", b"counters": b"c", b"done": b"0", b"sum": b"sum"
    }
    assert not client.exists(upload)
    assert client.xpending(part.stream, GROUP)["pending"] == 1
    assert [batch_number(entry_id) for entry_id, _ in client.xrange(part.stream)] == [2, 3]
    # The lease moves on (the old owner was presumed dead): it can neither
    # renew, checkpoint nor release any more.
    client.set(part.lease, "new:2", px=10_000)
    assert scripts.renew(keys=[part.lease], args=["old:1", 10_000]) == 0
    client.set(upload, b"stale")
    assert scripts.checkpoint(keys=[part.lease, part.ckpt, part.stream, upload], args=["old:1", 3, 9, b"c", 0, "s", entries[2][0]]) == 0
    assert client.hget(part.ckpt, "blob") == b"state"
    assert not client.exists(upload)  # the stale upload is dropped
    assert client.xpending(part.stream, GROUP)["pending"] == 1
    assert scripts.release(keys=[part.lease], args=["old:1"]) == 0
    assert client.get(part.lease) == b"new:2"
    assert scripts.renew(keys=[part.lease], args=["new:2", 10_000]) == 1
    assert scripts.release(keys=[part.lease], args=["new:2"]) == 1
    assert client.get(part.lease) is None


@pytest.mark.redis
def test_a_partition_is_taken_once_never_after_its_run_ended_and_never_when_done(redis_url: str, key_prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    scripts = Scripts(client)
    part = Keys(key_prefix, "r").partition(1)
    keys = [part.stream, part.lease, part.epoch, part.ckpt]
    # No stream (the run ended, or not started): nothing is created.
    assert scripts.acquire(keys=keys, args=["w1", 10_000]) == [-1]
    assert client.exists(part.lease, part.epoch, part.ckpt) == 0
    ensure_group(Retrying(client), client, part.stream)
    # The stream alone is not enough: the producer made epoch and checkpoint too.
    assert scripts.acquire(keys=keys, args=["w1", 10_000]) == [-1]
    client.set(part.epoch, 0)
    client.hset(part.ckpt, mapping={"last": 0, "done": 0})
    assert scripts.acquire(keys=keys, args=["w1", 10_000]) == [1, b"w1:1"]
    assert scripts.acquire(keys=keys, args=["w2", 10_000]) == [0]
    assert scripts.release(keys=[part.lease], args=["w1:1"]) == 1
    assert scripts.acquire(keys=keys, args=["w2", 10_000]) == [1, b"w2:2"]
    client.delete(part.lease)
    client.hset(part.ckpt, "done", "1")
    assert scripts.acquire(keys=keys, args=["w3", 10_000]) == [-2]
    # A checkpoint lost by Redis is never re-created, nor a lease taken over it.
    client.delete(part.ckpt)
    assert scripts.acquire(keys=keys, args=["w3", 10_000]) == [-1]
    assert not client.exists(part.ckpt, part.lease)


@pytest.mark.redis
def test_evidence_is_written_only_by_the_lease_holder_and_never_recreates_its_stream(
    redis_url: str, key_prefix: str
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    scripts = Scripts(client)
    keys = Keys(key_prefix, "r")
    part = keys.partition(0)
    ensure_group(Retrying(client), client, keys.evidence, "producer")
    client.set(part.lease, "w:1", px=10_000)
    assert scripts.publish(keys=[part.lease, keys.evidence], args=["w:1", b"e1"]) == 1
    # A zombie (lease lost) writes nothing.
    assert scripts.publish(keys=[part.lease, keys.evidence], args=["w:0", b"e2"]) == 0
    assert [fields[b"e"] for _, fields in client.xrange(keys.evidence)] == [b"e1"]
    # The stream gone (the run ended, or Redis lost it): not re-created.
    client.delete(keys.evidence)
    assert scripts.publish(keys=[part.lease, keys.evidence], args=["w:1", b"e3"]) == -1
    assert not client.exists(keys.evidence)


@pytest.mark.redis
def test_heartbeats_and_errors_exist_only_with_the_run_and_expire_with_it(redis_url: str, key_prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    scripts = Scripts(client)
    keys = Keys(key_prefix, "r")
    assert scripts.heartbeat(keys=[keys.meta, keys.workers], args=["w", 1000, 0]) == -1
    assert scripts.report(keys=[keys.meta, keys.errors], args=["p0", "boom", 1]) == 0
    assert not client.exists(keys.workers, keys.errors)
    client.hset(keys.meta, "version", "x")
    client.expire(keys.meta, 60)
    assert scripts.heartbeat(keys=[keys.meta, keys.workers], args=["w", 1000, 0]) == 1
    assert scripts.report(keys=[keys.meta, keys.errors], args=["p0", "boom", 1]) == 1
    assert scripts.report(keys=[keys.meta, keys.errors], args=["p0", "later", 1]) == 1
    assert client.hgetall(keys.errors) == {b"p0": b"later", b"fatal": b"boom"}  # the first fatal stays
    assert 0 < client.ttl(keys.workers) <= 60 and 0 < client.ttl(keys.errors) <= 60


@pytest.mark.redis
def test_cleanup_deletes_every_key_of_one_run_and_nothing_else(redis_url: str, key_prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    mine, other = Keys(key_prefix, "aaaaaaaaaaaa"), Keys(key_prefix, "aaaaaaaaaaab")
    for keys in (mine, other):
        for key in keys.all_keys(2):
            client.set(key, 1)
        client.set(checkpoint_next_key(keys.partition(1).ckpt, "w:3"), 1)
        client.set(keys.end, 1)
        client.sadd(keys.runs, keys.run)
    assert cleanup(client, key_prefix, mine.run) == len(mine.all_keys(2)) + 2
    assert sorted(client.smembers(mine.runs)) == [other.run.encode()]
    left = {key.decode() for key in client.scan_iter(match=f"{key_prefix}:*")}
    assert left == {*other.all_keys(2), checkpoint_next_key(other.partition(1).ckpt, "w:3"), other.end, other.runs}
