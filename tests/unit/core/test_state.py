"""The state layer: expiring tables, windows and the timer service (issue 12)."""

from __future__ import annotations

import pickle

import pytest

from flowalerts.core.state import FlowTimeTable, State, Timers


def test_table_entries_expire_with_flow_time():
    table: FlowTimeTable[str] = FlowTimeTable("t")
    table.set("a", "x", expires_at=100.0)
    table.set("b", "y", expires_at=500.0)
    table.purge(200.0)
    assert (table.get("a"), table.get("b"), len(table)) == (None, "y", 1)
    table.set("b", "z", expires_at=900.0)  # refreshed: lives on
    table.purge(600.0)
    assert table.get("b") == "z"


def test_table_cap_forgets_the_oldest_insertion():
    table: FlowTimeTable[int] = FlowTimeTable("t", max_entries=2)
    for key in "abc":
        table.set(key, 1, expires_at=1e9)
    assert (sorted(k for k, _ in table.items()), table.evicted) == (["b", "c"], 1)


def test_timers_fire_in_due_order_and_can_be_replaced_or_cancelled():
    timers = Timers()
    timers.schedule("d", "late", 30.0, "L")
    timers.schedule("d", "early", 10.0, "E")
    timers.schedule("d", "gone", 15.0, "G")
    timers.schedule("d", "moved", 5.0, "M1")
    timers.schedule("d", "moved", 20.0, "M2")  # replaces its first schedule
    timers.cancel("d", "gone")
    assert list(timers.pop_due(25.0)) == [("d", "early", "E"), ("d", "moved", "M2")]
    assert list(timers.pop_due(float("inf"))) == [("d", "late", "L")]
    assert len(timers) == 0


def test_timer_service_is_bounded():
    timers = Timers(max_timers=2)
    timers.schedule("d", 1, 10.0)
    timers.schedule("d", 2, 20.0)
    early = timers.schedule("d", 3, 30.0)
    assert early == [("d", 1, None)]
    assert timers.fired_early["d"] == 1 and len(timers) == 2


def test_windows_are_dropped_when_closed():
    state = State()
    state.window("x", "10.0.0.1", 1)["k"] = 1
    state.window("y", "10.0.0.1", 1)["k"] = 2
    state.window("x", "10.0.0.1", 2)["k"] = 3
    state.close_window("10.0.0.1", 1)
    assert state.peek_window("x", "10.0.0.1", 1) is None
    assert state.open_windows() == [("10.0.0.1", 2)]


def test_snapshot_restores_everything():
    state = State()
    state.window("x", "10.0.0.1", 1)["k"] = {1, 2}
    state.table("t").set(("a", 1), [1.5], 100.0)
    state.timers.schedule("x", "key", 50.0, {"p": 1})
    state.advance(10.0)
    copy = State.restore(state.snapshot())
    assert copy.peek_window("x", "10.0.0.1", 1) == {"k": {1, 2}}
    assert copy.table("t").get(("a", 1)) == [1.5]
    assert list(copy.timers.pop_due(60.0)) == [("x", "key", {"p": 1})]
    assert copy.watermark == 10.0


def _framed(payload: bytes) -> bytes:
    """A checkpoint whose first part is ``payload`` (the format of State.snapshot)."""
    from flowalerts.core.state import _SNAPSHOT_MAGIC

    return _SNAPSHOT_MAGIC + len(payload).to_bytes(8, "little") + payload


def test_restore_refuses_foreign_classes():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError):
        State.restore(_framed(pickle.dumps(Evil())))


@pytest.mark.parametrize("cut", [0, 5, 30, -1])
def test_restore_refuses_what_is_not_a_whole_checkpoint(cut):
    state = State()
    state.table("t").set("k", 1, 100.0)
    blob = state.snapshot()
    with pytest.raises(ValueError):
        State.restore(pickle.dumps(state) if cut == 0 else blob[:cut])


