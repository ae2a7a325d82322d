"""Lookups: never blocking, cached (positive and negative), persisted in
Redis with an expiry, bounded. Resolvers are injected: no test touches the
network (RDAP and the cache keys: tests/reliability/test_operations.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import fakeredis
import pytest

from flowalerts.core.config import Lookups as LookupsConfig
from flowalerts.knowledge.lookups import NullLookups, OnlineLookups, make_lookups
from tests.harness import config

CREATED = dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc)


def wait_for(fn, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value is not None:
            return value
        time.sleep(0.005)
    return None


@pytest.fixture
def online():
    made = []

    def build(**kw):
        cfg = kw.pop("cfg", LookupsConfig(timeout=2.0, max_concurrent=2, negative_cache_seconds=60))
        lookups = OnlineLookups(cfg, **kw)
        made.append(lookups)
        return lookups

    yield build
    for lookups in made:
        lookups.close()


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def test_canned_resolver_result_arrives_later(online):
    calls = []
    lookups = online(resolver=lambda d: calls.append(d) or CREATED)
    value, took = timed(lookups.creation_date, "example.com")
    assert value is None and took < 0.05
    assert wait_for(lambda: lookups.creation_date("example.com")) == CREATED
    assert lookups.creation_date("EXAMPLE.com.") == CREATED
    assert calls == ["example.com"]  # cached
    assert lookups.notes["lookups_done"] == 1


def test_slow_resolver_never_delays_the_caller(online):
    release = threading.Event()

    def slow(domain):
        release.wait(5)  # "sleeps" up to 5 s
        return CREATED

    lookups = online(resolver=slow)
    for i in range(50):
        value, took = timed(lookups.creation_date, f"d{i}.example.com")
        assert value is None and took < 0.05
    value, took = timed(lookups.creation_date, "d0.example.com")
    assert value is None and took < 0.05
    assert lookups.notes["lookups_pending"] >= 51
    release.set()
    assert wait_for(lambda: lookups.creation_date("d0.example.com")) == CREATED


def test_timeout_is_a_counted_negative_and_late_answer_still_lands(online):
    release = threading.Event()
    now = {"t": 0.0}
    lookups = online(
        cfg=LookupsConfig(timeout=1.0, max_concurrent=1, negative_cache_seconds=60),
        resolver=lambda d: release.wait(5) and CREATED,
        clock=lambda: now["t"],
    )
    assert lookups.creation_date("slow.example") is None
    now["t"] = 100.0  # past the deadline
    assert lookups.creation_date("slow.example") is None
    assert lookups.notes["lookups_timeout"] == 1 and lookups.notes["lookups_failed"] == 1
    release.set()
    assert wait_for(lambda: lookups.creation_date("slow.example")) == CREATED


def test_failing_resolver_negative_cache_expires(online):
    wall = {"t": 1000.0}
    calls = []

    def failing(domain):
        calls.append(domain)
        raise OSError("RDAP server unreachable")

    lookups = online(resolver=failing, wall_clock=lambda: wall["t"])
    value, took = timed(lookups.creation_date, "bad.example")
    assert value is None and took < 0.05
    assert wait_for(lambda: lookups.notes["lookups_failed"] or None) == 1
    assert lookups.creation_date("bad.example") is None
    assert calls == ["bad.example"]  # negatively cached: not asked again
    wall["t"] += 61  # negative_cache_seconds passed
    lookups.creation_date("bad.example")
    assert wait_for(lambda: lookups.notes["lookups_failed"] if lookups.notes["lookups_failed"] > 1 else None) == 2
    assert calls == ["bad.example", "bad.example"]


def test_no_answer_is_negative_cached(online):
    calls = []
    lookups = online(resolver=lambda d: calls.append(d))
    lookups.creation_date("none.example")
    wait_for(lambda: lookups.notes["lookups_done"] or None)
    assert lookups.creation_date("none.example") is None
    assert calls == ["none.example"]


def test_results_persist_in_redis_for_a_later_run(online):
    server = fakeredis.FakeServer()
    first = online(resolver=lambda d: CREATED, redis_client=fakeredis.FakeRedis(server=server))
    first.creation_date("example.com")
    assert wait_for(lambda: first.creation_date("example.com")) == CREATED
    client = fakeredis.FakeRedis(server=server)
    (key,) = client.keys("flowalerts:cache:rdap:*")
    assert client.ttl(key) > 0

    def must_not_run(domain):
        raise AssertionError("the cached value should have been used")

    second = online(resolver=must_not_run, redis_client=fakeredis.FakeRedis(server=server))
    second.creation_date("example.com")
    assert wait_for(lambda: second.creation_date("example.com")) == CREATED
    assert second.notes["lookups_cached"] == 1 and second.notes["lookups_failed"] == 0


def test_rdns_and_asn(online):
    lookups = online(resolver=lambda d: None, rdns_resolver=lambda ip: "host.example.net",
                     asn_resolver=lambda ip: "AS15169 GOOGLE")
    lookups.rdns("8.8.8.8")
    lookups.asn("8.8.8.8")
    assert wait_for(lambda: lookups.rdns("8.8.8.8")) == "host.example.net"
    assert wait_for(lambda: lookups.asn("8.8.8.8")) == "AS15169 GOOGLE"


def test_asn_off_by_default(online):
    lookups = online(resolver=lambda d: None)
    assert lookups.asn("8.8.8.8") is None
    assert lookups.notes["lookups_started"] == 0


def test_close_does_not_wait_for_hung_lookups():
    release = threading.Event()
    lookups = OnlineLookups(LookupsConfig(max_concurrent=1), resolver=lambda d: release.wait(5))
    lookups.creation_date("hung.example")
    time.sleep(0.02)
    _, took = timed(lookups.close)
    assert took < 0.05
    assert lookups.creation_date("other.example") is None
    release.set()


@pytest.mark.parametrize("bad", ["", "a" * 300, None, 5])
def test_hostile_input(online, bad):
    lookups = online(resolver=lambda d: CREATED)
    assert lookups.creation_date(bad) is None


def test_null_lookups():
    null = NullLookups()
    assert (null.creation_date("example.com"), null.asn("1.1.1.1"), null.rdns("1.1.1.1")) == (None, None, None)
    assert null.notes["lookups_offline"] == 1
    null.close()


@pytest.mark.parametrize(
    ("offline", "enabled", "kind"),
    [(True, True, NullLookups), (False, False, NullLookups), (False, True, OnlineLookups)],
)
def test_make_lookups(offline, enabled, kind):
    lookups = make_lookups(config(lookups={"enabled": enabled}), offline=offline)
    try:
        assert type(lookups) is kind
    finally:
        lookups.close()
