from __future__ import annotations

import fakeredis
import msgspec

from flowalerts.state import FlowTimeTable, State, StateMirror


def test_flow_time_table_expires_by_watermark_not_wall_clock():
    table: FlowTimeTable[str] = FlowTimeTable("t")
    table.set("a", "x", expires_at=1000.0)
    table.set("b", "y", expires_at=5000.0)
    assert table.get("a") == "x"
    table.purge(1000.0)
    assert table.get("a") == "x"  # expiry is inclusive
    table.purge(1000.5)
    assert table.get("a") is None and table.get("b") == "y"
    assert len(table) == 1


def test_reset_expiry_survives_purge_of_old_bucket():
    table: FlowTimeTable[int] = FlowTimeTable("t")
    table.set("k", 1, expires_at=100.0)
    table.set("k", 2, expires_at=10_000.0)
    table.purge(5_000.0)
    assert table.get("k") == 2


def test_windows_are_dropped_when_closed():
    state = State()
    state.window("counts", "10.0.0.1", 1)["x"] = 1
    state.window("other", "10.0.0.1", 1)["y"] = 2
    state.window("counts", "10.0.0.1", 2)["x"] = 3
    state.close_window("10.0.0.1", 1)
    assert state.peek_window("counts", "10.0.0.1", 1) is None
    assert state.peek_window("other", "10.0.0.1", 1) is None
    assert state.peek_window("counts", "10.0.0.1", 2) == {"x": 3}
    assert state.size()["windows"] == 1


def test_mirror_writes_behind_and_deletes_closed_windows():
    client = fakeredis.FakeRedis()
    state = State(mirror=StateMirror(client, "fa:test"))
    state.window("counts", "10.0.0.1", 1)["ports"] = {80, 443}
    state.table("facts").set("evil\n:key*", {"a": 1}, expires_at=50.0)
    state.flush()
    stored = client.hget("fa:test:state:window:10.0.0.1:1", "counts")
    assert msgspec.msgpack.decode(stored) == {"ports": [80, 443]}
    # Traffic strings are hash fields, never part of a key name.
    assert sorted(client.keys("fa:test:*")) == [b"fa:test:state:table:facts", b"fa:test:state:window:10.0.0.1:1"]
    state.close_window("10.0.0.1", 1)
    state.advance(100.0)
    state.flush()
    assert client.exists("fa:test:state:window:10.0.0.1:1") == 0
    assert client.hlen("fa:test:state:table:facts") == 0