def test_snapshot_keeps_sharing_within_a_part():
    state = State()
    shared = ("198.51.100.7", 443)
    table = state.table("t")
    for i in range(3):
        table.set(("k", i), shared, 100.0)
    copy = State.restore(state.snapshot()).table("t")
    assert copy.get(("k", 0)) is copy.get(("k", 2))


@pytest.mark.parametrize("payload", [
    # A dotted name walks from one of our modules to os.getcwd (protocol 4 allows it).
    b"\x80\x04cflowalerts.hosts.distributed.producer\nos.getcwd\n(tR.",
    # A function of ours, called on load.
    b"\x80\x04cflowalerts.hosts.distributed.streams\nnew_run_id\n(tR.",
])
def test_restore_refuses_attribute_walks_and_functions(payload):
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        State.restore(_framed(payload))


def test_a_capped_table_says_when_an_eviction_may_hide_a_key():
    from flowalerts.core.state import FlowTimeTable

    table = FlowTimeTable("t", max_entries=16)
    assert not table.may_have_evicted(float("-inf"))
    for i in range(16):
        table.set(i, i, expires_at=100.0 + i)
    table.set(16, 16, expires_at=200.0)  # full: the oldest sixteenth (key 0) goes
    assert 0 not in table and table.evicted == 1
    assert table.may_have_evicted(100.0) and not table.may_have_evicted(100.5)


def test_deleted_and_moved_keys_are_listed_until_their_old_expiry_at_most():
    from flowalerts.core.state import FlowTimeTable

    table = FlowTimeTable("t")
    for i in range(1000):
        table.set(("key", i), True, 10_000.0 + i)
        table.delete(("key", i))
    for i in range(100):  # moved to later buckets again and again
        table.set("moving", i, 10_000.0 + 120.0 * i)
    assert len(table) == 1
    table.purge(11_000.0 + 1)
    assert sum(len(bucket) for bucket in table._buckets.values()) <= 100 - 8
    assert table.get("moving") == 99
    table.purge(10_000.0 + 120.0 * 99 + 1)
    assert len(table) == 0 and table._buckets == {}
    table = FlowTimeTable("t")
    table.set("kept", 1, 20_000.0)
    table.delete("absent")
    assert table.get("kept") == 1 and table.expiry("kept") == 20_000.0 and table.expiry("absent") is None


def test_a_snapshot_in_many_chunks_restores_every_table_window_and_timer():
    from flowalerts.core.state import _CHUNK_WEIGHT

    state = State()
    table = state.table("big", max_entries=50_000)
    for i in range(3 * _CHUNK_WEIGHT):
        table.set(("10.0.0.1", f"198.51.{i // 250}.{i % 250}"), complex(i, i + 1), 1000.0 + i)
    nested = state.table("nested")
    nested.set(7, {f"src{i}": {"dst": complex(i, i)} for i in range(2 * _CHUNK_WEIGHT)}, 5000.0)
    for profile in range(50):
        state.window("owner", f"10.0.0.{profile}", 1)["__tallies__"] = {("k", n): n for n in range(200)}
    state.timers.schedule("owner", "key", 50.0, ("payload",))
    state.advance(10.0)
    blob = state.snapshot()
    assert blob.count(b"FLOWALERTS") == 1 and len(blob) > 0
    copy = State.restore(blob)
    assert len(copy.table("big")) == 3 * _CHUNK_WEIGHT and copy.table("big").max_entries == 50_000
    assert copy.table("big").get(("10.0.0.1", "198.51.0.5")) == complex(5, 6)
    assert copy.table("nested").get(7)["src3"] == {"dst": complex(3, 3)}
    assert copy.peek_window("owner", "10.0.0.49", 1)["__tallies__"][("k", 199)] == 199
    assert list(copy.timers.pop_due(60.0)) == [("owner", "key", ("payload",))]
    copy.purge(1000.0 + 2 * _CHUNK_WEIGHT)  # the expiry index came back too
    assert len(copy.table("big")) == _CHUNK_WEIGHT
