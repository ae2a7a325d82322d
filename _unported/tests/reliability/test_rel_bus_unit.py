"""bus.py transport robustness, without a server: retries, idempotent XADD,
duplicate suppression, vanished streams and the one-line error at the CLI."""

from __future__ import annotations

import fakeredis
import pytest
import redis

from flowalerts import bus as bus_module
from flowalerts.bus import BusError, Topic
from flowalerts.cli import main


class Flaky:
    """Fails the first ``failures`` calls of ``method`` with ConnectionError."""

    def __init__(self, client, method: str, failures: int, after_success: bool = False) -> None:
        self._client, self._method, self._failures, self._after = client, method, failures, after_success

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name != self._method:
            return attr

        def flaky(*args, **kwargs):
            if self._failures > 0:
                self._failures -= 1
                if self._after:  # the command reached Redis, the reply was lost
                    attr(*args, **kwargs)
                raise redis.ConnectionError("connection reset by peer")
            return attr(*args, **kwargs)

        return flaky


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(bus_module, "RECONNECT_SECONDS", 0.5)
    monkeypatch.setattr(bus_module.time, "sleep", lambda s: None)


@pytest.mark.parametrize("after_success", [False, True], ids=["lost-request", "lost-reply"])
def test_retried_xadd_publishes_exactly_once(after_success):
    server = fakeredis.FakeRedis()
    topic = Topic(Flaky(server, "xadd", 2, after_success), "records", "streams", "p", 10)
    topic.publish("k", b"one")
    topic.publish("k", b"two")
    assert topic.reconnects == 1
    assert server.xlen("p:bus:records") == 2
    assert Topic(server, "records", "streams", "p", 10).receive(10) == [("k", b"one"), ("k", b"two")]


def test_a_second_producer_on_a_topic_is_refused_not_silently_merged():
    server = fakeredis.FakeRedis()
    Topic(server, "records", "streams", "p", 10).publish("k", b"a")
    with pytest.raises(BusError, match="another producer"):
        Topic(server, "records", "streams", "p", 10).publish("k", b"b")


def test_lost_xreadgroup_reply_is_recovered_from_the_pending_list():
    server = fakeredis.FakeRedis()
    producer = Topic(server, "records", "streams", "p", 10)
    for i in range(3):
        producer.publish("k", str(i).encode())
    consumer = Topic(Flaky(server, "xreadgroup", 1, after_success=True), "records", "streams", "p", 10)
    assert consumer.receive(10) == [("k", b"0"), ("k", b"1"), ("k", b"2")]
    assert consumer.receive(10) == []
    assert consumer.duplicates_dropped == 0


def test_consumer_drops_an_entry_it_already_received():
    server = fakeredis.FakeRedis()
    producer = Topic(server, "records", "streams", "p", 10)
    consumer = Topic(server, "records", "streams", "p", 10)
    producer.publish("k", b"a")
    assert consumer.receive(10) == [("k", b"a")]
    server.xadd("p:bus:records", {"k": "k", "d": b"a-again"}, id="1-1000")
    server.xadd("p:bus:records", {"k": "k", "d": b"old"}, id="1-1001")
    consumer._last_seq = 1000
    assert consumer.receive(10) == [("k", b"old")]
    assert consumer.duplicates_dropped == 1


def test_vanished_stream_after_reconnect_is_a_bus_error():
    server = fakeredis.FakeRedis()
    topic = Topic(server, "records", "streams", "p", 10)
    server.flushall()  # what a restart without persistence looks like
    flaky = Topic.__new__(Topic)
    flaky.__dict__.update(topic.__dict__)
    flaky.client = Flaky(server, "xadd", 1)
    with pytest.raises(BusError, match="may be lost"):
        flaky.publish("k", b"x")


def test_unreachable_for_too_long_is_a_bus_error():
    server = fakeredis.FakeRedis()
    topic = Topic(server, "records", "streams", "p", 10)
    topic.client = Flaky(server, "xadd", 10**9)
    topic.reconnect_seconds = 0.0
    with pytest.raises(BusError, match="unreachable"):
        topic.publish("k", b"x")


def test_pubsub_connection_error_is_a_bus_error_at_once():
    server = fakeredis.FakeRedis()
    topic = Topic(server, "records", "pubsub", "p", 10)
    topic.client = Flaky(server, "publish", 1)
    with pytest.raises(BusError, match="pub/sub"):
        topic.publish("k", b"x")


def test_close_never_raises():
    server = fakeredis.FakeRedis()
    topic = Topic(server, "records", "streams", "p", 10)
    topic.client = Flaky(server, "delete", 1)
    topic.close()


def test_cli_prints_one_line_and_exits_2_and_cleanup_does_not_mask_it(tmp_path, monkeypatch, capsys, datasets):
    from flowalerts import runner as runner_module

    server = fakeredis.FakeRedis()
    dead = Flaky(server, "xadd", 10**9)
    monkeypatch.setattr(runner_module, "connect", lambda url: dead)
    monkeypatch.setattr(runner_module.StateMirror, "clear", lambda self: (_ for _ in ()).throw(redis.ConnectionError("dead")))
    code = main(["run", "-f", str(datasets / "test14-malicious-zeek-dir"), "-o", str(tmp_path), "--offline", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("flowalerts: error:")] == [
        "flowalerts: error: Redis unreachable for 0s (connection reset by peer): stopping, outputs are incomplete"
    ]
